"""A very small open_clip ViT (64 px, 2 layers, 32-d output) for tests and the demo.

The `charfolio.open_clip_models` entry point `charfolio-tiny-vit`: the open_clip backend
adds every such model config before it creates a model, so configs name it like any
open_clip architecture (`embeddings.open_clip.model: charfolio-tiny-vit`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

TINY_MODEL = "charfolio-tiny-vit"


def add_tiny_vit_config() -> None:
    """Register the tiny ViT's architecture with open_clip (weights are random or a file)."""
    import open_clip

    config = resources.files("charfolio.demo") / "data" / f"{TINY_MODEL}.json"
    with resources.as_file(config) as path:
        open_clip.add_model_config(Path(path))
