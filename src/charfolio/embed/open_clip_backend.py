"""CLIP image embeddings through open_clip (the methodology's ViT-B/32 by default).

`pretrained` is an open_clip tag (e.g. "openai", fetched into the model cache by the
`models` step), a local .safetensors checkpoint (found by path or in the model cache), or
null for random weights (tests and offline smoke runs only: the vectors carry no meaning).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np

from charfolio.core.config import ModelFileError, resolve_model_file
from charfolio.embed.base import l2_normalise, register_embedder
from charfolio.embed.open_clip_weights import is_checkpoint_path, open_clip_weights

# Other packages add open_clip architectures (model configs) through these entry points; each
# names a callable that registers its configs with open_clip (the demo's tiny ViT does).
MODEL_CONFIG_GROUP = "charfolio.open_clip_models"


@functools.cache
def add_plugin_model_configs() -> None:
    for entry_point in entry_points(group=MODEL_CONFIG_GROUP):
        entry_point.load()()


def resolve_pretrained(pretrained: str | None, model_cache: str | None) -> str | None:
    """A tag passes through; a path must be a .safetensors file (pickle is refused)."""
    if pretrained is None or not is_checkpoint_path(pretrained):
        return pretrained
    path = resolve_model_file(pretrained, model_cache, "open_clip checkpoint")
    if path.suffix.lower() != ".safetensors":
        raise ModelFileError(
            f"{path}: open_clip checkpoints must be .safetensors; convert it "
            f"(safetensors.torch.save_file(state_dict, 'model.safetensors')) and point "
            f"embeddings.open_clip.pretrained at the result"
        )
    return str(path)


class OpenClipEmbedder:
    name = "open_clip"

    def __init__(
        self,
        model_name: str,
        pretrained: str | None,
        model_cache: str | None = None,
        device: str = "auto",
        seed: int = 0,
    ) -> None:
        import open_clip
        import torch

        add_plugin_model_configs()
        weights = resolve_pretrained(pretrained, model_cache)
        tag: dict[str, Any] = {}
        if weights is not None and not is_checkpoint_path(weights):
            # A tag's .safetensors from model_cache (`charfolio models` put it there): left to
            # open_clip, a tag goes to the Hub, which an offline node cannot reach, and may fall
            # back to pickle weights. The tag's preprocessing and activation are applied here.
            tag = open_clip.get_pretrained_cfg(model_name, weights)
            weights = str(open_clip_weights(model_name, weights, model_cache))
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.dtype = torch.float16 if self.device.type == "cuda" else torch.float32
        # Random weights depend on the torch RNG: seed it locally so reruns give the same vectors.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model, _, preprocess = open_clip.create_model_and_transforms(
                model_name,
                pretrained=weights,
                precision="fp16" if self.dtype == torch.float16 else "fp32",
                device=self.device,
                force_quick_gelu=bool(tag.get("quick_gelu", False)),
                image_mean=tag.get("mean"),
                image_std=tag.get("std"),
                image_interpolation=tag.get("interpolation"),
                image_resize_mode=tag.get("resize_mode"),
            )
        self._model = model.eval()
        self._preprocess = preprocess
        self._tokenizer = open_clip.get_tokenizer(model_name)  # BPE vocab ships with open_clip
        self.dim = int(model.visual.output_dim)
        source = (
            Path(weights).name if weights and is_checkpoint_path(pretrained or "") else pretrained
        )
        self.model = f"open_clip:{model_name}:{source or f'random-seed{seed}'}"

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        import torch
        from PIL import Image

        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = torch.stack([self._preprocess(Image.fromarray(a)) for a in images])
        with torch.inference_mode():
            features = self._model.encode_image(batch.to(self.device, self.dtype))
        return l2_normalise(features.float().cpu().numpy())

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """Unit text embeddings from the same model's text tower (for CLIP text-image scores)."""
        import torch

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        tokens = self._tokenizer(list(texts)).to(self.device)
        with torch.inference_mode():
            features = self._model.encode_text(tokens)
        return l2_normalise(features.float().cpu().numpy())


@register_embedder("open_clip")
def _create(settings: Mapping[str, Any], model_cache: str | None) -> OpenClipEmbedder:
    return OpenClipEmbedder(
        model_name=settings.get("model", "ViT-B-32"),
        pretrained=settings.get("pretrained", "openai"),
        model_cache=model_cache,
        device=settings.get("device", "auto"),
        seed=settings.get("seed", 0),
    )
