"""The balance stage: one BALANCE row per image and a report of the mix against the targets.

Rows come from the faces table (boxes, confidences) and the pixels (face sharpness, the
background measures); images without a face are rows with shot type "unknown" and a reason,
and stay out of the shares, since a character dataset's mix is over images of the character.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from charfolio.balance.flags import (
    FlagRules,
    background,
    count_people,
    face_sharpness,
    is_complex,
    occlusion,
    subject_boxes,
)
from charfolio.balance.targets import FLAGS, OVER, UNDER, Gap, Targets, mix_gaps
from charfolio.core import tables
from charfolio.core.atomic import write_text_atomic
from charfolio.core.imaging import map_images, read_rgb
from charfolio.core.paths import portable_path
from charfolio.core.progress import Progress
from charfolio.faces.analyze import OK
from charfolio.faces.shots import SHOT_TYPES, UNKNOWN, ShotRules, classify_shot, framing

PathLike = str | os.PathLike[str]
REPORT_VERSION = 1
# Flags the faces stage's one-face gate removes before selection (multiple_faces, partial_face).
GATED_FLAGS = ("multi_character", "occlusion")


@dataclass(frozen=True)
class BalanceRules:
    shots: ShotRules = field(default_factory=ShotRules)
    flags: FlagRules = field(default_factory=FlagRules)

    @classmethod
    def from_config(cls, values: Mapping[str, Any] | None) -> BalanceRules:
        """From `{shots: {...}, flags: {...}}` (the config's balance section, other keys ignored)."""
        values = values or {}
        return cls(
            ShotRules.from_config(values.get("shots")), FlagRules.from_config(values.get("flags"))
        )

    def record(self) -> dict[str, Any]:
        return {"shots": asdict(self.shots), "flags": asdict(self.flags)}


def measure(
    rgb: np.ndarray,
    boxes: Sequence[Sequence[float]],
    face_confidence: float | None,
    rules: BalanceRules,
) -> dict[str, Any]:
    """The BALANCE columns of one decoded image whose faces are `boxes` (main first)."""
    height, width = rgb.shape[:2]
    row: dict[str, Any] = {"width": width, "height": height}
    if not boxes:
        measured = background(rgb, [], rules.flags)
        return {
            **row,
            "shot_type": UNKNOWN,
            "multi_character": False,
            "occlusion": False,
            "complex_background": False,
            "edge_density": measured.edge_density,
            "entropy": measured.entropy,
            "background_fraction": measured.fraction,
            "n_people": 0,
            "reason": "no_face",
        }
    main = [float(v) for v in boxes[0]]
    frame = framing(main, width, height, rules.shots)
    sharpness = face_sharpness(rgb, main)
    hidden = occlusion(main, face_confidence, sharpness, width, height, rules.flags)
    people = count_people(boxes, rules.flags)
    subject = subject_boxes(main, height, rules.shots.head_per_face_box)
    measured = background(rgb, subject, rules.flags)
    return {
        **row,
        "shot_type": classify_shot(frame, rules.shots),
        "face_height_fraction": frame.face_height_fraction,
        "face_centre_x": frame.face_centre_x,
        "face_centre_y": frame.face_centre_y,
        "room_below_heads": frame.room_below_heads,
        "face_box": main,
        "face_confidence": face_confidence,
        "face_sharpness": sharpness,
        "n_people": people,
        "multi_character": people > 1,
        "occlusion": hidden is not None,
        "occlusion_reason": hidden,
        "complex_background": is_complex(measured, rules.flags),
        "edge_density": measured.edge_density,
        "entropy": measured.entropy,
        "background_fraction": measured.fraction,
    }


def _unknown(file: str, reason: str, **values: Any) -> dict[str, Any]:
    return {
        "file": file,
        "shot_type": UNKNOWN,
        "multi_character": False,
        "occlusion": False,
        "complex_background": False,
        "reason": reason,
        **values,
    }


def analyze_one(item: tuple[str, str, Mapping[str, Any], BalanceRules]) -> dict[str, Any]:
    """One BALANCE row from an image path and its FACES row (module level: map_images pickles it)."""
    path, file, face, rules = item
    if face["face_verdict"] == "unreadable":
        return _unknown(file, f"unreadable: {face.get('reason_detail')}")
    read = read_rgb(path)
    if not read.ok:
        return _unknown(file, f"unreadable: {read.detail}", width=read.width, height=read.height)
    assert read.array is not None
    if (face.get("width"), face.get("height")) != (read.width, read.height):
        return _unknown(
            file,
            f"stale: {path} is {read.width}x{read.height} but the faces table measured "
            f"{face.get('width')}x{face.get('height')}; rerun the faces rule",
            width=read.width,
            height=read.height,
        )
    row = measure(read.array, face.get("boxes") or [], face.get("face_confidence"), rules)
    return {"file": file, **row}


def manifest_files(path: PathLike) -> list[str]:
    """The `file` column of a tier manifest (tier_{n}/manifest.parquet)."""
    return tables.read_table(path, tables.TIER_MANIFEST).column("file").to_pylist()


def _counts(rows: Sequence[Mapping[str, Any]]) -> tuple[int, Counter[str], Counter[str]]:
    known = [r for r in rows if r["shot_type"] != UNKNOWN]
    shots = Counter(r["shot_type"] for r in known)
    flags = Counter({name: sum(bool(r[name]) for r in known) for name in FLAGS})
    return len(known), shots, flags


def _note(gap: Gap, gated: bool) -> str | None:
    if gap.status == UNDER and gated and gap.name in GATED_FLAGS:
        return (
            "every analysed image passed the faces stage's one-face gate, which rejects "
            "multiple_faces and partial_face images; this share grows only if that gate is "
            "relaxed (faces.secondary_face_min_fraction, faces.border_margin) or such images "
            "are added after it"
        )
    return None


def balance_report(
    rows: Sequence[Mapping[str, Any]],
    targets: Targets,
    rules: BalanceRules,
    gated: bool = False,
) -> dict[str, Any]:
    """The mix of BALANCE rows against `targets`; `gated`: every image passed the face gate."""
    total, shots, flags = _counts(rows)
    gaps = mix_gaps(shots, flags, total, targets)
    unknown = Counter(
        str(r.get("reason") or "").split(":")[0] for r in rows if r["shot_type"] == UNKNOWN
    )

    def section(kind: str) -> dict[str, Any]:
        out = {}
        for g in gaps:
            if g.kind == kind:
                record = g.record()
                note = _note(g, gated)
                if note:
                    record["note"] = note
                out[g.name] = record
        return out

    off = sorted(
        (g for g in gaps if g.status != "within"), key=lambda g: (g.status != UNDER, -g.images)
    )
    untargeted = {n: shots.get(n, 0) for n in SHOT_TYPES if n not in targets.shot_types}
    return {
        "version": REPORT_VERSION,
        "images": len(rows),
        "classified": total,
        "unclassified": dict(sorted(unknown.items())),
        "shot_counts": {n: shots.get(n, 0) for n in SHOT_TYPES},
        "shot_types": section("shot_type"),
        "untargeted_shot_types": untargeted,
        "flags": section("flag"),
        "gaps": [g.message for g in off],
        "needs": {g.name: g.images for g in gaps if g.status == UNDER},
        "excess": {g.name: g.images for g in gaps if g.status == OVER},
        "targets": targets.record(),
        "rules": rules.record(),
    }


def write_balance(path: PathLike, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    return tables.write_table(path, rows, tables.BALANCE)


def write_report(path: PathLike, report: Mapping[str, Any]) -> None:
    write_text_atomic(path, json.dumps(report, indent=2, sort_keys=True) + "\n")


def analyze_balance(
    faces_path: PathLike,
    images_root: PathLike,
    files: Sequence[str] | PathLike | None,
    out_table: PathLike,
    out_report: PathLike,
    targets: Targets | Mapping[str, Any] | None = None,
    rules: BalanceRules | Mapping[str, Any] | None = None,
    workers: int = 1,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Classify and flag images, write the BALANCE table and the report; returns the report.

    `files`: the images to analyse, relative to `images_root` (results/{character}/): a list,
    a tier manifest's path (its `file` column; str or Path), or None for every row of the
    faces table. `targets`: a Targets or `{name: [min, max]}` overrides of the document's.
    """
    targets = targets if isinstance(targets, Targets) else Targets.from_config(targets)
    rules = rules if isinstance(rules, BalanceRules) else BalanceRules.from_config(rules)
    faces = {r["file"]: r for r in tables.read_table(faces_path, tables.FACES).to_pylist()}
    if files is None:
        chosen = list(faces)
    elif isinstance(files, (str, os.PathLike)):
        chosen = manifest_files(files)
    else:
        chosen = list(files)
    missing = [f for f in chosen if f not in faces]
    if missing:
        raise ValueError(
            f"{faces_path} has no row for {missing[0]} (and {len(missing) - 1} more); the faces "
            f"table is older than the images: rerun the faces rule"
        )
    root = Path(images_root)
    items = [(str(root / f), f, faces[f], rules) for f in chosen]
    rows = map_images(analyze_one, items, workers, Progress(len(items), "balance", log))
    write_balance(out_table, rows)
    gated = bool(chosen) and all(faces[f]["face_verdict"] == OK for f in chosen)
    report = balance_report(rows, targets, rules, gated)
    report["source"] = {"faces": portable_path(faces_path), "files": len(chosen)}
    write_report(out_report, report)
    mix = ", ".join(f"{n} {report['shot_counts'][n]}" for n in SHOT_TYPES)
    log(f"balance: {report['classified']} of {len(rows)} images classified: {mix}")
    for message in report["gaps"]:
        log(f"balance gap: {message}")
    return report
