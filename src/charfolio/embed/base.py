"""The image-embedder protocol and its registry (keyed by `embeddings.backend` in config).

An embedder is created once per job (the model loads once) and maps batches of RGB arrays
to L2-normalised float32 vectors of a fixed dimension known before the first batch, so the
output file can be allocated up front and filled as the batches stream through.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np


class ImageEmbedder(Protocol):
    name: str  # the registry key
    model: str  # what made the vectors (recorded per row, so stale embeddings are visible)
    dim: int

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Embed HxWx3 uint8 RGB arrays; returns (len(images), dim) float32, rows L2-normalised."""
        ...


EmbedderFactory = Callable[[Mapping[str, Any], str | None], ImageEmbedder]
_REGISTRY: dict[str, EmbedderFactory] = {}
# open_clip imports torch: import a backend's module only when a config names it.
_MODULES = {
    "open_clip": "charfolio.embed.open_clip_backend",
    "colour_layout": "charfolio.embed.colour_layout",
}


def register_embedder(name: str) -> Callable[[EmbedderFactory], EmbedderFactory]:
    def wrap(factory: EmbedderFactory) -> EmbedderFactory:
        _REGISTRY[name] = factory
        return factory

    return wrap


def create_embedder(section: Mapping[str, Any], model_cache: str | None = None) -> ImageEmbedder:
    """Build the embedder named by `section['backend']` from the validated config section.

    The backend's own settings are read from `section[<backend name>]` when present.
    """
    name = section["backend"]
    if name not in _REGISTRY and name in _MODULES:
        importlib.import_module(_MODULES[name])
    if name not in _REGISTRY:
        raise ValueError(f"unknown embeddings backend {name!r}; use one of {sorted(_MODULES)}")
    return _REGISTRY[name](section.get(name) or {}, model_cache)


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Unit-length rows; an all-zero row stays zero instead of becoming NaN."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
