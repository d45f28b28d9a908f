"""CLIP text-image agreement on [0, 1]: does this image show what this text says?

The score is `metrics.prompt_adherence`, (cosine + 1) / 2 of the image and text embeddings
of one open_clip model; storyboards retry frames below a threshold (0.70 by default) and the
checkpoint report averages it per prompt category. Settings are the `prompt_adherence`
section of the config: an open_clip model name and `pretrained` (tag, local .safetensors, or
null for random weights in tests).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from charfolio.embed.open_clip_backend import OpenClipEmbedder
from charfolio.metrics import prompt_adherence


class TextImageScorer:
    """Scores images against texts with one open_clip model, loaded once."""

    def __init__(self, embedder: OpenClipEmbedder) -> None:
        self.embedder = embedder
        self.model = embedder.model

    def embed_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return self.embedder.embed(images)

    def score(self, images: Sequence[np.ndarray], texts: Sequence[str]) -> np.ndarray:
        """Score of image i against text i (or against the single text given for all)."""
        if not images:
            return np.zeros(0, dtype=np.float64)
        if len(texts) not in (1, len(images)):
            raise ValueError(
                f"{len(images)} images but {len(texts)} texts; give one text, or one per image"
            )
        return prompt_adherence(self.embedder.embed(images), self.embedder.embed_text(texts))


def create_text_image_scorer(
    settings: Mapping[str, Any], model_cache: str | None = None
) -> TextImageScorer:
    """A scorer from the config's `prompt_adherence` section."""
    return TextImageScorer(
        OpenClipEmbedder(
            model_name=settings.get("model", "ViT-B-32"),
            pretrained=settings.get("pretrained", "openai"),
            model_cache=model_cache,
            device=settings.get("device", "auto"),
            seed=settings.get("seed", 0),
        )
    )
