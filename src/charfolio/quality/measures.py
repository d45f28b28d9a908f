"""Raw quality measures of one image, taken where they mean the same for any input size.

Frame measures are taken on the grey image scaled down (never up) so that its short side is
the working resolution (the methodology's 768 px by default): the methodology's Laplacian
numbers were set on 768 px generations, and a 1600 px photo measured at its own size has a
variance a tenth of the same photo at 768. Images smaller than the working resolution are
measured as they are; whether they are big enough is the `low_resolution` gate's question.

The face is judged on its own: a soft background is a photographic choice, a soft face a
defect. Its sharpness is a no-reference blur measure (Crete et al. 2007: how much of the
face's local variation survives a re-blur; a sharp face loses much, a blurred one little),
taken per axis so that motion blur along one axis counts, on the face box scaled down to at
most FACE_SIDE px. It is in [0, 1], 1 sharp; unlike a Laplacian variance it does not grow
with the face's contrast or detail, so one threshold serves pale and dark, smooth and
textured faces, and does not change when the face is larger than FACE_SIDE.

Measures of defects the sharpness cannot see:
- noise: sigma of Gaussian noise (0-255 grey) by the robust median estimator on the
  diagonal Haar detail band (Donoho & Johnstone): texture is sparse there, noise is not;
- blockiness: JPEG's 8x8 grid, on the full-resolution grey: mean step across the strongest
  8-px phase of columns (rows) over the median step of the other phases; 1 is none;
- exposure: shares of clipped highlights (>= 250) and crushed shadows (<= 5) on the frame
  and on the face, and the face's mean brightness (a face darkened to 40 rarely clips);
- size: the image's short side and the face box's side (sqrt of its in-frame area), in the
  file's pixels, for the resolution gates.
Every sum is exact (integers), so the values do not depend on thread count or CPU.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import cv2
import numpy as np

DEFAULT_WORKING_RESOLUTION = 768
FACE_SIDE = 160  # the face box is scaled down to at most this side before its blur measure
REBLUR_TAPS = 9  # Crete et al.'s re-blur: a 9-tap box filter along each axis
HIGHLIGHT, SHADOW = 250, 5  # grey levels counted as clipped / crushed
JPEG_BLOCK = 8


@dataclass(frozen=True)
class Measures:
    """The QUALITY table's raw columns for one readable image."""

    sharpness: float  # Laplacian variance of the frame at the working scale
    contrast: float  # grey std of the frame at the working scale, 0-255
    noise: float  # noise sigma at the working scale, 0-255 grey
    blockiness: float  # JPEG 8x8 blocking, 1.0 = none
    highlights: float  # share of the frame >= HIGHLIGHT
    shadows: float  # share of the frame <= SHADOW
    short_side: int  # of the file, px
    working_scale: float  # the factor frame measures were taken at (<= 1)
    face_sharpness: float | None = None  # 1 - re-blur ratio of the main face, [0, 1]
    face_brightness: float | None = None  # mean grey of the main face, 0-255
    face_highlights: float | None = None
    face_shadows: float | None = None
    face_size: float | None = None  # sqrt of the main face box's in-frame area, px

    def as_row(self) -> dict[str, float | int | None]:
        return asdict(self)


def exact_variance(values: np.ndarray) -> float:
    """Population variance of an integer array from exact integer sums.

    Floating-point reductions (cv2.meanStdDev, numpy's var) add in an order that depends on
    OpenCV's thread count and the CPU's SIMD width, so the same image scored in one process
    or in two could differ in the last digit. Integer sums do not: the only rounding is the
    final division, so the value is the same on any machine and any worker count.
    """
    n = values.size
    flat = values.reshape(-1).astype(np.int64)
    total = int(flat.sum())
    total_sq = int(np.dot(flat, flat))
    return (n * total_sq - total * total) / (n * n)


def laplacian_variance(grey: np.ndarray) -> float:
    # The 3x3 Laplacian of 8-bit grey is an integer in [-1020, 1020]: int16 holds it exactly.
    return exact_variance(cv2.Laplacian(grey, cv2.CV_16S))


def measure(rgb: np.ndarray) -> tuple[float, float]:
    """(sharpness, contrast) of an HxWx3 uint8 RGB image at its own size (no scaling)."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)  # fixed-point in OpenCV: bit-exact everywhere
    return laplacian_variance(grey), math.sqrt(exact_variance(grey))


def scaled_down(grey: np.ndarray, scale: float) -> np.ndarray:
    if scale >= 1.0:
        return grey
    height, width = grey.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA)


def working_scale(width: int, height: int, working_resolution: int) -> float:
    return min(1.0, working_resolution / min(width, height))


def noise_sigma(grey: np.ndarray) -> float:
    """Robust noise sigma: median |HH| / 0.6745 of the orthonormal diagonal Haar band."""
    g = grey[: grey.shape[0] // 2 * 2, : grey.shape[1] // 2 * 2].astype(np.int32)
    if g.size == 0:
        return 0.0
    twice_hh = g[0::2, 0::2] - g[0::2, 1::2] - g[1::2, 0::2] + g[1::2, 1::2]  # 2 x HH
    return float(np.median(np.abs(twice_hh))) / 2.0 / 0.6745


def blockiness(grey: np.ndarray) -> float:
    """JPEG blocking: the strongest 8-px phase of steps over the median of the others."""
    ratios = []
    for steps in (
        cv2.absdiff(grey[:, 1:], grey[:, :-1]),  # |horizontal steps|, exact in uint8
        cv2.absdiff(grey[1:, :], grey[:-1, :]).T,
    ):
        if steps.shape[1] < 2 * JPEG_BLOCK:
            continue
        per_column = steps.sum(axis=0, dtype=np.int64)
        phase_means = sorted(
            int(per_column[phase::JPEG_BLOCK].sum())
            / (len(per_column[phase::JPEG_BLOCK]) * steps.shape[0])
            for phase in range(JPEG_BLOCK)
        )
        others = phase_means[:-1]
        median = (others[len(others) // 2 - 1] + others[len(others) // 2]) / 2
        ratios.append(phase_means[-1] / median if median > 0 else 1.0)
    return max(ratios, default=1.0)


def reblur_sharpness(grey: np.ndarray) -> float:
    """1 - Crete et al.'s blur: the share of local variation a 9-tap re-blur removes (min axis)."""
    if min(grey.shape) < 3:
        return 0.0
    g = grey.astype(np.int32)
    # A box blur of integers: sums over REBLUR_TAPS (edges replicated), kept as exact integers
    # scaled by REBLUR_TAPS so that differences compare with the original's times REBLUR_TAPS.
    half = REBLUR_TAPS // 2
    sharpness_per_axis = []
    for axis in (0, 1):
        padded = np.pad(g, [(half, half) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
        cumulative = np.cumsum(padded, axis=axis, dtype=np.int64)
        zero = np.zeros_like(np.take(cumulative, [0], axis=axis))
        cumulative = np.concatenate([zero, cumulative], axis=axis)
        n = g.shape[axis]
        blurred = np.take(cumulative, range(REBLUR_TAPS, REBLUR_TAPS + n), axis=axis) - np.take(
            cumulative, range(n), axis=axis
        )
        d_original = np.abs(np.diff(g, axis=axis)).astype(np.int64) * REBLUR_TAPS
        d_blurred = np.abs(np.diff(blurred, axis=axis))
        total = int(d_original.sum())
        if total == 0:
            sharpness_per_axis.append(0.0)  # flat: nothing to be sharp
            continue
        lost = int(np.maximum(0, d_original - d_blurred).sum())
        sharpness_per_axis.append(lost / total)
    return min(sharpness_per_axis)


def face_region(
    grey: np.ndarray, box: Sequence[float]
) -> tuple[np.ndarray, float] | tuple[None, None]:
    """The in-frame part of a face box and its side (sqrt of its area), or (None, None)."""
    height, width = grey.shape
    x0, y0, x1, y1 = (round(v) for v in box)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None, None
    return grey[y0:y1, x0:x1], math.sqrt((x1 - x0) * (y1 - y0))


def shares(grey: np.ndarray) -> tuple[float, float]:
    """(clipped highlights, crushed shadows) as shares of the pixels."""
    n = grey.size
    return int(np.count_nonzero(grey >= HIGHLIGHT)) / n, int(np.count_nonzero(grey <= SHADOW)) / n


def measure_image(
    rgb: np.ndarray,
    face_box: Sequence[float] | None = None,
    working_resolution: int = DEFAULT_WORKING_RESOLUTION,
) -> Measures:
    """Every raw measure of an HxWx3 uint8 RGB image; `face_box` is the main face's box."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    height, width = grey.shape
    scale = working_scale(width, height, working_resolution)
    work = scaled_down(grey, scale)
    highlights, shadows = shares(work)
    face: dict[str, float | None] = {}
    region, side = face_region(grey, face_box) if face_box is not None else (None, None)
    if region is not None and side is not None:
        judged = scaled_down(region, FACE_SIDE / side)
        face_highlights, face_shadows = shares(region)
        face = {
            "face_sharpness": reblur_sharpness(judged),
            "face_brightness": int(region.sum(dtype=np.int64)) / region.size,
            "face_highlights": face_highlights,
            "face_shadows": face_shadows,
            "face_size": side,
        }
    return Measures(
        sharpness=laplacian_variance(work),
        contrast=math.sqrt(exact_variance(work)),
        noise=noise_sigma(work),
        blockiness=blockiness(grey),
        highlights=highlights,
        shadows=shadows,
        short_side=min(width, height),
        working_scale=scale,
        **face,
    )
