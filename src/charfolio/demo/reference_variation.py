"""Offline image backend: seeded variations of a real photo that ships with scikit-image.

The demo has no model weights, yet its face, quality, clustering and shot-type stages must
decide something real. So every image is a variation of `skimage.data.astronaut()` (one
real face): reframed from close-up to wide, flipped, relit, blurred or noised, and in a
known share of images given a second face, no face, or a face cut by the border. Each
image is a pure function of its request; `recipe_for` exposes what was done to it
(variation_recipe.py), and variation_render.py draws it.

A prompt that names a framing ("close-up portrait", "upper body", "full body", "wide shot")
mostly gets it, as a text-to-image model would: the balance stage's targeted rounds ask for
shot types this way. The photo shows only the upper body, so a full-body request puts a small
face high in the frame with a standing figure's height of scene below it (`full_figure`):
the framing the shot-type analysis measures, not a drawn body.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import cv2
import numpy as np
from PIL import Image

from charfolio.demo.variation_recipe import (
    BACKGROUNDS,
    FACE_BOX,
    ISSUE_RATES,
    NAME_TAG_BOX,
    PATCH_CIRCLE,
    PROMPT_FRAMING_WEIGHT,
    PROMPT_FRAMINGS,
    RECIPE_ID,
    RECIPE_VERSION,
    REFERENCE_NAME,
    ZOOM,
    VariationRecipe,
    recipe_for,
)
from charfolio.demo.variation_render import (
    background_photo,
    face_patch,
    reference_photo,
    render_recipe,
)
from charfolio.generation.backends import RenderRequest

__all__ = [
    "ReferenceVariationBackend",
    "create_reference_variation_backend",
    "recipe_for",
    "recipe_record",
    "render_recipe",
]


class ReferenceVariationBackend:
    """Renders seeded variations of the astronaut photo; no model, no GPU, a few ms each."""

    name = "reference_variation"
    model_id = f"skimage-astronaut-variations-v{RECIPE_VERSION}"
    architecture = "reference"
    dtype = "uint8"

    def __init__(self) -> None:
        # Decode the photos once per job, not per image.
        reference_photo()
        face_patch()
        for name in BACKGROUNDS:
            if name != "studio":
                background_photo(name)

    def render(self, requests: Sequence[RenderRequest]) -> list[Image.Image]:
        return [render_recipe(recipe_for(request)) for request in requests]

    def prompt_warnings(self, prompts: Sequence[str]) -> list[str]:
        return []  # prompts only seed the variation; nothing is cut off

    def settings(self) -> dict[str, Any]:
        return {
            "recipe_version": RECIPE_VERSION,
            "reference": REFERENCE_NAME,
            "reference_sha256": hashlib.sha256(reference_photo().tobytes()).hexdigest(),
            "skimage_version": importlib.metadata.version("scikit-image"),
            "opencv_version": cv2.__version__,
            "numpy_version": np.__version__,
            "face_box": list(FACE_BOX),
            "inpainted": {"patch_circle": list(PATCH_CIRCLE), "name_tag_box": list(NAME_TAG_BOX)},
            "issue_rates": dict(ISSUE_RATES),
            "zoom": {k: list(v) for k, v in ZOOM.items()},
            "prompt_framings": {name: p.pattern for name, p in PROMPT_FRAMINGS},
            "prompt_framing_weight": PROMPT_FRAMING_WEIGHT,
            "backgrounds": list(BACKGROUNDS),
            # An image is regenerated from its row's request fields with these settings.
            # recipe_for is re-exported here: the recorded name stays stable across splits.
            "recipe": RECIPE_ID,
            "request_fields": ["generator_seed", "prompt", "category", "width", "height"],
            "rng": "numpy default_rng([generator_seed mod 2**64, "
            "*sha256(prompt + NUL + category)[:16] as 4 little-endian uint32])",
            "negative_prompt": "ignored",
        }


def recipe_record(recipe: VariationRecipe) -> dict[str, Any]:
    """A recipe as plain values (JSON- and Parquet-friendly), e.g. for ground-truth checks."""
    return asdict(recipe)


def create_reference_variation_backend(
    generation: Mapping[str, Any], model_cache: str | None
) -> ReferenceVariationBackend:
    """The `reference_variation` image backend (a `charfolio.image_backends` entry point)."""
    return ReferenceVariationBackend()
