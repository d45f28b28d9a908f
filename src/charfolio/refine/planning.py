"""Targeted generation rounds (the method's Strategy B): modifiers aimed at the gaps, and
when to stop.

`targeted_modifiers` writes scenario modifiers that ask for what the mix lacks: ", full body
shot, walking toward the camera on a sunlit town plaza, golden hour light". Each one passes
the project's scenario validator and carries the category `categorize` gives it, so it can
go into a SCENARIOS table like any other scenario. The phrases follow the document's
targeted-extraction profile (full body: "standing", "walking", "full body visible"; medium:
"waist up", "half body"; complex backgrounds: "town", "plaza", "crowded street"; occlusion:
"behind", "partial", "foreground objects").

The round arithmetic is plain: generation runs in rounds and stops once the curated count
reaches the target; the next round is sized from the pass rate seen so far. Everything here
is a pure function except `write_targeted_scenarios`, the one call a rule makes.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import pyarrow as pa

from charfolio.balance.targets import UNDER, Gap, Range
from charfolio.core import tables
from charfolio.scenarios.validation import categorize, normalise, validate_scenario

LIGHTS = (
    "soft morning light",
    "golden hour light",
    "overcast daylight",
    "warm evening light",
    "bright midday sun",
    "cool blue dusk light",
)
_MEDIUM_PLACES = (
    "in a city park",
    "at a flower market stall",
    "in a bright kitchen",
    "on an apartment balcony",
    "in a quiet library aisle",
    "at a rainy bus stop",
)
_FULL_PLACES = (
    "on a sunlit town plaza",
    "on a quiet country road",
    "along a seaside boardwalk",
    "in a train station concourse",
    "on a wide city sidewalk",
    "in a grassy meadow",
)
# aim -> (framings, actions, places); a modifier is ", framing, action place, light".
VOCABULARY: Mapping[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "close_up": (
        ("close-up portrait", "head and shoulders portrait", "tight close-up of the face"),
        (
            "smiling softly",
            "looking over one shoulder",
            "laughing with eyes half closed",
            "gazing past the camera",
            "with a thoughtful expression",
            "glancing at the lens",
        ),
        (
            "by a rain-streaked window",
            "in a quiet cafe",
            "under a shady tree",
            "beside a brick wall",
            "in a softly lit room",
            "on a train platform",
        ),
    ),
    "medium": (
        ("medium shot, upper body", "waist up view", "half body view"),
        (
            "holding a coffee cup",
            "leaning on a railing",
            "reading a paperback",
            "talking on a phone",
            "with arms crossed",
            "adjusting a jacket collar",
        ),
        _MEDIUM_PLACES,
    ),
    "full_body": (
        ("full body shot", "full body visible, head to toe", "full length view"),
        (
            "standing with feet apart",
            "walking toward the camera",
            "leaning against a lamppost",
            "striding forward",
            "standing with hands in pockets",
            "walking away and looking back",
        ),
        _FULL_PLACES,
    ),
    "wide": (
        (
            "wide shot, small figure in the distance",
            "wide angle view from far away",
            "long shot, tiny figure in a vast scene",
        ),
        ("walking alone", "standing still", "hiking slowly", "waiting patiently"),
        (
            "across an open mountain valley",
            "on a vast empty beach",
            "in a huge city square",
            "on a long suspension bridge",
            "in a wide desert landscape",
            "in a snowy field",
        ),
    ),
    "multi_character": (
        ("medium shot", "full body shot", "upper body view"),
        (
            "standing beside a friend",
            "chatting with two friends",
            "walking with a companion",
            "sharing a laugh with a colleague",
            "posing with a group of friends",
        ),
        (*_MEDIUM_PLACES[:3], *_FULL_PLACES[:3]),
    ),
    "complex_background": (
        ("medium shot", "full body shot", "upper body view"),
        ("walking through", "standing in", "waiting in", "looking around"),
        (
            "a crowded street market full of stalls and people",
            "a busy train station hall",
            "a cluttered workshop full of tools",
            "a lively night festival with lanterns",
            "a dense city street with neon signs",
            "a bookshop packed with shelves",
        ),
    ),
    "occlusion": (
        ("medium shot", "full body shot", "upper body view"),
        (
            "partly hidden behind a lamppost",
            "standing behind a low garden wall",
            "half hidden behind a bouquet of flowers",
            "sitting behind a cafe table",
            "partly covered by hanging branches",
            "behind a bicycle in the foreground",
        ),
        (*_MEDIUM_PLACES[:3], *_FULL_PLACES[:3]),
    ),
}


@dataclass(frozen=True)
class TargetedModifier:
    text: str  # ", full body shot, walking ... , golden hour light"
    aim: str  # the shot type or flag it asks for
    category: str  # scenarios.validation.categorize(text)


def gap_needs(gaps: Sequence[Gap]) -> dict[str, int]:
    """aim -> images needed, from the gaps under their minimum."""
    return {g.name: g.images for g in gaps if g.status == UNDER and g.images > 0}


def allocate(needs: Mapping[str, int], n: int) -> dict[str, int]:
    """Split `n` over aims in proportion to their needs (largest remainder, then need order)."""
    if n < 0:
        raise ValueError(f"cannot write {n} modifiers")
    weights = {aim: need for aim, need in needs.items() if need > 0}
    total = sum(weights.values())
    if not weights or n == 0:
        return dict.fromkeys(weights, 0)
    exact = {aim: Fraction(n * w, total) for aim, w in weights.items()}
    quota = {aim: math.floor(q) for aim, q in exact.items()}
    order = sorted(weights, key=lambda a: (-(exact[a] - quota[a]), -weights[a], a))
    for aim in order[: n - sum(quota.values())]:
        quota[aim] += 1
    return quota


def _candidates(aim: str, seed: int) -> list[str]:
    framings, actions, places = VOCABULARY[aim]
    combos = list(itertools.product(framings, actions, places, LIGHTS))
    random.Random(f"{seed}:{aim}").shuffle(combos)  # str seeds hash stably across runs
    return [f", {f}, {a} {p}, {light}" for f, a, p, light in combos]


def targeted_modifiers(
    gaps: Mapping[str, int] | Sequence[Gap],
    n: int,
    seen: set[str] | None = None,
    seed: int = 0,
) -> list[TargetedModifier]:
    """`n` valid scenario modifiers split over the gaps in proportion to the images they need.

    `gaps`: aim -> images needed (a balance report's "needs") or the Gap list; `seen` holds
    `normalise()`d scenarios already in use (not changed). Deterministic in `seed`.
    """
    needs = dict(gaps) if isinstance(gaps, Mapping) else gap_needs(gaps)
    unknown = set(needs) - set(VOCABULARY)
    if unknown:
        raise ValueError(f"no modifiers for {sorted(unknown)}; aims are {sorted(VOCABULARY)}")
    taken = set(seen or ())
    out: list[TargetedModifier] = []
    for aim, count in allocate(needs, n).items():
        made = 0
        for text in _candidates(aim, seed):
            if made == count:
                break
            if validate_scenario(text, taken) is None:
                taken.add(normalise(text))
                out.append(TargetedModifier(text, aim, categorize(text)))
                made += 1
        if made < count:
            raise ValueError(
                f"only {made} distinct {aim} modifiers are left of the {count} asked for; "
                f"ask for fewer per round"
            )
    return out


def modifier_rows(
    modifiers: Sequence[TargetedModifier], start_index: int = 0
) -> list[dict[str, Any]]:
    """SCENARIOS-table rows for the modifiers (accepted, backend "balance")."""
    return [
        {
            "index": start_index + i,
            "text": m.text,
            "category": m.category,
            "backend": "balance",
            "model": f"targeted:{m.aim}",
            "verdict": "accepted",
            "reason": None,
            "attempt": 1,
        }
        for i, m in enumerate(modifiers)
    ]


def should_stop(curated_count: int, target: int) -> bool:
    """True once the curated images reach the target count."""
    if target <= 0:
        raise ValueError(f"the curated target must be at least 1, got {target}")
    return curated_count >= target


def estimate_pass_rate(
    generated: int, curated: int, prior: float = 0.5, prior_images: int = 10
) -> float:
    """Share of generated images that survive curation, pulled toward `prior` while few are seen.

    (curated + prior x prior_images) / (generated + prior_images): a first round of 4 images
    with 0 kept gives 0.36, not 0, which would size the next round at infinity.
    """
    if not 0 <= curated <= generated:
        raise ValueError(f"curated ({curated}) must be between 0 and generated ({generated})")
    if not 0 < prior <= 1 or prior_images < 0:
        raise ValueError(f"need 0 < prior <= 1 and prior_images >= 0, got {prior}, {prior_images}")
    return (
        (curated + prior * prior_images) / (generated + prior_images)
        if generated or prior_images
        else prior
    )


def rounds_needed(target: int, per_round: int, pass_rate: float, curated: int = 0) -> int:
    """Rounds of `per_round` images expected to take `curated` up to `target`."""
    if per_round <= 0 or not 0 < pass_rate <= 1:
        raise ValueError(
            f"need per_round >= 1 and 0 < pass_rate <= 1, got {per_round}, {pass_rate}"
        )
    if should_stop(curated, target):
        return 0
    return math.ceil((target - curated) / (per_round * pass_rate) - 1e-9)


def next_round_size(curated: int, target: int, pass_rate: float, max_per_round: int) -> int:
    """Images to generate next: enough to reach the target at `pass_rate`, at most a round."""
    if max_per_round <= 0 or not 0 < pass_rate <= 1:
        raise ValueError(
            f"need max_per_round >= 1 and 0 < pass_rate <= 1, got {max_per_round}, {pass_rate}"
        )
    if should_stop(curated, target):
        return 0
    return min(max_per_round, math.ceil((target - curated) / pass_rate - 1e-9))


def needs_at_size(
    counts: Mapping[str, int], size: int, ranges: Mapping[str, Range]
) -> dict[str, int]:
    """Images of each kind still missing for a final set of `size` images to meet every minimum."""
    return {
        name: max(0, math.ceil(r.min * size - 1e-9) - counts.get(name, 0))
        for name, r in ranges.items()
    }


def fill_plan(
    counts: Mapping[str, int], total: int, ranges: Mapping[str, Range], max_size: int | None = None
) -> tuple[int, dict[str, int]]:
    """The smallest final size S >= `total` whose every minimum the added images can meet,
    and the images of each kind to add: `needs_at_size(counts, S, ranges)`, which sum to
    S - total exactly (the refinement's curated target).

    `ranges` are kinds that partition the images (shot types): each added image is one kind.
    """
    limit = max_size if max_size is not None else 100 * max(total, 1) + 100
    for size in range(total, limit + 1):
        needs = needs_at_size(counts, size, ranges)
        if sum(needs.values()) <= size - total:
            return size, needs
    raise ValueError(
        f"no final size up to {limit} images meets every shot-type minimum from {total} images; "
        f"lower a minimum in balance.targets"
    )


def write_targeted_scenarios(
    report_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    n: int,
    scenarios_path: str | os.PathLike[str] | None = None,
    seed: int = 0,
) -> pa.Table:
    """A SCENARIOS table of `n` modifiers for a balance report's "needs", repeating none of
    the scenarios in `scenarios_path` and numbered after them (the next round's scenarios)."""
    report = json.loads(Path(report_path).read_text())
    if "needs" not in report:
        raise ValueError(
            f"{report_path} is not a balance report (no 'needs'); rerun analyze_balance"
        )
    seen: set[str] = set()
    start = 0
    if scenarios_path is not None:
        existing = tables.read_table(scenarios_path, tables.SCENARIOS).to_pylist()
        seen = {normalise(r["text"]) for r in existing}
        start = 1 + max((r["index"] for r in existing if r["index"] is not None), default=-1)
    rows = modifier_rows(targeted_modifiers(report["needs"], n, seen, seed), start)
    return tables.write_table(out_path, rows, tables.SCENARIOS)
