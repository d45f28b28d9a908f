"""The exactly-one-face gate: one FACES row per image with a verdict and raw detections.

Verdicts, checked in this order:

- unreadable: `imaging.read_rgb` refused the file (`reason_detail` says why);
- no_face: no detection at or above the detector's minimum confidence;
- multiple_faces: another face at least `secondary_face_min_fraction` of the main face's
  size (square root of box area, so 0.35 is about 12% of its area). Smaller faces are
  background people too small to confuse a LoRA's identity; they are still listed in
  `boxes` and counted in `n_faces`;
- partial_face: the main face's box extends past the image border by more than
  `border_margin` of the box's width (left/right) or height (top/bottom). Detectors place
  the box where the whole face would be, so a face cut by the frame shows as a box
  reaching outside the image; the margin absorbs a few pixels of box jitter at the edge;
- ok.

The main face is the largest box. Its landmarks and descriptor are recorded whenever there
is one, whatever the verdict, so later stages can audit rejected images too.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from charfolio.core import tables
from charfolio.core.imaging import DEFAULT_MAX_PIXELS, UNREADABLE, read_rgb
from charfolio.core.progress import Progress
from charfolio.faces.detector import Face, FaceDetector, create_face_detector

OK = "ok"
NO_FACE = "no_face"
MULTIPLE_FACES = "multiple_faces"
PARTIAL_FACE = "partial_face"
VERDICTS = (OK, NO_FACE, MULTIPLE_FACES, PARTIAL_FACE, UNREADABLE)


@dataclass(frozen=True)
class FaceRules:
    secondary_face_min_fraction: float = 0.35
    border_margin: float = 0.05

    @classmethod
    def from_config(cls, faces: Mapping[str, Any]) -> FaceRules:
        defaults = cls()
        return cls(
            secondary_face_min_fraction=float(
                faces.get("secondary_face_min_fraction", defaults.secondary_face_min_fraction)
            ),
            border_margin=float(faces.get("border_margin", defaults.border_margin)),
        )


def border_cut(box: Sequence[float], width: int, height: int) -> float:
    """How far the box reaches past the image border, as a fraction of its own size (max side)."""
    x0, y0, x1, y1 = box
    box_w, box_h = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
    return max(
        max(0.0, -x0) / box_w,
        max(0.0, x1 - width) / box_w,
        max(0.0, -y0) / box_h,
        max(0.0, y1 - height) / box_h,
    )


def classify(faces: Sequence[Face], width: int, height: int, rules: FaceRules) -> str:
    """The verdict for faces sorted main (largest) first."""
    if not faces:
        return NO_FACE
    main = faces[0]
    significant = [
        f
        for f in faces[1:]
        if main.area > 0 and math.sqrt(f.area / main.area) >= rules.secondary_face_min_fraction
    ]
    if significant:
        return MULTIPLE_FACES
    if border_cut(main.box, width, height) > rules.border_margin:
        return PARTIAL_FACE
    return OK


def _row(file: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(tables.FACES.names)
    row.update(file=file, **values)
    return row


def analyze_image(
    path: Path, file: str, detector: FaceDetector, rules: FaceRules, max_pixels: int
) -> dict[str, Any]:
    read = read_rgb(path, max_pixels=max_pixels)
    if not read.ok:
        return _row(
            file,
            face_verdict=UNREADABLE,
            width=read.width,
            height=read.height,
            reason_detail=read.detail,
        )
    faces = sorted(detector.detect(read.array), key=lambda f: (-f.area, -f.confidence))
    row = _row(
        file,
        face_verdict=classify(faces, read.width, read.height, rules),
        n_faces=len(faces),
        boxes=[list(f.box) for f in faces],
        confidences=[f.confidence for f in faces],
        width=read.width,
        height=read.height,
    )
    if faces:
        main = detector.describe(read.array, faces[0])
        row["face_confidence"] = main.confidence
        if main.landmarks is not None:
            row["landmarks"] = [list(p) for p in main.landmarks]
        if main.descriptor is not None:
            row["descriptor"] = main.descriptor.tolist()
            row["descriptor_model"] = detector.descriptor_model
    return row


def analyze_faces(
    paths: Sequence[str],
    root: str | os.PathLike[str],
    detector: FaceDetector,
    log: Callable[[str], None] = print,
    *,
    rules: FaceRules | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[dict[str, Any]]:
    """One FACES row per image, in input order; `paths` are relative to `root` and kept as given.

    `detector` is created once by the caller (`create_face_detector`) so its models load
    once per job however many images it sees.
    """
    rules = rules or FaceRules()
    root = Path(root)
    progress = Progress(len(paths), f"faces ({detector.name})", log)
    rows = []
    for file in paths:
        rows.append(analyze_image(root / file, file, detector, rules, max_pixels))
        progress.advance()
    counts = {v: sum(r["face_verdict"] == v for r in rows) for v in VERDICTS}
    log("faces: " + ", ".join(f"{v} {n}" for v, n in counts.items()))
    return rows


def write_faces(path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    return tables.write_table(path, rows, tables.FACES)


def detect_faces_in_tables(
    image_tables: Sequence[str | os.PathLike[str]],
    root: str | os.PathLike[str],
    faces_cfg: Mapping[str, Any],
    out_path: str | os.PathLike[str],
    *,
    model_cache: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    log: Callable[[str], None] = print,
) -> pa.Table:
    """The faces stage for a character: every image its IMAGES tables list, one detector load."""
    files = tables.image_files(image_tables)
    detector = create_face_detector(faces_cfg, model_cache)
    rows = analyze_faces(
        files, root, detector, log, rules=FaceRules.from_config(faces_cfg), max_pixels=max_pixels
    )
    return write_faces(out_path, rows)
