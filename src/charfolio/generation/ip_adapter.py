"""IP-Adapter from local .safetensors weights: a reference image steers every render.

The config (story.ip_adapter) follows h94/IP-Adapter's layout: `path` is the repository
folder, the weights are `<path>/<subfolder>/<weight_name>` and the CLIP image encoder is
`<path>/<subfolder>/image_encoder` unless `image_encoder` names another folder. The
weights are read here with safetensors and handed to diffusers' `load_ip_adapter` as a
state dict, so nothing pickled is ever opened; the image encoder loads with
`use_safetensors=True` and `local_files_only=True`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from diffusers import DiffusionPipeline
from transformers import CLIPVisionModelWithProjection

from charfolio.core.config import ModelFileError, check_safe_model_format, resolve_model_file
from charfolio.core.paths import portable_path

PARTS = ("image_proj", "ip_adapter")  # diffusers' key prefixes in a single-file IP-Adapter
DEFAULT_SUBFOLDER = "models"
DEFAULT_WEIGHT_NAME = "ip-adapter_sd15.safetensors"
FETCH_HINT = "`charfolio models --config <your config>` fetches the config's model files"


@dataclass(frozen=True)
class IpAdapterFiles:
    weights: Path  # a .safetensors with image_proj.* and ip_adapter.* keys
    image_encoder: Path  # a CLIPVisionModelWithProjection folder (.safetensors)
    scale: float  # how strongly the reference steers; 0 = not at all
    built_by_source: bool = False  # made by the base-model source, not read from config paths

    def record(self) -> dict[str, Any]:
        return {
            "weights": portable_path(self.weights),
            "image_encoder": portable_path(self.image_encoder),
            "scale": self.scale,
            "tiny": self.built_by_source,  # the record's key predates base-model sources
        }


def ip_adapter_scale(section: Mapping[str, Any]) -> float:
    """How strongly story.ip_adapter's reference steers a render."""
    return float(section.get("scale", 0.6))


def resolve_ip_adapter(
    section: Mapping[str, Any], model_cache: str | os.PathLike[str] | None
) -> IpAdapterFiles:
    """The files story.ip_adapter names, checked to exist and to be safetensors."""
    scale = ip_adapter_scale(section)
    if not section.get("path"):
        raise ModelFileError(
            "story.ip_adapter.path is not set; point it at a local IP-Adapter folder "
            f"(h94/IP-Adapter's layout, absolute or relative to model_cache); {FETCH_HINT}"
        )
    folder = resolve_model_file(section["path"], model_cache, "IP-Adapter (story.ip_adapter.path)")
    subfolder = section.get("subfolder") or ""
    weights = folder / subfolder / section.get("weight_name", DEFAULT_WEIGHT_NAME)
    check_safe_model_format(weights)  # refuses .bin / .ckpt with the reason
    if weights.suffix.lower() != ".safetensors":
        raise ModelFileError(f"{weights}: story.ip_adapter.weight_name must be a .safetensors file")
    if not weights.is_file():
        raise ModelFileError(
            f"IP-Adapter weights not found: {weights} (story.ip_adapter path / subfolder / "
            f"weight_name); {FETCH_HINT}, or fix the config"
        )
    if section.get("image_encoder"):
        encoder = resolve_model_file(
            section["image_encoder"],
            model_cache,
            "IP-Adapter image encoder (story.ip_adapter.image_encoder)",
        )
    else:
        encoder = folder / subfolder / "image_encoder"
    if not (encoder / "config.json").is_file():
        raise ModelFileError(
            f"IP-Adapter image encoder not found: {encoder}/config.json (a CLIP vision model "
            f"folder; set story.ip_adapter.image_encoder); {FETCH_HINT}"
        )
    return IpAdapterFiles(weights, encoder, scale)


def read_ip_adapter_weights(path: Path) -> dict[str, dict[str, torch.Tensor]]:
    """{"image_proj": ..., "ip_adapter": ...} from one .safetensors, split by key prefix."""
    state: dict[str, dict[str, torch.Tensor]] = {part: {} for part in PARTS}
    for key, tensor in safetensors.torch.load_file(path).items():
        part, _, rest = key.partition(".")
        if part in state:
            state[part][rest] = tensor
    missing = [part for part in PARTS if not state[part]]
    if missing:
        raise ModelFileError(
            f"{path}: not an IP-Adapter: no {', '.join(p + '.*' for p in missing)} keys; "
            f"use an IP-Adapter .safetensors such as models/ip-adapter_sd15.safetensors"
        )
    return state


def load_image_encoder(folder: Path, dtype: torch.dtype) -> CLIPVisionModelWithProjection:
    try:
        return CLIPVisionModelWithProjection.from_pretrained(
            folder, dtype=dtype, local_files_only=True, use_safetensors=True
        )
    except OSError as error:  # typically only pytorch_model.bin (pickle) in the folder
        raise ModelFileError(
            f"{folder}: cannot load the IP-Adapter image encoder from .safetensors ({error}); "
            f"re-save it with save_pretrained(..., safe_serialization=True); {FETCH_HINT}"
        ) from error


def attach_ip_adapter(pipe: DiffusionPipeline, files: IpAdapterFiles) -> None:
    """Load the image encoder and the IP-Adapter layers into `pipe` (scale set per render)."""
    state = read_ip_adapter_weights(files.weights)
    unet = pipe.unet
    encoder = load_image_encoder(files.image_encoder, unet.dtype).to(unet.device)
    proj = state["image_proj"].get("proj.weight")
    if proj is not None and proj.shape[-1] != encoder.config.projection_dim:
        raise ModelFileError(
            f"{files.weights} expects {proj.shape[-1]}-d image embeddings but the image encoder "
            f"{files.image_encoder} makes {encoder.config.projection_dim}-d ones; set "
            f"story.ip_adapter.image_encoder to the encoder this IP-Adapter was trained with"
        )
    pipe.register_modules(image_encoder=encoder)
    try:
        pipe.load_ip_adapter(state, subfolder=None, weight_name=None, image_encoder_folder=None)
    except (KeyError, RuntimeError, ValueError) as error:  # missing layers / other shapes
        raise ModelFileError(
            f"{files.weights} does not fit this model's UNet ({error}); IP-Adapters are made for "
            f"one architecture: use the sdxl_models/ weights for SDXL, models/ for SD1.5"
        ) from error
