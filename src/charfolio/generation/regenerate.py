"""Regenerate one catalogued image from its row alone (prompt, seed, size, settings_json)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from typing import Any

from PIL import Image

from charfolio.generation.backends import ImageBackend, RenderRequest, create_image_backend

# Settings that may legitimately differ on another machine and change pixels slightly.
_MACHINE_KEYS = ("device", "dtype", "versions", "scheduler")


def request_from_row(row: Mapping[str, Any]) -> RenderRequest:
    return RenderRequest(
        prompt=row["prompt"],
        negative_prompt=row["negative_prompt"],
        generator_seed=int(row["generator_seed"]),
        width=int(row["width"]),
        height=int(row["height"]),
        category=row.get("category"),
    )


def regenerate_image(
    row: Mapping[str, Any], model_cache: str | None = None, *, backend: ImageBackend | None = None
) -> Image.Image:
    """Render the image a row of an images table describes, from its settings_json.

    Pass `backend` to regenerate many rows with one model load; it should have been built
    from the same settings. Warns when this machine's settings differ from the stored ones
    (another device, dtype or library version), since pixels may then differ slightly.
    """
    stored = json.loads(row["settings_json"])
    if backend is None:
        backend = create_image_backend(stored["generation"], model_cache)
    current = backend.settings()
    changed = [k for k in _MACHINE_KEYS if stored["backend"].get(k) != current.get(k)]
    if changed:
        warnings.warn(
            f"regenerating {row.get('file', 'an image')} with different {', '.join(changed)} than it was "
            f"made with; pixels may differ slightly",
            stacklevel=2,
        )
    [image] = backend.render([request_from_row(row)])
    return image
