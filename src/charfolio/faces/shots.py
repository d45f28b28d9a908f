"""Shot type (close-up, medium, full body, wide) from the main face box and where it sits.

A shot type says how much of the figure the frame holds, so it is measured in head heights:

- head height = face box height x `head_per_face_box` (1.5). Detectors box the face from the
  brows to the chin; the eye line sits at the middle of the head (Loomis' proportions), so the
  box is about 2/3 of the head. Measured on scikit-image's astronaut: dlib's box (76-166,
  90 px) against a crown-to-chin height of about 135 px gives 1.5;
- frame height in heads = 1 / (face_height_fraction x head_per_face_box);
- an adult figure is about 7.5 heads tall (8 in the idealised canon).

Shot types by the frame height in heads (the upper bounds are `ShotRules` fields):

- close_up: at most 2.5 heads (head and shoulders to chest up); face >= 0.267 of the frame;
- medium: at most 5 heads (waist or mid-thigh up, the "cowboy shot"); face >= 0.133;
- full_body: at most 12.5 heads, i.e. a 7.5-head figure fills at least 60% of the frame
  height, the `min_character_height_ratio` 0.6 the method document gives full-body shots;
  face >= 0.053;
- wide: more than 12.5 heads: the figure is small in its surroundings.

Position: a small face does not make a full-body shot when the frame cuts the body. A
standing figure's knees are about 5 heads below the face centre and its feet about 7, so
a full_body by size whose frame holds fewer than `full_body_min_room_heads` (5) heads below
the face centre shows the figure cut above the knees: it is a medium shot. Wide shots stay
wide however the body is cut: the figure is small whatever part of it shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

CLOSE_UP = "close_up"
MEDIUM = "medium"
FULL_BODY = "full_body"
WIDE = "wide"
SHOT_TYPES = (CLOSE_UP, MEDIUM, FULL_BODY, WIDE)  # tightest first
UNKNOWN = "unknown"  # no face to measure

# How captions and prompts name each framing (Stable Diffusion's usual tags).
SHOT_PHRASES: Mapping[str, str] = {
    CLOSE_UP: "close-up portrait",
    MEDIUM: "upper body",
    FULL_BODY: "full body",
    WIDE: "wide shot",
}


@dataclass(frozen=True)
class ShotRules:
    head_per_face_box: float = 1.5
    close_up_max_heads: float = 2.5
    medium_max_heads: float = 5.0
    full_body_max_heads: float = 12.5
    full_body_min_room_heads: float = 5.0

    def __post_init__(self) -> None:
        bounds = (self.close_up_max_heads, self.medium_max_heads, self.full_body_max_heads)
        if self.head_per_face_box <= 0 or not 0 < bounds[0] < bounds[1] < bounds[2]:
            raise ValueError(
                f"balance shot rules need head_per_face_box > 0 and 0 < close_up_max_heads < "
                f"medium_max_heads < full_body_max_heads, got {self}; fix balance.shots in config"
            )

    @classmethod
    def from_config(cls, values: Mapping[str, Any] | None) -> ShotRules:
        known = {f.name for f in fields(cls)}
        unknown = set(values or {}) - known
        if unknown:
            raise ValueError(f"unknown balance.shots keys {sorted(unknown)}; use {sorted(known)}")
        return cls(**{k: float(v) for k, v in (values or {}).items()})

    def min_face_fraction(self, shot: str) -> float:
        """The smallest face height / image height of `shot` (0 for wide)."""
        heads = {
            CLOSE_UP: self.close_up_max_heads,
            MEDIUM: self.medium_max_heads,
            FULL_BODY: self.full_body_max_heads,
        }
        if shot == WIDE:
            return 0.0
        return 1.0 / (heads[shot] * self.head_per_face_box)


@dataclass(frozen=True)
class Framing:
    """Where the main face sits: its size and centre as fractions of the frame."""

    face_height_fraction: float  # face box height / image height (the whole box, even if cut)
    face_centre_x: float  # 0 left .. 1 right
    face_centre_y: float  # 0 top .. 1 bottom
    room_below_heads: float  # frame below the face centre, in head heights


def framing(
    box: Sequence[float], width: int, height: int, rules: ShotRules | None = None
) -> Framing:
    rules = rules or ShotRules()
    x0, y0, x1, y1 = box
    if width <= 0 or height <= 0 or y1 <= y0:
        raise ValueError(f"cannot frame face box {list(box)} in a {width}x{height} image")
    fraction = (y1 - y0) / height
    centre_y = (y0 + y1) / 2 / height
    head = fraction * rules.head_per_face_box  # of the frame height
    return Framing(fraction, (x0 + x1) / 2 / width, centre_y, (1.0 - centre_y) / head)


def classify_shot(frame: Framing, rules: ShotRules | None = None) -> str:
    rules = rules or ShotRules()
    fraction = frame.face_height_fraction
    if fraction >= rules.min_face_fraction(CLOSE_UP):
        return CLOSE_UP
    if fraction >= rules.min_face_fraction(MEDIUM):
        return MEDIUM
    if fraction >= rules.min_face_fraction(FULL_BODY):
        return FULL_BODY if frame.room_below_heads >= rules.full_body_min_room_heads else MEDIUM
    return WIDE


def shot_type(box: Sequence[float], width: int, height: int, rules: ShotRules | None = None) -> str:
    """The shot type of an image whose main face box is `box`."""
    return classify_shot(framing(box, width, height, rules), rules)
