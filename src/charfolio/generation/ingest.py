"""Images from an existing folder (film frames, photos, another tool's outputs) as a character's
image table, so the curation rules run on any collection exactly as on generated shards.

The folder is linked as results/{character}/source, and `file` paths are relative to the
character's results folder like generated images' are. Each top-level subfolder is one
"seed group" (a scene, a shoot, a source), so selection's seed diversity spreads over them.

charfolio.core.folder_listing decides what is a row (every file but hidden ones and sidecars,
and whatever cannot be a file, with its problem). Here each file is opened once, as a
regular file only, and hashed in blocks if it is within `max_bytes`; what cannot be read is
a row with width 0, an empty sha256 and `settings_json.unreadable` = "code: what", and the
stages record it with the reason `unreadable`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
from PIL import Image

from charfolio.core import tables
from charfolio.core.digest import BLOCK
from charfolio.core.folder_listing import Entry, list_folder
from charfolio.core.layout import SOURCE_LINK
from charfolio.core.paths import portable_path
from charfolio.core.regular_file import NotRegularFile, open_regular

# Above any image within quality.max_pixels' default (89.5 MP x 4 channels x 16 bit = 716 MB
# uncompressed); the config key is ingest.max_bytes.
DEFAULT_MAX_BYTES = 1 << 30


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


@dataclass(frozen=True)
class _Read:
    """What ingest learns from a file's bytes: its hash and header size, or why not."""

    sha256: str = ""
    size: int = 0
    width: int = 0
    height: int = 0
    problem: str | None = None


def _header_size(handle: BinaryIO) -> tuple[int, int]:
    """Width and height from the header only (no decode); 0x0 when Pillow cannot tell."""
    try:
        with Image.open(handle) as image:
            return image.size
    except Exception:  # a bad file is a row; faces/quality give the reason
        return 0, 0


def _hash_within(handle: BinaryIO, relative: str, max_bytes: int) -> _Read:
    digest, size = hashlib.sha256(), 0
    # At most max_bytes + 1 bytes, however the file grows while it is read.
    while block := handle.read(min(BLOCK, max_bytes + 1 - size)):
        digest.update(block)
        size += len(block)
        if size > max_bytes:
            return _Read(size=size, problem=_too_large(relative, size, max_bytes))
    handle.seek(0)
    width, height = _header_size(handle)
    return _Read(digest.hexdigest(), size, width, height)


def _too_large(relative: str, size: int, max_bytes: int) -> str:
    return (
        f"too_many_bytes: {relative} is {size:,} bytes or more, above ingest.max_bytes "
        f"({max_bytes:,}); not read"
    )


def _read_entry(folder: Path, entry: Entry, max_bytes: int) -> _Read:
    if entry.problem:
        return _Read(problem=entry.problem)
    try:
        handle = open_regular(folder / entry.relative)
    except NotRegularFile as error:  # replaced since it was listed
        return _Read(problem=f"not_a_file: {entry.relative}: {error.strerror}")
    except OSError as error:
        return _Read(problem=f"os_error: {entry.relative}: {error.strerror or error}")
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size > max_bytes:  # refused from its size, before a byte is read
            return _Read(size=size, problem=_too_large(entry.relative, size, max_bytes))
        return _hash_within(handle, entry.relative, max_bytes)


def _timestamp(mtime_ns: int) -> str:
    return datetime.fromtimestamp(mtime_ns / 1e9, UTC).isoformat(timespec="seconds")


def ingest_folder(
    folder: str | os.PathLike[str],
    character_name: str,
    character_root: str | os.PathLike[str],
    out_table: str | os.PathLike[str],
    log: Callable[[str], None] = print,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> pa.Table:
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"image folder {folder} does not exist; fix image_folder in the character file"
        )
    listing = list_folder(folder)
    log(f"{folder}: {listing.summary()}")
    if not listing.entries:
        raise FileNotFoundError(
            f"no images under {folder} (hidden files and sidecars are skipped); point "
            "image_folder at a folder of images"
        )
    character_root = Path(character_root)
    link = _link_source(character_root, folder)
    groups = sorted({e.relative.split("/")[0] for e in listing.entries if "/" in e.relative})
    rows = []
    problems: Counter[str] = Counter()
    for entry in listing.entries:
        parts = entry.relative.split("/")
        group = groups.index(parts[0]) + 1 if len(parts) > 1 else 0
        read = _read_entry(folder, entry, max_bytes)
        settings: dict[str, str | None] = {
            "folder": portable_path(folder.resolve()),
            "group": parts[0] if group else None,
        }
        if read.problem:
            settings["unreadable"] = read.problem
            problems[read.problem.split(":", 1)[0]] += 1
            log(f"unreadable: {read.problem}")
        rows.append(
            {
                "file": f"{SOURCE_LINK}/{entry.relative}",
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
                "width": read.width,
                "height": read.height,
                "dtype": "none",
                "batch_size": 0,
                "settings_json": json.dumps(settings),
                "sha256": read.sha256,
                "bytes": read.size,
                "timestamp": _timestamp(entry.mtime_ns),
            }
        )
    unreadable = sum(problems.values())
    detail = f" ({', '.join(f'{n} {c}' for c, n in sorted(problems.items()))})" if problems else ""
    log(
        f"ingested {len(rows)} files from {folder} ({max(len(groups), 1)} group(s)): "
        f"{len(rows) - unreadable} readable, {unreadable} unreadable{detail}; linked as {link}"
    )
    return tables.write_table(out_table, rows, tables.IMAGES)
