"""The methodology's component scores and their weighted quality score.

Component scores are 0-100, piecewise linear between the breakpoints below, flat beyond
the ends; the quality score is their weighted mean in [0, 1] (weights 0.5/0.3/0.2). The
sharpness component scores the main face's sharpness where there is a face (see
charfolio.quality.measures), the frame's Laplacian variance at the working scale otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

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

# The face's re-blur sharpness, in [0, 1]. Calibrated on real portraits (tests/unit/
# test_quality_truth.py): sharp ones measure 0.40-0.72 at any size from 0.5x to 2x, visibly
# blurred copies (Gaussian, motion, a thumbnail blown back up) 0.20-0.31. The breakpoints put
# the balanced threshold (0.36) at 50 points and the soft end of sharp photos at 65-80.
FACE_SHARPNESS_POINTS: tuple[tuple[float, float], ...] = (
    (0.0, 0.0),
    (0.25, 10.0),
    (0.36, 50.0),
    (0.45, 80.0),
    (0.6, 100.0),
)

# Detector confidence: > 0.95 -> 100, 0.85..0.95 -> 80..100, linearly down to 0 at 0.
FACE_POINTS: tuple[tuple[float, float], ...] = ((0.0, 0.0), (0.85, 80.0), (0.95, 100.0))

DEFAULT_WEIGHTS: Mapping[str, float] = {"sharpness": 0.5, "contrast": 0.3, "face": 0.2}


def piecewise(value: float, points: Sequence[tuple[float, float]]) -> float:
    xs, ys = zip(*points, strict=True)
    return float(np.interp(value, xs, ys))


def sharpness_score(sharpness: float, face_sharpness: float | None = None) -> float:
    """The face's sharpness where there is one; the frame's Laplacian variance otherwise."""
    if face_sharpness is not None and not math.isnan(face_sharpness):
        return piecewise(face_sharpness, FACE_SHARPNESS_POINTS)
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


# Defects the methodology's three components cannot see, as factors on its score: noise
# and JPEG blocks raise the measured sharpness, clipping raises the contrast, so without
# them a ruined copy could outrank its original. 1.0 where the measure is clean (the
# balanced gates sit at 0.85), 0.5 at a plainly ruined value (tests/unit/test_quality_truth.py).
DEFECT_POINTS: Mapping[str, tuple[tuple[float, float], ...]] = {
    "noise": ((3.0, 1.0), (6.0, 0.85), (15.0, 0.5)),
    "blockiness": ((1.5, 1.0), (1.8, 0.85), (3.0, 0.5)),
    "face_highlights": ((0.02, 1.0), (0.10, 0.85), (0.5, 0.5)),
    "face_brightness": ((40.0, 0.5), (60.0, 0.85), (80.0, 1.0)),
}


def defect_factor(measures: Mapping[str, float | None]) -> float:
    """Product of the defect factors in [0.5^4, 1]; a measure that is absent counts as clean."""
    factor = 1.0
    for name, points in DEFECT_POINTS.items():
        value = measures.get(name)
        if value is not None and not math.isnan(value):
            factor *= piecewise(value, points)
    return factor


def quality_score(
    sharpness_pts: float,
    contrast_pts: float,
    face_pts: float,
    weights: Mapping[str, float] = DEFAULT_WEIGHTS,
    defects: float = 1.0,
) -> float:
    """Weighted mean of the 0-100 component scores, as a fraction in [0, 1], times `defects`."""
    total = (
        weights["sharpness"] * sharpness_pts
        + weights["contrast"] * contrast_pts
        + weights["face"] * face_pts
    )
    return total / 100.0 * defects
