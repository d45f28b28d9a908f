"""Quality thresholds (the methodology's three presets) and training tiers, as data."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Thresholds:
    min_sharpness: float  # raw Laplacian variance
    min_contrast: float  # raw grey standard deviation
    min_face_confidence: float  # detector confidence, [0, 1]
    min_quality_score: float  # combined score, [0, 1]
    max_contrast: float | None = None  # the methodology rejects > 120 (overexposed); off by default


PRESETS: dict[str, Thresholds] = {
    "conservative": Thresholds(350.0, 70.0, 0.95, 0.88),
    "balanced": Thresholds(280.0, 55.0, 0.90, 0.85),
    "aggressive": Thresholds(150.0, 40.0, 0.85, 0.75),
}
DEFAULT_PRESET = "balanced"
METHODOLOGY_MAX_CONTRAST = 120.0

# Tier size -> minimum quality score (None: no floor). Floors may only fall as tiers grow,
# which is what lets every tier contain the smaller ones.
DEFAULT_TIERS: dict[int, float | None] = {20: 0.92, 70: 0.85, 100: 0.78, 200: 0.70, 300: None}


def thresholds_from_config(section: Mapping[str, Any]) -> Thresholds:
    """`preset` names the base thresholds; any other key of Thresholds overrides it."""
    preset = section.get("preset", DEFAULT_PRESET)
    if preset not in PRESETS:
        raise ValueError(f"unknown threshold preset {preset!r}; use one of {sorted(PRESETS)}")
    fields = {f.name for f in dataclasses.fields(Thresholds)}
    unknown = set(section) - fields - {"preset"}
    if unknown:
        raise ValueError(
            f"unknown threshold keys {sorted(unknown)}; allowed: preset, {sorted(fields)}"
        )
    overrides = {k: v for k, v in section.items() if k in fields}
    return dataclasses.replace(PRESETS[preset], **overrides)


def tier_name(n: int) -> str:
    return f"tier_{n}"


def check_tiers(tiers: Mapping[int, float | None]) -> list[tuple[int, float | None]]:
    """Tiers sorted by size, checked to have positive sizes and floors that never rise."""
    ordered = sorted((int(n), floor) for n, floor in tiers.items())
    previous: float | None = None
    for n, floor in ordered:
        if n < 1:
            raise ValueError(f"tier size must be positive, got {n}")
        if floor is not None and not 0.0 <= floor <= 1.0:
            raise ValueError(f"tier {n} floor {floor} is outside [0, 1]")
        low = float("-inf") if floor is None else floor
        if previous is not None and low > previous:
            raise ValueError(
                f"tier {n} has floor {floor}, above a smaller tier's {previous}; floors must not "
                f"rise with tier size, or larger tiers could not contain the smaller ones"
            )
        previous = low
    return ordered
