"""Images from an existing folder (film frames, photos, another tool's outputs) as a character's
image table, so the curation rules run on any collection exactly as on generated shards.

The folder is linked as results/{character}/source, and `file` paths are relative to the
character's results folder like generated images' are. Each top-level subfolder is one
"seed group" (a scene, a shoot, a source), so selection's seed diversity spreads over them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
from PIL import Image

from charfolio import tables
from charfolio.paths import portable_path

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
SOURCE_LINK = "source"


def find_images(folder: Path) -> list[Path]:
    """Image files under `folder` by suffix, sorted; hidden files and folders are skipped."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [
            Path(dirpath) / name
            for name in filenames
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES
        ]
    return sorted(found)


def _link_source(character_root: Path, folder: Path) -> Path:
    link = character_root / SOURCE_LINK
    character_root.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        if link.is_symlink() and link.resolve() == folder.resolve():
            return link
        if not link.is_symlink():
            raise FileExistsError(
                f"{link} exists and is not a link to an image folder; move it away"
            )
        link.unlink()  # only the link: never the folder it points to
    link.symlink_to(folder.resolve(), target_is_directory=True)
    return link


def _size(path: Path) -> tuple[int, int]:
    """Width and height from the header only (no decode); 0x0 when unreadable."""
    try:
        with Image.open(path) as image:
            return image.size
    except Exception:  # a bad file becomes a row; faces/quality give the reason
        return 0, 0


def ingest_folder(
    folder: str | os.PathLike[str],
    character_name: str,
    character_root: str | os.PathLike[str],
    out_table: str | os.PathLike[str],
    log: Callable[[str], None] = print,
) -> pa.Table:
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"image folder {folder} does not exist; fix image_folder in the character file"
        )
    images = find_images(folder)
    if not images:
        raise FileNotFoundError(
            f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {folder}; point image_folder at a folder of images"
        )
    character_root = Path(character_root)
    link = _link_source(character_root, folder)
    groups = sorted(
        {p.relative_to(folder).parts[0] for p in images if len(p.relative_to(folder).parts) > 1}
    )
    rows = []
    for path in images:
        relative = path.relative_to(folder)
        group = groups.index(relative.parts[0]) + 1 if len(relative.parts) > 1 else 0
        data = path.read_bytes()
        width, height = _size(path)
        rows.append(
            {
                "file": str(Path(SOURCE_LINK) / relative),
                "character": character_name,
                "seed": group,
                "seed_group": group,
                "mode": "ingested",
                "mode_index": len(rows) + 1,
                "variant": 0,
                "generator_seed": 0,
                "prompt": "",
                "negative_prompt": "",
                "backend": "folder",
                "model_id": folder.name,
                "architecture": "none",
                "sampler": "none",
                "sigmas": "none",
                "steps": 0,
                "guidance_scale": 0.0,
                "width": width,
                "height": height,
                "dtype": "none",
                "batch_size": 0,
                "settings_json": json.dumps(
                    {
                        "folder": portable_path(folder.resolve()),
                        "group": relative.parts[0] if group else None,
                    }
                ),
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
                "timestamp": datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(
                    timespec="seconds"
                ),
            }
        )
    log(
        f"ingested {len(rows)} images from {folder} ({max(len(groups), 1)} group(s)), linked as {link}"
    )
    return tables.write_table(out_table, rows, tables.IMAGES)
