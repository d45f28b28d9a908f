"""Which crops move a tier's shot-type mix toward the targets (the method's Strategy A).

Cropping only tightens a shot: a full-body image gives a medium shot or a close-up, a medium
shot a close-up, a wide shot a full-body or medium shot. Each crop is computed from the main
face box: its height puts the face at the target framing's size, the face is centred
horizontally and placed at the framing's height, the crop keeps the parent's aspect ratio and
is shifted to stay inside the image; a crop that would cut the face, come out smaller than
`min_crop_side` or re-classify as another shot type is not made.

Which crops: greedily, the one target shot type whose next image most reduces the distance
of the mix to the ranges (the shares' distances outside [min, max], summed), until no crop
helps or `max_new` is reached; donors go in tier order (best rank first), each parent gives
at most one crop per target and parents not yet used go first. Crops add images, so they
also dilute the other shares; the greedy step only takes a crop when the net effect helps,
and never one that takes its own shot type over its maximum.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from charfolio.balance.targets import Targets, distance
from charfolio.faces.analyze import border_cut
from charfolio.faces.shots import (
    CLOSE_UP,
    FULL_BODY,
    MEDIUM,
    SHOT_TYPES,
    UNKNOWN,
    WIDE,
    ShotRules,
    shot_type,
)

# Target shot type -> the shot types a crop can make it from (only wider ones).
SOURCES: Mapping[str, tuple[str, ...]] = {
    CLOSE_UP: (MEDIUM, FULL_BODY),
    MEDIUM: (FULL_BODY, WIDE),
    FULL_BODY: (WIDE,),
}
# (face height / crop height, face centre height / crop height) per target framing, with the
# head 1.5 face boxes tall and the face centre 0.65 heads below the crown (see shots.py):
# close-up 1.7 heads, crown near the top; medium 3.3 heads, crown 6% down, waist at the bottom;
# full body 9.5 heads, crown 10% down, so a 7.5-head figure fills about 80% of the height.
TARGET_FRAMING: Mapping[str, tuple[float, float]] = {
    CLOSE_UP: (0.40, 0.45),
    MEDIUM: (0.20, 0.25),
    FULL_BODY: (0.07, 0.17),
}
# Half of SD1.5's 512 px training side: a crop blown up more than 2x teaches the LoRA softness.
DEFAULT_MIN_CROP_SIDE = 256


@dataclass(frozen=True)
class CropPlan:
    target: str
    box: tuple[int, int, int, int]  # in the parent's pixels, x1/y1 exclusive
    face_box: tuple[float, float, float, float]  # the main face in the crop's pixels

    @property
    def transform(self) -> str:
        return f"crop_to_{self.target}"


def plan_crop(
    face: Sequence[float],
    width: int,
    height: int,
    target: str,
    rules: ShotRules | None = None,
    min_side: int = DEFAULT_MIN_CROP_SIDE,
) -> CropPlan | str:
    """The crop of a `width`x`height` image that frames `face` as `target`, or why none."""
    rules = rules or ShotRules()
    if target not in TARGET_FRAMING:
        raise ValueError(f"cannot crop to {target!r}; crops make {sorted(TARGET_FRAMING)}")
    if border_cut(face, width, height) > 0:
        return "face_cut"
    x0, y0, x1, y1 = face
    fraction, centre = TARGET_FRAMING[target]
    crop_h = round((y1 - y0) / fraction)
    crop_w = round(crop_h * width / height)
    if crop_h > height or crop_w > width:
        return "too_tight"  # the image is already tighter than the target framing
    if min(crop_w, crop_h) < min_side:
        return "too_small"
    left = min(max(0, round((x0 + x1) / 2 - crop_w / 2)), width - crop_w)
    top = min(max(0, round((y0 + y1) / 2 - centre * crop_h)), height - crop_h)
    inner = (x0 - left, y0 - top, x1 - left, y1 - top)
    if border_cut(inner, crop_w, crop_h) > 0:
        return "face_cut"
    if shot_type(inner, crop_w, crop_h, rules) != target:
        return "misframed"  # shifted to stay inside the image, the face lost its framing
    return CropPlan(target, (left, top, left + crop_w, top + crop_h), inner)


@dataclass(frozen=True)
class Donor:
    """A crop one image can give: the image's BALANCE row and the plan."""

    row: Mapping[str, Any]
    plan: CropPlan


def candidate_crops(
    rows: Sequence[Mapping[str, Any]], rules: ShotRules, min_side: int
) -> tuple[dict[str, list[Donor]], Counter[str]]:
    """Per target, every crop the rows can give (in row order); and why others gave none."""
    donors: dict[str, list[Donor]] = {t: [] for t in SOURCES}
    skipped: Counter[str] = Counter()
    for row in rows:
        for target, sources in SOURCES.items():
            if row["shot_type"] not in sources:
                continue
            if row["multi_character"]:
                skipped["multi_character"] += 1  # a crop could halve the other person
                continue
            plan = plan_crop(row["face_box"], row["width"], row["height"], target, rules, min_side)
            if isinstance(plan, str):
                skipped[plan] += 1
            else:
                donors[target].append(Donor(row, plan))
    return donors, skipped


def choose_crops(
    rows: Sequence[Mapping[str, Any]],
    donors: Mapping[str, Sequence[Donor]],
    targets: Targets,
    max_new: int | None = None,
) -> list[Donor]:
    """The crops to make, greedily, while each one brings the shot-type mix closer to targets."""
    counts = Counter(r["shot_type"] for r in rows if r["shot_type"] != UNKNOWN)
    total = sum(counts.values())
    queues = {t: list(d) for t, d in donors.items()}
    used: set[str] = set()
    chosen: list[Donor] = []
    while max_new is None or len(chosen) < max_new:
        now = distance(counts, total, targets.shot_types)
        best, best_gain = None, 1e-12
        for target in SHOT_TYPES:
            if not queues.get(target):
                continue
            limit = targets.shot_types.get(target)
            if limit is not None and counts[target] + 1 > limit.max * (total + 1) + 1e-9:
                continue  # never push a shot type over its maximum to dilute another
            after = distance(counts + Counter({target: 1}), total + 1, targets.shot_types)
            if now - after > best_gain:
                best, best_gain = target, now - after
        if best is None:
            break
        queue = queues[best]
        pick = next((d for d in queue if d.row["file"] not in used), queue[0])
        queue.remove(pick)
        used.add(pick.row["file"])
        chosen.append(pick)
        counts[best] += 1
        total += 1
    return chosen
