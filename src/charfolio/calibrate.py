"""Derive quality thresholds from images known to be good (the methodology's recalibration).

Thresholds tuned on one model or character misfire on another: sharpness in particular
depends on resolution, lighting and style. Measured on a folder of images a person has
judged good, the 25th percentile is "the worst of good" (the minimum to accept) and the
75th "the best of good"; the minimums go into the config as threshold overrides.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from charfolio.faces.detector import FaceDetector
from charfolio.imaging import read_rgb
from charfolio.progress import Progress
from charfolio.quality import measure

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
PERCENTILES = (10, 25, 50, 75, 90)
# Metric -> the Thresholds field its low percentile sets, and its rounding.
METRICS = {
    "sharpness": ("min_sharpness", 1),
    "contrast": ("min_contrast", 2),
    "face_confidence": ("min_face_confidence", 3),
}


def image_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


def measure_image(path: Path, detector: FaceDetector | None) -> dict[str, Any]:
    """Raw sharpness and contrast (as the quality stage measures them), face confidence."""
    read = read_rgb(path)
    if read.array is None:
        return {"file": str(path), "readable": False, "detail": read.detail}
    sharpness, contrast = measure(read.array)
    row: dict[str, Any] = {
        "file": str(path),
        "readable": True,
        "sharpness": sharpness,
        "contrast": contrast,
    }
    if detector is not None:
        faces = detector.detect(read.array)
        main = max(faces, key=lambda f: f.area, default=None)  # the main face: the largest
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
) -> tuple[dict[str, Any], str]:
    """Measure every image under `folder`; thresholds from the `low` percentile.

    Returns the calibration (distributions, `thresholds` = p`low` minimums, `good` = p`high`
    values) and a YAML snippet that sets the minimums over `preset` at config key `section`.
    """
    if low not in PERCENTILES or high not in PERCENTILES or low >= high:
        raise ValueError(
            f"low and high must be two of {PERCENTILES}, low < high; got {low}, {high}"
        )
    folder = Path(folder)
    files = image_files(folder)
    if not files:
        raise FileNotFoundError(
            f"no images ({', '.join(IMAGE_SUFFIXES)}) under {folder}; "
            f"put the known-good images there"
        )
    progress = Progress(len(files), "calibration", log)
    rows = []
    for path in files:
        rows.append(measure_image(path, detector))
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
    for metric, (field, digits) in METRICS.items():
        values = [r[metric] for r in readable if r.get(metric) is not None]
        if metric == "face_confidence":
            if detector is None:
                continue
            result["n_without_face"] = len(readable) - len(values)
            if not values:
                log(f"no faces found in {folder}; face confidence is not calibrated")
                continue
        stats = distribution(values, digits)
        result[metric] = stats
        result["thresholds"][field] = stats[f"p{low}"]
        result["good"][metric] = stats[f"p{high}"]
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
