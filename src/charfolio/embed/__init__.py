"""Image embeddings: a backend registry (open_clip, colour_layout) and a streaming writer."""

from charfolio.embed.base import ImageEmbedder, create_embedder, l2_normalise, register_embedder
from charfolio.embed.stream import EmbeddingSummary, embed_images, load_embeddings

__all__ = [
    "EmbeddingSummary",
    "ImageEmbedder",
    "create_embedder",
    "embed_images",
    "l2_normalise",
    "load_embeddings",
    "register_embedder",
]
