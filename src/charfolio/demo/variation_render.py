"""Drawing a variation recipe: the astronaut photo, reframed, relit and degraded as told.

The photos are decoded once per process (functools.cache); everything else is a pure
function of the recipe, so the same recipe gives the same bytes in any process.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
from PIL import Image
from skimage import data

from charfolio.demo.variation_recipe import (
    FACE_BOX,
    NAME_TAG_BOX,
    PATCH_CIRCLE,
    SecondFace,
    VariationRecipe,
)

# Backgrounds that are grey photos get a tint; a lawn is defocused as behind a subject.
_GREY_TINTS = {"moon": (0.9, 0.92, 1.0), "grass": (0.8, 1.0, 0.6), "brick": (1.0, 0.75, 0.6)}
_DEFOCUS = {"grass": 3.0}  # Gaussian sigma in pixels of a 384 px image


@functools.cache
def reference_photo() -> np.ndarray:
    """The astronaut with the false faces painted over (see PATCH_CIRCLE)."""
    photo = np.ascontiguousarray(data.astronaut())
    mask = np.zeros(photo.shape[:2], np.uint8)
    cv2.circle(mask, PATCH_CIRCLE[:2], PATCH_CIRCLE[2], 255, -1)
    cv2.rectangle(mask, NAME_TAG_BOX[:2], NAME_TAG_BOX[2:], 255, -1)
    ref = cv2.inpaint(photo, mask, 9, cv2.INPAINT_TELEA)
    ref.flags.writeable = False
    return ref


@functools.cache
def face_patch() -> tuple[np.ndarray, np.ndarray]:
    """The face with hair and neck, and a feathered oval alpha, for pasting a second face."""
    left, top, right, bottom = FACE_BOX
    margin = 0.45 * (right - left)
    x0, y0 = int(left - margin), int(top - margin)
    x1, y1 = int(right + margin), int(bottom + margin)
    patch = reference_photo()[y0:y1, x0:x1]
    h, w = patch.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    oval = ((xx - (w - 1) / 2) / (0.46 * w)) ** 2 + ((yy - (h - 1) / 2) / (0.5 * h)) ** 2 <= 1
    alpha = cv2.GaussianBlur(oval.astype(np.float32), (0, 0), 0.04 * w)
    return patch, alpha


@functools.cache
def background_photo(name: str) -> np.ndarray:
    image = getattr(data, name)()
    if image.ndim == 2:
        image = (image[..., None] * np.asarray(_GREY_TINTS[name])).astype(np.uint8)
    return np.ascontiguousarray(image[..., :3])


def _draw_background(recipe: VariationRecipe) -> np.ndarray:
    width, height = recipe.width, recipe.height
    if recipe.background == "studio":
        top, bottom = (np.asarray(c, np.float32) for c in recipe.studio_colors)
        t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
        row = (top * (1 - t) + bottom * t).astype(np.uint8)
        return np.ascontiguousarray(np.broadcast_to(row, (height, width, 3)))
    source = background_photo(recipe.background)
    sh, sw = source.shape[:2]
    fx, fy, size = recipe.background_crop
    fit = min(sw / width, sh / height)  # largest crop with the output's aspect ratio
    cw, ch = max(1, int(width * fit * size)), max(1, int(height * fit * size))
    x, y = int(fx * (sw - cw)), int(fy * (sh - ch))
    crop = source[y : y + ch, x : x + cw]
    interpolation = cv2.INTER_AREA if cw > width else cv2.INTER_LINEAR
    backdrop = cv2.resize(crop, (width, height), interpolation=interpolation)
    if recipe.background in _DEFOCUS:
        sigma = _DEFOCUS[recipe.background] * min(width, height) / 384
        backdrop = cv2.GaussianBlur(backdrop, (0, 0), sigma)
    return backdrop


def _paste_face(canvas: np.ndarray, face: SecondFace) -> None:
    patch, alpha = face_patch()
    span = patch.shape[1] / (FACE_BOX[2] - FACE_BOX[0])  # patch width in face widths
    side = max(2, round(face.size * span))
    patch = cv2.resize(patch, (side, side), interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(alpha, (side, side), interpolation=cv2.INTER_AREA)[..., None]
    if face.flip:
        patch, alpha = patch[:, ::-1], alpha[:, ::-1]
    x0, y0 = round(face.center_x - side / 2), round(face.center_y - side / 2)
    h, w = canvas.shape[:2]
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(w, x0 + side), min(h, y0 + side)
    if cx0 >= cx1 or cy0 >= cy1:
        return
    src = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
    dst = canvas[cy0:cy1, cx0:cx1]
    a = alpha[src]
    dst[:] = (patch[src] * a + dst * (1 - a)).astype(np.uint8)


def _tone_lut(recipe: VariationRecipe, pivot: float) -> np.ndarray:
    """Gain, gamma, colour temperature and contrast folded into one per-channel table."""
    x = np.linspace(0.0, 1.0, 256)
    channel_gain = np.array([1 + 0.12 * recipe.warmth, 1.0, 1 - 0.12 * recipe.warmth])
    y = (x[:, None] ** recipe.gamma) * recipe.gain * channel_gain
    y = (y - pivot) * recipe.contrast + pivot
    return np.clip(y * 255 + 0.5, 0, 255).astype(np.uint8).reshape(256, 1, 3)


def render_recipe(recipe: VariationRecipe) -> Image.Image:
    """Apply a recipe: geometry, second face, sharpening, colour, blur, noise, then the flip."""
    width, height = recipe.width, recipe.height
    canvas = _draw_background(recipe)
    matrix = np.array(
        [[recipe.scale, 0, recipe.offset_x], [0, recipe.scale, recipe.offset_y]], dtype=np.float32
    )
    interpolation = cv2.INTER_AREA if recipe.scale < 1 else cv2.INTER_LINEAR
    cv2.warpAffine(
        reference_photo(),
        matrix,
        (width, height),
        dst=canvas,
        flags=interpolation,
        borderMode=cv2.BORDER_TRANSPARENT,
    )
    if recipe.second_face is not None:
        _paste_face(canvas, recipe.second_face)
    if recipe.sharpen > 0:
        soft = cv2.GaussianBlur(canvas, (0, 0), max(width, height) / 384)
        canvas = cv2.addWeighted(canvas, 1 + recipe.sharpen, soft, -recipe.sharpen, 0)
    if recipe.saturation != 1.0:
        grey = cv2.cvtColor(cv2.cvtColor(canvas, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
        canvas = cv2.addWeighted(canvas, recipe.saturation, grey, 1 - recipe.saturation, 0)
    pivot = float(canvas.mean()) / 255
    canvas = cv2.LUT(canvas, _tone_lut(recipe, pivot))
    if recipe.blur_sigma > 0:
        canvas = cv2.GaussianBlur(canvas, (0, 0), recipe.blur_sigma)
    if recipe.noise_sigma > 0:
        noise = np.random.default_rng(recipe.noise_seed).standard_normal(
            (height, width, 1), dtype=np.float32
        )
        canvas = np.clip(canvas + noise * recipe.noise_sigma, 0, 255).astype(np.uint8)
    if recipe.flip:
        canvas = canvas[:, ::-1]
    return Image.fromarray(np.ascontiguousarray(canvas))
