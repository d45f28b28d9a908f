"""Real portraits that ship inside installed packages, and degraded or mildly edited copies.

The clean set: scikit-image's astronaut (512 px), matplotlib's Grace Hopper (512x600), and
head-and-shoulders crops of the four confidently found faces of insightface's group photo
t1.jpg (about 330x520 each). Degradations are visibly worse copies, each of one kind, with
strengths relative to the photo's size so that they mean the same at any scale. Mild edits
are the same picture, as a near-duplicate is: cropped a little, mirrored, re-encoded,
slightly recoloured.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageFilter

from charfolio.faces.detector import Face, create_face_detector


def _package_file(package: str, *parts: str) -> Path:
    module = __import__(package)
    return Path(module.__file__).parent.joinpath(*parts)


def _rgb(path: Path) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB")))


@functools.cache
def detector():  # type: ignore[no-untyped-def]
    return create_face_detector({"backend": "dlib"})


def main_face(rgb: np.ndarray) -> Face | None:
    return max(detector().detect(rgb), key=lambda f: f.area, default=None)


def face_descriptor(rgb: np.ndarray) -> np.ndarray:
    """The main face's dlib descriptor, as the faces stage records it (the face must be found)."""
    face = main_face(rgb)
    if face is None:
        raise AssertionError("no face found in a photo that has one")
    descriptor = detector().describe(rgb, face).descriptor
    assert descriptor is not None
    return descriptor


@functools.cache
def clean_portraits() -> dict[str, np.ndarray]:
    """name -> RGB array of a sharp, well-exposed single-person photo."""
    photos = {
        "astronaut": _rgb(_package_file("skimage", "data", "astronaut.png")),
        "hopper": _rgb(_package_file("matplotlib", "mpl-data", "sample_data", "grace_hopper.jpg")),
    }
    group = _rgb(_package_file("insightface", "data", "images", "t1.jpg"))
    faces = sorted(detector().detect(group), key=lambda f: f.box[0])
    for i, face in enumerate(f for f in faces if f.confidence >= 0.85):
        x0, y0, x1, y1 = face.box
        side, cx, cy = x1 - x0, (x0 + x1) / 2, (y0 + y1) / 2
        top, bottom = int(max(0, cy - 1.6 * side)), int(min(group.shape[0], cy + 3.2 * side))
        left, right = int(max(0, cx - 2 * side)), int(min(group.shape[1], cx + 2 * side))
        photos[f"group_{i}"] = np.ascontiguousarray(group[top:bottom, left:right])
    return photos


def rescaled(rgb: np.ndarray, factor: float) -> np.ndarray:
    if factor == 1:
        return rgb
    height, width = rgb.shape[:2]
    size = (round(width * factor), round(height * factor))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.LANCZOS))


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def _gaussian_blur(rgb: np.ndarray) -> np.ndarray:
    radius = min(rgb.shape[:2]) / 200  # 2.6 px on a 512 px photo
    return np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(radius)))


def _motion_blur(rgb: np.ndarray) -> np.ndarray:
    length = max(3, int(min(rgb.shape[:2]) / 35)) | 1  # 15 px on a 512 px photo
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1 / length
    return cv2.filter2D(rgb, -1, kernel)


def _thumbnail_blown_up(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    small = Image.fromarray(rgb).resize((width // 6, height // 6), Image.BILINEAR)
    return np.asarray(small.resize((width, height), Image.BICUBIC))


def _levels(rgb: np.ndarray, gain: float, offset: float = 0.0) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)


def _sensor_noise(rgb: np.ndarray) -> np.ndarray:
    noise = np.random.default_rng(7).normal(0, 25, rgb.shape)
    return np.clip(rgb + noise, 0, 255).astype(np.uint8)


# kind -> (the copy, the reason the quality gates must give it)
DEGRADATIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "gaussian_blur": (_gaussian_blur, "low_sharpness"),
    "motion_blur": (_motion_blur, "low_sharpness"),
    "thumbnail_blown_up": (_thumbnail_blown_up, "low_sharpness"),
    "low_contrast": (lambda rgb: _levels(rgb, 0.3, 0.7 * 128), "low_contrast"),
    "sensor_noise": (_sensor_noise, "noisy"),
    "overexposed": (lambda rgb: _levels(rgb, 2.2), "overexposed"),
    "underexposed": (lambda rgb: _levels(rgb, 0.25), "underexposed"),
    "jpeg_q3": (lambda rgb: _jpeg(rgb, 3), "compression_artifacts"),
    "jpeg_q5": (lambda rgb: _jpeg(rgb, 5), "compression_artifacts"),
    "jpeg_q10": (lambda rgb: _jpeg(rgb, 10), "compression_artifacts"),
}


def _crop(rgb: np.ndarray, top: float, bottom: float, left: float, right: float) -> np.ndarray:
    """Cut these fractions of the height (top, bottom) and width (left, right) off."""
    height, width = rgb.shape[:2]
    rows = slice(int(height * top), height - int(height * bottom))
    columns = slice(int(width * left), width - int(width * right))
    return np.ascontiguousarray(rgb[rows, columns])


def _shifted(rgb: np.ndarray, shift: tuple[int, int, int]) -> np.ndarray:
    return np.clip(rgb.astype(np.int16) + np.array(shift, np.int16), 0, 255).astype(np.uint8)


def _mirror(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[:, ::-1])


# kind -> the same picture, mildly edited. The mirror image is kept apart (MIRROR): what an
# embedding makes of it depends on the embedder.
MILD_EDITS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "crop_4pc": lambda rgb: _crop(rgb, 0.04, 0.04, 0.04, 0.04),
    "crop_8pc_corner": lambda rgb: _crop(rgb, 0.08, 0.0, 0.08, 0.0),
    "jpeg_q70": lambda rgb: _jpeg(rgb, 70),
    "warmer": lambda rgb: _shifted(rgb, (10, 0, -10)),
    "brighter": lambda rgb: _shifted(rgb, (12, 12, 12)),
    "crop_warmer_jpeg": lambda rgb: _jpeg(
        _shifted(_crop(rgb, 0.04, 0.04, 0.04, 0.04), (8, 0, -8)), 80
    ),
}
MIRROR: Callable[[np.ndarray], np.ndarray] = _mirror
