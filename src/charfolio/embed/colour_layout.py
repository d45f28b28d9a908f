"""A cheap, deterministic, model-free image embedding for the offline demo.

It is not CLIP: it sees layout, colour and edge direction, not meaning. Three blocks, each
centred so that "nothing special" is near zero (otherwise every image would look alike
under cosine similarity), L2-normalised and weighted, then concatenated:

- layout: the image in CIE Lab at 8x8 cells (where light, dark and colour sit),
- colour: a joint 4x4x4 RGB histogram minus the uniform histogram,
- edges: gradient-orientation histograms (9 bins) in a 2x2 grid, HOG-like.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np

from charfolio.embed.base import l2_normalise, register_embedder

WORK_SIZE = 64  # every image is reduced to this square first, so cost is flat in image size
LAYOUT_CELLS = 8
COLOUR_BINS = 4
ORIENTATION_BINS = 9
ORIENTATION_GRID = 2
# Squared weights: each block's share of the cosine similarity between two images.
WEIGHTS = {"layout": 0.6, "colour": 0.25, "edges": 0.15}
DIM = LAYOUT_CELLS**2 * 3 + COLOUR_BINS**3 + ORIENTATION_GRID**2 * ORIENTATION_BINS


def _unit(block: np.ndarray) -> np.ndarray:
    return l2_normalise(block.reshape(1, -1).astype(np.float32))[0]


def _layout(small: np.ndarray) -> np.ndarray:
    lab = cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    cells = cv2.resize(lab, (LAYOUT_CELLS, LAYOUT_CELLS), interpolation=cv2.INTER_AREA)
    cells[..., 0] -= 50.0  # L runs 0..100; a and b are already centred on grey
    return cells.ravel()


def _colour(small: np.ndarray) -> np.ndarray:
    q = (small.astype(np.int32) * COLOUR_BINS) // 256
    index = (q[..., 0] * COLOUR_BINS + q[..., 1]) * COLOUR_BINS + q[..., 2]
    hist = np.bincount(index.ravel(), minlength=COLOUR_BINS**3).astype(np.float32)
    return hist / hist.sum() - 1.0 / COLOUR_BINS**3


def _edges(small: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.hypot(gx, gy)
    angle = np.mod(np.arctan2(gy, gx), np.pi)  # edge direction, sign-free
    bins = np.minimum((angle / np.pi * ORIENTATION_BINS).astype(np.int32), ORIENTATION_BINS - 1)
    step = WORK_SIZE // ORIENTATION_GRID
    out = []
    for gy_cell in range(ORIENTATION_GRID):
        for gx_cell in range(ORIENTATION_GRID):
            window = np.s_[
                gy_cell * step : (gy_cell + 1) * step, gx_cell * step : (gx_cell + 1) * step
            ]
            hist = np.bincount(
                bins[window].ravel(), weights=magnitude[window].ravel(), minlength=ORIENTATION_BINS
            ).astype(np.float32)
            total = hist.sum()
            # A flat cell has no edge direction: leave it at zero rather than uniform noise.
            out.append(hist / total - 1.0 / ORIENTATION_BINS if total > 1e-6 else hist)
    return np.concatenate(out)


def colour_layout_vector(rgb: np.ndarray) -> np.ndarray:
    """One image's DIM-length unit vector."""
    small = cv2.resize(rgb, (WORK_SIZE, WORK_SIZE), interpolation=cv2.INTER_AREA)
    blocks = {"layout": _layout(small), "colour": _colour(small), "edges": _edges(small)}
    vector = np.concatenate([np.sqrt(WEIGHTS[k]) * _unit(b) for k, b in blocks.items()])
    return _unit(vector)


class ColourLayoutEmbedder:
    name = "colour_layout"
    model = f"colour_layout:v1:{DIM}"
    dim = DIM

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([colour_layout_vector(a) for a in images]).astype(np.float32)


@register_embedder("colour_layout")
def _create(settings: Mapping[str, Any], model_cache: str | None) -> ColourLayoutEmbedder:
    if settings:
        raise ValueError(f"the colour_layout embedder takes no settings; remove {sorted(settings)}")
    return ColourLayoutEmbedder()
