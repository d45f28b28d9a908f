"""Quality thresholds (the methodology's three presets) and training tiers, as data."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Thresholds:
    """Minimums and maximums on the QUALITY table's raw measures; None turns a gate off.

    The first five are the methodology's. The others gate defects its score cannot see
    (charfolio.quality.measures). Sizes are in pixels at the working resolution the presets
    were made for (768): thresholds_from_config scales a preset's to the configured one.
    """

    min_sharpness: float  # frame Laplacian variance at the working scale (images without a face)
    min_contrast: float  # frame grey standard deviation
    min_face_confidence: float  # detector confidence, [0, 1]
    min_quality_score: float  # combined score, [0, 1]
    max_contrast: float | None = None  # the methodology rejects > 120 (overexposed); off by default
    min_face_sharpness: float | None = None  # main face re-blur sharpness, [0, 1]
    max_noise: float | None = None  # noise sigma, 0-255 grey
    max_blockiness: float | None = None  # JPEG 8x8 blocking ratio, 1 = none
    max_face_highlights: float | None = None  # share of the face clipped
    max_highlights: float | None = None  # share of the frame clipped
    min_face_brightness: float | None = None  # the face's mean grey, 0-255
    max_face_shadows: float | None = None  # share of the face crushed
    max_shadows: float | None = None  # share of the frame crushed
    min_short_side: float | None = None  # px: the file's short side
    min_face_size: float | None = None  # px: the face's side at the working scale


# Sizes scale with the working resolution; every other field is scale-free.
PIXEL_FIELDS = ("min_short_side", "min_face_size")
PRESET_RESOLUTION = 768


def _preset(
    sharpness: float,
    contrast: float,
    confidence: float,
    score: float,
    *,
    face_sharpness: float,
    noise: float,
    blockiness: float,
    face_highlights: float,
    face_brightness: float,
    face_shadows: float,
    frame_clipped: float,
    short_side: float,
    face_size: float,
) -> Thresholds:
    return Thresholds(
        sharpness, contrast, confidence, score,
        min_face_sharpness=face_sharpness, max_noise=noise, max_blockiness=blockiness,
        max_face_highlights=face_highlights, max_highlights=frame_clipped,
        min_face_brightness=face_brightness, max_face_shadows=face_shadows,
        max_shadows=frame_clipped, min_short_side=short_side, min_face_size=face_size,
    )  # fmt: skip


# Calibrated on real portraits and their degraded copies (tests/unit/test_quality_truth.py):
# sharp, well-exposed photos measure face sharpness 0.40-0.72, noise <= 3, blockiness <= 1.5
# (their own JPEG), face clipped < 0.1%, face brightness >= 129, contrast >= 56; blurred
# copies <= 0.31, noisy ones (sigma 25) 15-16, JPEG quality 10 or lower >= 2.3, overexposed
# faces >= 49% clipped, underexposed ones 34-41 bright, flattened ones contrast <= 23.
# Frame clipping is lenient: a white studio backdrop is a choice, not a defect. Sizes at
# 768 px: balanced accepts up to 2.5x upscaling (short side 307) and a face of 64 px.
# The methodology's frame sharpness (350/280/150) still applies to images without a face;
# its contrast minimums (70/55/40) rejected most soft-lit real portraits (std 45-60), and
# its face confidences (0.95/0.90/0.85) are stricter than dlib's confidence is steady: the
# same clean face measures 0.89-0.98 as the photo is resized from 256 to 2048 px.
PRESETS: dict[str, Thresholds] = {
    "conservative": _preset(
        350.0, 40.0, 0.92, 0.80, face_sharpness=0.42, noise=4.5, blockiness=1.6,
        face_highlights=0.05, face_brightness=70.0, face_shadows=0.15, frame_clipped=0.6,
        short_side=460.0, face_size=96.0,
    ),
    "balanced": _preset(
        280.0, 30.0, 0.85, 0.70, face_sharpness=0.36, noise=6.0, blockiness=1.8,
        face_highlights=0.10, face_brightness=60.0, face_shadows=0.25, frame_clipped=0.75,
        short_side=307.0, face_size=64.0,
    ),
    "aggressive": _preset(
        150.0, 25.0, 0.80, 0.60, face_sharpness=0.32, noise=9.0, blockiness=2.1,
        face_highlights=0.20, face_brightness=45.0, face_shadows=0.40, frame_clipped=0.9,
        short_side=192.0, face_size=40.0,
    ),
}  # fmt: skip
DEFAULT_PRESET = "balanced"
METHODOLOGY_MAX_CONTRAST = 120.0


def thresholds_from_config(
    section: Mapping[str, Any], working_resolution: int = PRESET_RESOLUTION
) -> Thresholds:
    """`preset` names the base thresholds; any other key of Thresholds overrides it.

    A preset's pixel sizes are scaled from 768 px to `working_resolution` (quality's
    `working_resolution`); sizes given in `section` are taken as they are.
    """
    preset = section.get("preset", DEFAULT_PRESET)
    if preset not in PRESETS:
        raise ValueError(f"unknown threshold preset {preset!r}; use one of {sorted(PRESETS)}")
    fields = {f.name for f in dataclasses.fields(Thresholds)}
    unknown = set(section) - fields - {"preset"}
    if unknown:
        raise ValueError(
            f"unknown threshold keys {sorted(unknown)}; allowed: preset, {sorted(fields)}"
        )
    base = PRESETS[preset]
    factor = working_resolution / PRESET_RESOLUTION
    scaled = {
        name: None if getattr(base, name) is None else round(getattr(base, name) * factor, 1)
        for name in PIXEL_FIELDS
    }
    overrides = {k: v for k, v in section.items() if k in fields}
    return dataclasses.replace(base, **{**scaled, **overrides})
