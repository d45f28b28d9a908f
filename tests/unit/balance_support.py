"""Synthetic figures with known geometry for the balance tests.

A figure is scikit-image's astronaut face (dlib boxes it at FACE_BOX in the photo) pasted at
a chosen size and place, on a body drawn in 7.5-head proportions (the head 1.5 face boxes
tall), on a plain or busy background. The returned face box is where the pasted FACE_BOX
lands, so tests know the geometry without a detector, and real dlib finds the same face.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image
from skimage import data

from charfolio.core import tables
from charfolio.demo.variation_recipe import FACE_BOX

Box = tuple[float, float, float, float]
# The part of the photo pasted: hair, face and neck around FACE_BOX (175, 76, 265, 166).
_PATCH = (125, 20, 315, 200)


@functools.cache
def _busy(name: str) -> np.ndarray:
    image = getattr(data, name)()
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3])


def background(kind: str, width: int, height: int) -> np.ndarray:
    """plain: a soft studio gradient; coffee/brick/rocket: that scikit-image photo."""
    if kind == "plain":
        t = np.linspace(0.0, 1.0, height)[:, None, None]
        row = np.array([70, 90, 120]) * (1 - t) + np.array([150, 160, 175]) * t
        return np.ascontiguousarray(np.broadcast_to(row, (height, width, 3)).astype(np.uint8))
    return cv2.resize(_busy(kind), (width, height), interpolation=cv2.INTER_AREA)


def paste_face(canvas: np.ndarray, face_px: float, centre: tuple[float, float]) -> Box:
    """Paste the astronaut's face so its box is `face_px` square at `centre`; return the box.

    The patch (hair, face, neck) is blended through a feathered oval, so its outline adds
    no straight edges for the background measure to count.
    """
    scale = face_px / (FACE_BOX[2] - FACE_BOX[0])
    fx, fy = (FACE_BOX[0] + FACE_BOX[2]) / 2, (FACE_BOX[1] + FACE_BOX[3]) / 2
    px0, py0, px1, py1 = _PATCH
    patch = data.astronaut()[py0:py1, px0:px1]
    size = (round((px1 - px0) * scale), round((py1 - py0) * scale))
    patch = cv2.resize(patch, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]]
    oval = ((xx - (size[0] - 1) / 2) / (0.5 * size[0])) ** 2 + (
        (yy - (size[1] - 1) / 2) / (0.5 * size[1])
    ) ** 2 <= 1
    alpha = cv2.GaussianBlur(oval.astype(np.float32), (0, 0), 0.03 * size[0])[..., None]
    left = round(centre[0] - (fx - px0) * scale)
    top = round(centre[1] - (fy - py0) * scale)
    h, w = canvas.shape[:2]
    x0, y0, x1, y1 = max(0, left), max(0, top), min(w, left + size[0]), min(h, top + size[1])
    src = (slice(y0 - top, y1 - top), slice(x0 - left, x1 - left))
    a = alpha[src]
    canvas[y0:y1, x0:x1] = (patch[src] * a + canvas[y0:y1, x0:x1] * (1 - a)).astype(np.uint8)
    half = face_px / 2
    return (centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half)


def draw_body(canvas: np.ndarray, face: Box) -> None:
    """Torso and legs of a 7.5-head figure under the face (clipped by the frame)."""
    x0, y0, x1, y1 = face
    face_w = x1 - x0
    head = 1.5 * (y1 - y0)
    cx = (x0 + x1) / 2
    crown = (y0 + y1) / 2 - 0.65 * head
    torso = (cx - 1.5 * face_w, y1 + 0.15 * head, cx + 1.5 * face_w, crown + 3.6 * head)
    cv2.rectangle(canvas, *_pts(torso), (200, 90, 40), -1)  # an orange suit, as the photo's
    for side in (-1, 1):
        leg = (
            cx + side * 0.9 * face_w - 0.5 * face_w,
            crown + 3.6 * head,
            cx + side * 0.9 * face_w + 0.5 * face_w,
            crown + 7.5 * head,
        )
        cv2.rectangle(canvas, *_pts(leg), (60, 60, 90), -1)


def _pts(box: Box) -> tuple[tuple[int, int], tuple[int, int]]:
    return (round(box[0]), round(box[1])), (round(box[2]), round(box[3]))


def figure(
    width: int,
    height: int,
    face_fraction: float,
    centre: tuple[float, float],
    bg: str = "plain",
    second: tuple[float, float] | None = None,
) -> tuple[np.ndarray, list[Box]]:
    """An image with a figure whose face box is `face_fraction` of the height at `centre`
    (fractions of width and height); `second` adds another same-size face there."""
    canvas = background(bg, width, height).copy()
    face_px = face_fraction * height
    spots = [centre, *([second] if second is not None else [])]
    boxes = []
    for sx, sy in spots:
        c = (sx * width, sy * height)
        half = face_px / 2
        draw_body(canvas, (c[0] - half, c[1] - half, c[0] + half, c[1] + half))
    for sx, sy in spots:
        boxes.append(paste_face(canvas, face_px, (sx * width, sy * height)))
    return canvas, boxes


def cover_side(rgb: np.ndarray, box: Box, fraction: float) -> np.ndarray:
    """A flat skin-coloured occluder over the left `fraction` of the face (a raised hand)."""
    out = rgb.copy()
    x0, y0, x1, y1 = box
    pad = 0.2 * (y1 - y0)
    cv2.rectangle(
        out,
        (round(x0 - pad), round(y0 - pad)),
        (round(x0 + fraction * (x1 - x0)), round(y1 + pad)),
        (200, 160, 140),
        -1,
    )
    return out


def save(root: Path, file: str, rgb: np.ndarray) -> None:
    (root / file).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(root / file)


def faces_row(
    file: str,
    boxes: Sequence[Box],
    width: int,
    height: int,
    confidences: Sequence[float] | None = None,
    verdict: str | None = None,
) -> dict[str, Any]:
    """A FACES row for known boxes (the gate's verdict unless given)."""
    confidences = list(confidences) if confidences is not None else [0.97] * len(boxes)
    if verdict is None:
        verdict = "ok" if len(boxes) == 1 else ("no_face" if not boxes else "multiple_faces")
    return {
        "file": file,
        "face_verdict": verdict,
        "n_faces": len(boxes),
        "boxes": [list(b) for b in boxes],
        "confidences": confidences,
        "face_confidence": confidences[0] if boxes else None,
        "width": width,
        "height": height,
    }


def write_faces(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    tables.write_table(path, rows, tables.FACES)
