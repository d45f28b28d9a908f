"""Helpers for the renderer tests: tiny renderers, synthetic pictures, pixel arrays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from charfolio.lora.base_model import create_base_model
from charfolio.lora.render import LoraRenderer, RenderSettings, open_renderer

SETTINGS = RenderSettings(
    steps=2,
    guidance_scale=5.0,
    width=64,
    height=64,
    sampler="dpmpp_2m",
    sigmas="default",
    negative_prompt="blurry",
    dtype="float32",
    device="cpu",
)


def open_tiny(cache: Path, architecture: str = "sd15", **kwargs: Any) -> LoraRenderer:
    """A renderer on the tiny model of `architecture`, built into `cache` once."""
    return open_renderer(
        model_cfg={"architecture": architecture},
        base_model=create_base_model("tiny", {"weights_seed": 0}),
        model_cache=str(cache),
        settings=kwargs.pop("settings", SETTINGS),
        **kwargs,
    )


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def picture(seed: int, size: tuple[int, int] = (64, 64)) -> Image.Image:
    """A gradient with a filled ellipse and a bar whose places depend on `seed`."""
    rng = np.random.default_rng(seed)
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx * 255 // width, yy * 255 // height, np.full_like(xx, 40)], axis=-1)
    image = Image.fromarray(base.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    x, y = (int(v) for v in rng.integers(4, min(size) // 2, 2))
    draw.ellipse((x, y, x + width // 3, y + height // 3), fill=tuple(rng.integers(0, 255, 3)))
    draw.rectangle((0, height - y // 2 - 6, width, height - y // 2), fill=(250, 250, 250))
    return image
