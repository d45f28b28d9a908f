"""The method's three scene flags: multi-character, occlusion and complex background.

multi_character: more than one person of note, counted with the faces stage's own rule:
another face whose size (square root of box area) is at least `secondary_face_min_fraction`
(0.35) of the main face's. Smaller faces are background people, as the face gate sees them.

occlusion, the main face partly hidden, for one of two reasons:
- border_cut: its box reaches past the frame by more than `border_margin` (0.05) of the box,
  the faces stage's rule for a face cut by the frame (detectors box the whole face);
- low_confidence: the face is big and sharp, yet the detector is unsure of it: confidence
  below `occlusion_confidence` (0.75). dlib's HOG detector gives clear frontal faces 0.9-0.99
  (0.80 at the least among the demo's 30 clean, sharp faces of 80 px or more). Covering one
  side of the astronaut's face: a fifth of its width 0.82, 22-24% 0.73-0.74, 26% 0.55, 28%
  0.43 (under the detector's 0.5 minimum: no face at all); covering the chin and mouth
  (a tenth of its height) 0.53 (dlib-bin 20.0.1, upsample 1). So the flag catches faces
  about a quarter hidden; more than that and there is no face left to flag.
  Small faces (under `occlusion_min_face_px`, 80 px: dlib's detection window) and blurred
  faces score low without anything in front of them, so the flag also needs the face's
  sharpness (Laplacian variance of the face resized to 80x80 grey) at or above
  `occlusion_min_sharpness` (100: a Gaussian blur of sigma 1 takes the astronaut's face from
  552 to 102, sigma 2 to 26). A face turned away also lowers the score, so the flag reads
  "partly hidden or turned". The confidence cut is calibrated on dlib's confidence mapping;
  another backend's scores spread differently, so calibrate `occlusion_confidence` for it.

complex_background: the frame outside the subject is busy. The subject is two boxes: the
head (the face box widened by half its width each side for ears and hair, from 0.7 of a face
above it, the crown plus hair, to 0.3 below it, the neck) and the body (4 face widths:
shoulders about 3, arms at the sides) from the neck down to the feet (7 heads below the face
centre, or the frame's bottom). On the rest of the image, resized so its short side is
256 px (so the measure does not depend on resolution):
- edge_density: the share of Canny (50/150) edge pixels;
- entropy: Shannon entropy of the grey-level histogram, in bits (0-8).
Complex means edge_density >= 0.05 and entropy >= 5.0. On scikit-image's photos, plain,
gradient and defocused backdrops (Gaussian sigma 3 at 384 px) have an edge density of at
most 0.03 (0.065 for defocused gravel), while scenes (coffee 0.13, camera 0.11, rocket 0.067,
chelsea 0.12) and textures (brick 0.14, grass 0.37) have more; a starfield (hubble 0.08, 4.2
bits) or a silhouette has edges on few grey levels, which the entropy cut leaves simple.
When less than `min_background_fraction` (5%) of the frame is background, the measures are
null and the flag is false: there is no background to speak of.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import cv2
import numpy as np

from charfolio.faces.analyze import FaceRules, border_cut

BORDER_CUT = "border_cut"
LOW_CONFIDENCE = "low_confidence"
SHARPNESS_SIDE = 80  # face resized to this square before its Laplacian variance
ANALYSIS_SIDE = 256  # short side of the image the background is measured on
CANNY_THRESHOLDS = (50, 150)
Box = tuple[float, float, float, float]
# The subject's outline in face boxes (see the module docstring).
HEAD_SIDE_FACES = 0.5
HAIR_FACES = 0.7
NECK_FACES = 0.3
BODY_FACE_WIDTHS = 4.0
FEET_HEADS_BELOW_FACE = 7.0


@dataclass(frozen=True)
class FlagRules:
    secondary_face_min_fraction: float = FaceRules().secondary_face_min_fraction
    border_margin: float = FaceRules().border_margin
    occlusion_confidence: float = 0.75
    occlusion_min_face_px: float = 80.0
    occlusion_min_sharpness: float = 100.0
    edge_density_min: float = 0.05
    entropy_min: float = 5.0
    min_background_fraction: float = 0.05

    @classmethod
    def from_config(cls, values: Mapping[str, Any] | None) -> FlagRules:
        known = {f.name for f in fields(cls)}
        unknown = set(values or {}) - known
        if unknown:
            raise ValueError(f"unknown balance.flags keys {sorted(unknown)}; use {sorted(known)}")
        return cls(**{k: float(v) for k, v in (values or {}).items()})


def _side(box: Sequence[float]) -> float:
    x0, y0, x1, y1 = box
    return math.sqrt(max(0.0, x1 - x0) * max(0.0, y1 - y0))


def count_people(boxes: Sequence[Sequence[float]], rules: FlagRules | None = None) -> int:
    """The main (first, largest) face plus every other face of note."""
    rules = rules or FlagRules()
    if not boxes:
        return 0
    main = _side(boxes[0])
    others = [
        b for b in boxes[1:] if main > 0 and _side(b) / main >= rules.secondary_face_min_fraction
    ]
    return 1 + len(others)


def face_sharpness(rgb: np.ndarray, box: Sequence[float]) -> float | None:
    """Laplacian variance of the in-frame part of the face at 80x80 grey; None if off-frame."""
    height, width = rgb.shape[:2]
    x0, y0 = max(0, math.floor(box[0])), max(0, math.floor(box[1]))
    x1, y1 = min(width, math.ceil(box[2])), min(height, math.ceil(box[3]))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    grey = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    side = (SHARPNESS_SIDE, SHARPNESS_SIDE)
    interpolation = cv2.INTER_AREA if min(grey.shape) >= SHARPNESS_SIDE else cv2.INTER_LINEAR
    grey = cv2.resize(grey, side, interpolation=interpolation)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def occlusion(
    box: Sequence[float],
    confidence: float | None,
    sharpness: float | None,
    width: int,
    height: int,
    rules: FlagRules | None = None,
) -> str | None:
    """Why the main face counts as partly hidden (BORDER_CUT, LOW_CONFIDENCE), or None."""
    rules = rules or FlagRules()
    if border_cut(box, width, height) > rules.border_margin:
        return BORDER_CUT
    if (
        confidence is not None
        and sharpness is not None
        and confidence < rules.occlusion_confidence
        and _side(box) >= rules.occlusion_min_face_px
        and sharpness >= rules.occlusion_min_sharpness
    ):
        return LOW_CONFIDENCE
    return None


def subject_boxes(face: Sequence[float], height: int, head_per_face_box: float) -> list[Box]:
    """The regions the character likely fills: the head with hair, and the body to the feet."""
    x0, y0, x1, y1 = face
    face_w, face_h = x1 - x0, y1 - y0
    centre_x, centre_y = (x0 + x1) / 2, (y0 + y1) / 2
    neck = y1 + NECK_FACES * face_h
    feet = min(float(height), centre_y + FEET_HEADS_BELOW_FACE * head_per_face_box * face_h)
    half = BODY_FACE_WIDTHS * face_w / 2
    head = (
        x0 - HEAD_SIDE_FACES * face_w,
        y0 - HAIR_FACES * face_h,
        x1 + HEAD_SIDE_FACES * face_w,
        neck,
    )
    return [head, (centre_x - half, neck, centre_x + half, max(neck, feet))]


@dataclass(frozen=True)
class Background:
    edge_density: float | None
    entropy: float | None
    fraction: float  # of the frame measured as background


def background(rgb: np.ndarray, subject: Sequence[Box], rules: FlagRules) -> Background:
    """Edge density and grey entropy of the image outside the `subject` boxes."""
    height, width = rgb.shape[:2]
    scale = ANALYSIS_SIDE / min(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    grey = cv2.resize(grey, size, interpolation=interpolation)
    mask = np.ones(grey.shape, bool)
    for box in subject:
        x0, y0, x1, y1 = (round(v * scale) for v in box)
        mask[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = False
    fraction = float(mask.mean())
    if fraction < rules.min_background_fraction:
        return Background(None, None, fraction)
    edges = cv2.Canny(grey, *CANNY_THRESHOLDS) > 0
    counts = np.bincount(grey[mask], minlength=256).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    entropy = float(-(p * np.log2(p)).sum()) + 0.0  # + 0.0: no "-0.0" for a flat image
    return Background(float(edges[mask].mean()), entropy, fraction)


def is_complex(measured: Background, rules: FlagRules | None = None) -> bool:
    rules = rules or FlagRules()
    if measured.edge_density is None or measured.entropy is None:
        return False
    return measured.edge_density >= rules.edge_density_min and measured.entropy >= rules.entropy_min
