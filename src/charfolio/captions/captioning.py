"""The captions stage for images without a prompt (an ingested folder): one CAPTIONS row each.

Generated images are captioned from their prompt when a tier is built; a folder's images
have none, so a captioner (`captions.create_captioner`: the template, or a local VLM through
transformers or llama.cpp) writes theirs. The shot type comes from the faces table's main
box, so "{shot_type}" needs no second detector. Only images that passed the one-face gate
are captioned (no other image can enter a tier), which keeps a VLM's work to those. Every
caption is linted (`captions.lint.lint_caption`): identity words (hair, eyes, age, ...) that
compete with the trigger token are recorded per row and logged.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from charfolio.captions.lint import lint_caption
from charfolio.captions.registry import CaptionContext, Captioner, create_captioner
from charfolio.core import tables
from charfolio.core.imaging import DEFAULT_MAX_PIXELS, read_rgb
from charfolio.core.progress import Progress
from charfolio.faces.analyze import OK
from charfolio.faces.shots import UNKNOWN, ShotRules, shot_type

PathLike = str | os.PathLike[str]
SHOWN_WARNINGS = 10  # logged in full; the rest are counted


def face_shot(face: Mapping[str, Any], rules: ShotRules) -> str:
    """The shot type from a FACES row's main box, or unknown without a usable one."""
    boxes, width, height = face.get("boxes") or [], face.get("width"), face.get("height")
    if face["face_verdict"] != OK or not boxes or not width or not height:
        return UNKNOWN
    return shot_type(boxes[0], width, height, rules)


def caption_rows(
    image_tables: list[PathLike],
    faces_path: PathLike,
    root: PathLike,
    captioner: Captioner,
    token: str,
    class_word: str,
    shots: ShotRules | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """One CAPTIONS row per image of the IMAGES tables, in table order."""
    shots = shots or ShotRules()
    faces = tables.rows_by_file(
        tables.read_table(faces_path, tables.FACES).to_pylist(), faces_path, "detect_faces"
    )
    images = []
    for path in image_tables:
        images += tables.read_table(path, tables.IMAGES).to_pylist()
    missing = [r["file"] for r in images if r["file"] not in faces]
    if missing:
        raise ValueError(
            f"{faces_path} has no row for {missing[0]} (and {len(missing) - 1} more); the "
            f"faces table is older than the images: rerun the detect_faces rule"
        )
    root = Path(root)
    progress = Progress(len(images), f"captions ({captioner.name})", log)
    rows = []
    for image in images:
        face = faces[image["file"]]
        row: dict[str, Any] = {
            "file": image["file"],
            "caption": None,
            "backend": captioner.name,
            "shot_type": face_shot(face, shots),
            "warnings": [],
            "reason": None,
        }
        read = read_rgb(root / image["file"], max_pixels) if face["face_verdict"] == OK else None
        if read is None:
            row["reason"] = f"face verdict {face['face_verdict']}: never in a tier"
        elif not read.ok:
            row["reason"] = f"unreadable: {read.detail}"
        else:
            assert read.array is not None
            context = CaptionContext(
                token, class_word, None if row["shot_type"] == UNKNOWN else row["shot_type"],
                prompt=image["prompt"], scenario=image.get("scenario"),
            )  # fmt: skip
            row["caption"] = captioner.caption(read.array, context)
            row["warnings"] = [
                {"code": w.code, "category": w.category, "term": w.term, "message": w.message}
                for w in lint_caption(row["caption"], token, class_word)
            ]
        rows.append(row)
        progress.advance()
    return rows


def log_lint(rows: list[dict[str, Any]], log: Callable[[str], None]) -> dict[str, int]:
    """Log the caption lint's findings; returns counts per category (or code)."""
    counts: Counter[str] = Counter()
    shown = 0
    for row in rows:
        for w in row["warnings"]:
            counts[w["category"] or w["code"]] += 1
            if shown < SHOWN_WARNINGS:
                log(f"WARNING caption of {row['file']}: {w['message']}")
                shown += 1
    captioned = sum(1 for r in rows if r["caption"] is not None)
    flagged = sum(1 for r in rows if r["warnings"])
    summary = ", ".join(f"{k} {n}" for k, n in sorted(counts.items())) or "none"
    log(f"captions: {captioned} of {len(rows)} images captioned; {flagged} with lint warnings "
        f"({summary})")  # fmt: skip
    return dict(counts)


def caption_images(
    image_tables: list[PathLike],
    faces_path: PathLike,
    root: PathLike,
    out_table: PathLike,
    captions: Mapping[str, Any],
    token: str,
    class_word: str,
    shots: Mapping[str, Any] | None = None,
    model_cache: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    log: Callable[[str], None] = print,
) -> pa.Table:
    """Caption a character's face-ok images with the configured captioner; lint and log."""
    captioner = create_captioner(captions, model_cache)
    rows = caption_rows(
        image_tables, faces_path, root, captioner, token, class_word,
        ShotRules.from_config(shots), max_pixels, log,
    )  # fmt: skip
    log_lint(rows, log)
    return tables.write_table(out_table, rows, tables.CAPTIONS)
