"""Recommended dataset shares and the gap arithmetic: how far a mix is from them, in images.

The defaults are the "Recommended" column of the method document's dataset-imbalance table
(specs 003, "Root Cause Analysis"):

    | Close-up        | 30-40% |        | Multi-character | 15-20% |
    | Medium shot     | 25-30% |        | Occlusion       | 8-12%  |
    | Full-body       | 25-30% |        | Complex BG      | 20-30% |
    | Far/wide        | 5-10%  |

Shot-type shares partition the images with a face; flag shares are of the same images
and overlap freely.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from charfolio.faces.shots import SHOT_TYPES

FLAGS = ("multi_character", "occlusion", "complex_background")
UNDER, WITHIN, OVER = "under", "within", "over"
SOURCE = "specs/003 (Improving LoRA Quality), Root Cause Analysis, 'Recommended' column"
# The document's "Impact" column: what goes wrong when a share is missing.
IMPACT: Mapping[str, str] = {
    "close_up": "over-optimised for faces",
    "medium": "no mid-range reference",
    "full_body": "poor body consistency",
    "wide": "fails at distance",
    "multi_character": "no context handling",
    "occlusion": "distorts when hidden",
    "complex_background": "background-dependent",
}
_EPS = 1e-9  # shares like 0.3 * 10 must not round up to an extra image


@dataclass(frozen=True)
class Range:
    min: float
    max: float


DOCUMENT_SHOT_TARGETS: Mapping[str, Range] = {
    "close_up": Range(0.30, 0.40),
    "medium": Range(0.25, 0.30),
    "full_body": Range(0.25, 0.30),
    "wide": Range(0.05, 0.10),
}
DOCUMENT_FLAG_TARGETS: Mapping[str, Range] = {
    "multi_character": Range(0.15, 0.20),
    "occlusion": Range(0.08, 0.12),
    "complex_background": Range(0.20, 0.30),
}


@dataclass(frozen=True)
class Targets:
    shot_types: Mapping[str, Range]
    flags: Mapping[str, Range]

    def __post_init__(self) -> None:
        for names, given in ((SHOT_TYPES, self.shot_types), (FLAGS, self.flags)):
            unknown = set(given) - set(names)
            if unknown:
                raise ValueError(f"unknown balance.targets {sorted(unknown)}; use {list(names)}")
        for name, r in {**self.shot_types, **self.flags}.items():
            if not 0.0 <= r.min <= r.max <= 1.0:
                raise ValueError(
                    f"balance.targets.{name}: [{r.min}, {r.max}] is not a range of shares "
                    f"(0 <= min <= max <= 1)"
                )
        low = sum(r.min for r in self.shot_types.values())
        high = sum(r.max for r in self.shot_types.values())
        complete = set(self.shot_types) == set(SHOT_TYPES)
        if low > 1.0 + _EPS or (complete and high < 1.0 - _EPS):
            raise ValueError(
                f"balance.targets: shot-type minimums sum to {low:.0%} and maximums to "
                f"{high:.0%}; no mix fits unless minimums sum to at most 100% and maximums "
                f"to at least 100%"
            )

    @classmethod
    def from_config(cls, values: Mapping[str, Any] | None) -> Targets:
        """Document defaults overridden by `{name: [min, max]}` (shares in [0, 1])."""
        shots, flags = dict(DOCUMENT_SHOT_TARGETS), dict(DOCUMENT_FLAG_TARGETS)
        for name, value in (values or {}).items():
            try:
                low, high = (float(v) for v in value)
            except (TypeError, ValueError):
                raise ValueError(
                    f"balance.targets.{name}: expected [min, max] shares, got {value!r}"
                ) from None
            (shots if name in SHOT_TYPES else flags)[name] = Range(low, high)
        return cls(shots, flags)

    def record(self) -> dict[str, Any]:
        return {
            "source": SOURCE,
            "shot_types": {k: [r.min, r.max] for k, r in self.shot_types.items()},
            "flags": {k: [r.min, r.max] for k, r in self.flags.items()},
        }


DOCUMENT_TARGETS = Targets(DOCUMENT_SHOT_TARGETS, DOCUMENT_FLAG_TARGETS)


def images_to_reach(count: int, total: int, share: float) -> int:
    """Fewest images of a kind to add so `count` of `total` reaches `share`."""
    if share >= 1.0:
        if count < total:
            raise ValueError("a 100% share can only be reached by removing every other image")
        return 0
    return max(0, math.ceil((share * total - count) / (1.0 - share) - _EPS))


def images_to_remove(count: int, total: int, share: float) -> int:
    """Fewest images of a kind to remove so `count` of `total` falls to `share`."""
    if share >= 1.0:
        return 0
    return max(0, math.ceil((count - share * total) / (1.0 - share) - _EPS))


def others_to_add(count: int, total: int, share: float) -> int:
    """Fewest images of other kinds to add so `count` of `total` falls to `share`."""
    if share <= 0.0:
        if count:
            raise ValueError("a 0% share can only be reached by removing these images")
        return 0
    return max(0, math.ceil(count / share - total - _EPS))


@dataclass(frozen=True)
class Gap:
    """One share against its range; `images` to add (under) or to remove (over), else 0."""

    name: str
    kind: str  # shot_type | flag
    count: int
    total: int
    share: float
    min: float
    max: float
    status: str  # under | within | over
    images: int
    others: int  # over: images of other kinds that would dilute it into range instead
    message: str

    def record(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "share": self.share,
            "min": self.min,
            "max": self.max,
            "status": self.status,
            "images": self.images,
            "others": self.others,
            "impact": IMPACT.get(self.name),
            "message": self.message,
        }


def _n(count: int, word: str = "") -> str:
    return f"{count} {word + ' ' if word else ''}image{'' if count == 1 else 's'}"


def gap(name: str, kind: str, count: int, total: int, target: Range) -> Gap:
    share = count / total if total else 0.0
    head = f"{name}: {share:.0%} ({count} of {total} images)"
    if total == 0:
        return Gap(
            name,
            kind,
            0,
            0,
            0.0,
            target.min,
            target.max,
            WITHIN,
            0,
            0,
            f"{name}: no images with a face to measure",
        )
    if share < target.min - _EPS:
        if target.min >= 1.0:  # every image must be of this kind: only removal gets there
            need = total - count
            message = f"{head} against a 100% minimum -> remove the other {_n(need)}"
        else:
            need = images_to_reach(count, total, target.min)
            message = f"{head} against a {target.min:.0%} minimum -> need about {_n(need, 'more')}"
        return Gap(name, kind, count, total, share, target.min, target.max, UNDER, need, 0, message)
    if share > target.max + _EPS:
        cut = images_to_remove(count, total, target.max)
        dilute = others_to_add(count, total, target.max) if target.max > 0 else 0
        message = f"{head} against a {target.max:.0%} maximum -> about {_n(cut, 'fewer')}"
        if dilute:
            message += f", or about {dilute} more of the others"
        return Gap(
            name, kind, count, total, share, target.min, target.max, OVER, cut, dilute, message
        )
    message = f"{head}, within {target.min:.0%}-{target.max:.0%}"
    return Gap(name, kind, count, total, share, target.min, target.max, WITHIN, 0, 0, message)


def mix_gaps(
    shot_counts: Mapping[str, int], flag_counts: Mapping[str, int], total: int, targets: Targets
) -> list[Gap]:
    """Every targeted share, shot types first, in the targets' order."""
    return [
        *(
            gap(n, "shot_type", shot_counts.get(n, 0), total, r)
            for n, r in targets.shot_types.items()
        ),
        *(gap(n, "flag", flag_counts.get(n, 0), total, r) for n, r in targets.flags.items()),
    ]


def distance(counts: Mapping[str, int], total: int, ranges: Mapping[str, Range]) -> float:
    """How far the shares lie outside their ranges, summed (0 when every share fits)."""
    if total == 0:
        return 0.0
    out = 0.0
    for name, r in ranges.items():
        share = counts.get(name, 0) / total
        out += max(0.0, r.min - share) + max(0.0, share - r.max)
    return out
