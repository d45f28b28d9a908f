"""Image quality: raw sharpness and contrast from one decode, and the methodology's scores.

Raw metrics (stored unthresholded, on the image's own resolution):
- sharpness: variance of the Laplacian of the grey image (cv2.Laplacian, CV_64F, the
  3x3 kernel [[0,1,0],[1,-4,1],[0,1,0]]: the methodology's kernel with the sign flipped,
  which leaves the variance unchanged);
- contrast: standard deviation of the grey image (0-255 scale; at most 127.5).

Component scores are 0-100, piecewise linear between the breakpoints below, flat beyond
the ends; the quality score is their weighted mean in [0, 1] (weights 0.5/0.3/0.2).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow as pa

from charfolio import tables
from charfolio.imaging import DEFAULT_MAX_PIXELS, map_images, read_rgb
from charfolio.progress import Progress

# The methodology names very_poor 20, poor 100, good 300, excellent 500 and gives
# 300..500 -> 80..100 and >= 500 -> 100. Below 300 it only says "interpolate": poor..good
# spans 40..80, very_poor..poor 10..40, and anything under very_poor (defocused or blank)
# 0..10, so each named level is a visible step and the curve never decreases.
SHARPNESS_POINTS: tuple[tuple[float, float], ...] = (
    (0.0, 0.0),
    (20.0, 10.0),
    (100.0, 40.0),
    (300.0, 80.0),
    (500.0, 100.0),
)

# The methodology's formula min(100, std / 2.56 * 100) saturates at std 2.56, so every
# 0-255 image except a flat one would score 100. Its contrast table is used instead:
# < 20 extremely flat (0..10), 40 the hard minimum (40), 60 the soft minimum (70), 80-100
# the peak (100), and beyond 120 "extreme, overexposed": down to 0 at 128, just above the
# largest std an 8-bit image can have (127.5, pure black and white halves).
CONTRAST_POINTS: tuple[tuple[float, float], ...] = (
    (0.0, 0.0),
    (20.0, 10.0),
    (40.0, 40.0),
    (60.0, 70.0),
    (80.0, 100.0),
    (100.0, 100.0),
    (120.0, 70.0),
    (128.0, 0.0),
)

# Detector confidence: > 0.95 -> 100, 0.85..0.95 -> 80..100, linearly down to 0 at 0.
FACE_POINTS: tuple[tuple[float, float], ...] = ((0.0, 0.0), (0.85, 80.0), (0.95, 100.0))

DEFAULT_WEIGHTS: Mapping[str, float] = {"sharpness": 0.5, "contrast": 0.3, "face": 0.2}


def piecewise(value: float, points: Sequence[tuple[float, float]]) -> float:
    xs, ys = zip(*points, strict=True)
    return float(np.interp(value, xs, ys))


def sharpness_score(sharpness: float) -> float:
    return piecewise(sharpness, SHARPNESS_POINTS)


def contrast_score(contrast: float) -> float:
    return piecewise(contrast, CONTRAST_POINTS)


def face_score(confidence: float | None) -> float:
    """No face (None) scores 0."""
    if confidence is None or math.isnan(confidence):
        return 0.0
    return piecewise(confidence, FACE_POINTS)


def check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    if set(weights) != set(DEFAULT_WEIGHTS):
        raise ValueError(
            f"quality weights must have exactly the keys {sorted(DEFAULT_WEIGHTS)}, "
            f"got {sorted(weights)}"
        )
    if any(w < 0 for w in weights.values()) or not math.isclose(
        sum(weights.values()), 1.0, abs_tol=1e-6
    ):
        raise ValueError(f"quality weights must be >= 0 and sum to 1, got {dict(weights)}")
    return {k: float(v) for k, v in weights.items()}


def quality_score(
    sharpness_pts: float,
    contrast_pts: float,
    face_pts: float,
    weights: Mapping[str, float] = DEFAULT_WEIGHTS,
) -> float:
    """Weighted mean of the 0-100 component scores, as a fraction in [0, 1]."""
    total = (
        weights["sharpness"] * sharpness_pts
        + weights["contrast"] * contrast_pts
        + weights["face"] * face_pts
    )
    return total / 100.0


def exact_variance(values: np.ndarray) -> float:
    """Population variance of an integer array from exact integer sums.

    Floating-point reductions (cv2.meanStdDev, numpy's var) add in an order that depends on
    OpenCV's thread count and the CPU's SIMD width, so the same image scored in one process
    or in two could differ in the last digit. Integer sums do not: the only rounding is the
    final division, so the value is the same on any machine and any worker count.
    """
    n = values.size
    flat = values.reshape(-1).astype(np.int64)
    total = int(flat.sum())
    total_sq = int(np.dot(flat, flat))
    return (n * total_sq - total * total) / (n * n)


def measure(rgb: np.ndarray) -> tuple[float, float]:
    """(sharpness, contrast) of an HxWx3 uint8 RGB image."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)  # fixed-point in OpenCV: bit-exact everywhere
    # The 3x3 Laplacian of 8-bit grey is an integer in [-1020, 1020]: int16 holds it exactly.
    laplacian = cv2.Laplacian(grey, cv2.CV_16S)
    return exact_variance(laplacian), math.sqrt(exact_variance(grey))


def _measure_file(path: str, max_pixels: int) -> dict[str, Any]:
    read = read_rgb(path, max_pixels=max_pixels)
    if not read.ok:
        return {"detail": read.detail, "width": read.width, "height": read.height}
    sharpness, contrast = measure(read.array)
    return {
        "sharpness": sharpness,
        "contrast": contrast,
        "width": read.width,
        "height": read.height,
    }


def _one_thread() -> None:
    # Each worker is one core; OpenCV's own threads would oversubscribe the job's cores.
    cv2.setNumThreads(1)


def score_images(
    paths: Sequence[str],
    root: str | os.PathLike[str],
    face_confidences: Mapping[str, float | None],
    workers: int,
    log: Callable[[str], None] = print,
    *,
    weights: Mapping[str, float] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[dict[str, Any]]:
    """One QUALITY row per image, in input order; each image decoded once, in `workers` processes.

    `face_confidences` maps a file (as given in `paths`) to its main face's confidence from
    the faces table; a file that is absent or None has no face and gets face score 0.
    """
    weights = check_weights(weights or DEFAULT_WEIGHTS)
    root = Path(root)
    progress = Progress(len(paths), "quality", log)
    work = functools.partial(_measure_file, max_pixels=max_pixels)
    raw = map_images(work, [str(root / p) for p in paths], workers, progress, _one_thread)
    rows = []
    for file, metrics in zip(paths, raw, strict=True):
        confidence = face_confidences.get(file)
        row: dict[str, Any] = dict.fromkeys(tables.QUALITY.names)
        row.update(
            file=file, face_confidence=confidence, width=metrics["width"], height=metrics["height"]
        )
        if "detail" in metrics:
            row.update(readable=False, reason="unreadable", reason_detail=metrics["detail"])
        else:
            s = sharpness_score(metrics["sharpness"])
            c = contrast_score(metrics["contrast"])
            f = face_score(confidence)
            row.update(
                readable=True,
                sharpness=metrics["sharpness"],
                contrast=metrics["contrast"],
                sharpness_score=s,
                contrast_score=c,
                face_score=f,
                quality_score=quality_score(s, c, f, weights),
            )
        rows.append(row)
    return rows


def write_quality(path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    return tables.write_table(path, rows, tables.QUALITY)


def score_quality_of_tables(
    image_tables: Sequence[str | os.PathLike[str]],
    root: str | os.PathLike[str],
    faces_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    weights: Mapping[str, float] | None = None,
    workers: int = 1,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    log: Callable[[str], None] = print,
) -> pa.Table:
    """The quality stage for a character: raw metrics, component scores and weighted score."""
    faces = tables.read_table(faces_path, tables.FACES).select(["file", "face_confidence"])
    confidences = dict(
        zip(faces["file"].to_pylist(), faces["face_confidence"].to_pylist(), strict=True)
    )
    rows = score_images(
        tables.image_files(image_tables), root, confidences, workers, log,
        weights=weights, max_pixels=max_pixels,
    )  # fmt: skip
    return write_quality(out_path, rows)
