"""Derive quality thresholds from images known to be good (the methodology's recalibration).

Thresholds tuned on one model or character misfire on another. Every image in a folder a
person has judged good is measured as the quality stage measures it (the same working
resolution, the main face found by the detector when one is given). For a minimum gate the
`low` percentile is "the worst of good" (the minimum to accept) and the `high` percentile
"the best of good"; for a maximum gate (noise, blocking, clipping) the mirror percentiles.
Every gate a measure can set goes into the config as a threshold override.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from charfolio.core.folder_listing import list_folder
from charfolio.core.imaging import read_rgb
from charfolio.core.progress import Progress
from charfolio.faces.detector import FaceDetector
from charfolio.quality import DEFAULT_WORKING_RESOLUTION
from charfolio.quality import measure_image as measure_image_raw

PERCENTILES = (10, 25, 50, 75, 90)
# Measure -> (the Thresholds field it sets, "min" or "max" gate, rounding). Face measures
# are calibrated only with a detector (without one there is no main face to measure).
METRICS: dict[str, tuple[str, str, int]] = {
    "sharpness": ("min_sharpness", "min", 1),
    "contrast": ("min_contrast", "min", 2),
    "noise": ("max_noise", "max", 2),
    "blockiness": ("max_blockiness", "max", 3),
    "highlights": ("max_highlights", "max", 4),
    "shadows": ("max_shadows", "max", 4),
    "short_side": ("min_short_side", "min", 0),
    "face_confidence": ("min_face_confidence", "min", 3),
    "face_sharpness": ("min_face_sharpness", "min", 3),
    "face_brightness": ("min_face_brightness", "min", 1),
    "face_highlights": ("max_face_highlights", "max", 4),
    "face_shadows": ("max_face_shadows", "max", 4),
    "face_size": ("min_face_size", "min", 0),
}
FACE_METRICS = frozenset(m for m in METRICS if m.startswith("face_"))


def image_files(folder: Path) -> list[Path]:
    """The files ingest would curate (charfolio.core.folder_listing: one bounded walk, no loops);
    what cannot be read is measured as unreadable and skipped with its reason."""
    return [folder / entry.relative for entry in list_folder(folder).entries]


def measure_image(
    path: Path,
    detector: FaceDetector | None,
    working_resolution: int = DEFAULT_WORKING_RESOLUTION,
) -> dict[str, Any]:
    """The quality stage's raw measures of one image, with its main face's when detected."""
    read = read_rgb(path)
    if read.array is None:
        return {"file": str(path), "readable": False, "detail": read.detail}
    main = None
    if detector is not None:
        main = max(detector.detect(read.array), key=lambda f: f.area, default=None)
    measures = measure_image_raw(read.array, None if main is None else main.box, working_resolution)
    row: dict[str, Any] = {"file": str(path), "readable": True, **measures.as_row()}
    if row["face_size"] is not None:
        row["face_size"] *= row["working_scale"]  # as selection compares it
    if detector is not None:
        row["face_confidence"] = None if main is None else main.confidence
    return row


def distribution(values: Sequence[float], digits: int) -> dict[str, float | int]:
    data = np.asarray(values, dtype=np.float64)
    stats = {f"p{p}": float(np.percentile(data, p)) for p in PERCENTILES}
    stats.update(
        mean=float(data.mean()), std=float(data.std()), min=float(data.min()), max=float(data.max())
    )
    return {"count": int(data.size), **{k: round(v, digits) for k, v in stats.items()}}


def calibrate(
    folder: str | os.PathLike[str],
    detector: FaceDetector | None = None,
    low: int = 25,
    high: int = 75,
    preset: str = "balanced",
    section: Sequence[str] = ("curation", "thresholds"),
    log: Callable[[str], None] = print,
    working_resolution: int = DEFAULT_WORKING_RESOLUTION,
) -> tuple[dict[str, Any], str]:
    """Measure every image under `folder`; thresholds from the `low` (or mirrored) percentile.

    Returns the calibration (distributions, `thresholds` = p`low` minimums and p`100 - low`
    maximums, `good` = p`high` / p`100 - high` values) and a YAML snippet that sets them
    over `preset` at config key `section`. Measure at the config's quality working_resolution.
    """
    if low not in PERCENTILES or high not in PERCENTILES or low >= high:
        raise ValueError(
            f"low and high must be two of {PERCENTILES}, low < high; got {low}, {high}"
        )
    folder = Path(folder)
    files = image_files(folder)
    if not files:
        raise FileNotFoundError(
            f"no images under {folder} (hidden files and sidecars such as .txt are not "
            f"images); put the known-good images there"
        )
    progress = Progress(len(files), "calibration", log)
    rows = []
    for path in files:
        rows.append(measure_image(path, detector, working_resolution))
        progress.advance()
    readable = [r for r in rows if r["readable"]]
    for r in rows:
        if not r["readable"]:
            log(f"skipped {r['file']}: {r['detail']}")
    if not readable:
        raise ValueError(f"none of the {len(files)} images under {folder} could be read")

    result: dict[str, Any] = {
        "source": str(folder),
        "n_images": len(files),
        "n_unreadable": len(files) - len(readable),
        "percentiles": {"minimum": low, "good": high},
        "thresholds": {},
        "good": {},
    }
    if detector is not None:
        with_face = [r for r in readable if r.get("face_confidence") is not None]
        result["n_without_face"] = len(readable) - len(with_face)
        if not with_face:
            log(f"no faces found in {folder}; the face gates are not calibrated")
    for metric, (field, gate, digits) in METRICS.items():
        if metric in FACE_METRICS and detector is None:
            continue
        values = [r[metric] for r in readable if r.get(metric) is not None]
        if not values:
            continue
        stats = distribution(values, digits)
        worst, best = (low, high) if gate == "min" else (100 - low, 100 - high)
        result[metric] = stats
        result["thresholds"][field] = stats[f"p{worst}"]
        result["good"][metric] = stats[f"p{best}"]
    return result, calibration_yaml(result, preset, section)


def calibration_yaml(result: dict[str, Any], preset: str, section: Sequence[str]) -> str:
    node: dict[str, Any] = {"preset": preset, **result["thresholds"]}
    for key in reversed(section):
        node = {key: node}
    p_min, p_good = result["percentiles"]["minimum"], result["percentiles"]["good"]
    good = ", ".join(f"{k} {v}" for k, v in result["good"].items())
    header = (
        f"# Calibrated from {result['n_images'] - result['n_unreadable']} known-good images in "
        f"{result['source']}:\n# minimums are their p{p_min}; good (p{p_good}): {good}\n"
    )
    return header + yaml.safe_dump(node, sort_keys=False)
