"""Write trained LoRA weights as .safetensors: diffusers keys and kohya / A1111 keys.

diffusers format (methodology 5.6): `unet.<module>.lora_A.weight` / `lora_B.weight`, plus
`text_encoder.` / `text_encoder_2.` keys, with the PEFT adapter config in the metadata so
`pipe.load_lora_weights` restores alpha exactly.

kohya format (what A1111, Forge and ComfyUI load): `lora_unet_<module>.lora_down.weight`,
`.lora_up.weight` and `.alpha`, the module path with dots as underscores. SD1.5 modules
keep their diffusers names (kohya sd-scripts trains SD1 on the diffusers UNet); SDXL
modules use the original (sgm) UNet's names, input_blocks / middle_block / output_blocks,
as sd-scripts writes them. Text encoders are lora_te_ (SD1.5) or lora_te1_ / lora_te2_.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from peft import get_peft_model_state_dict

from charfolio.core.atomic import atomic_path
from charfolio.core.safetensors_header import sort_metadata
from charfolio.generation.pipelines import DTYPES, PIPELINE_CLASSES

KOHYA_PREFIXES = {
    "sd15": {"unet": "lora_unet_", "text_encoder": "lora_te_"},
    "sdxl": {"unet": "lora_unet_", "text_encoder": "lora_te1_", "text_encoder_2": "lora_te2_"},
}
BASE_MODEL_VERSION = {"sd15": "sd_v1", "sdxl": "sdxl_base_v1-0"}
MODELSPEC_ARCHITECTURE = {
    "sd15": "stable-diffusion-v1/lora",
    "sdxl": "stable-diffusion-xl-v1-base/lora",
}

# diffusers ResnetBlock2D layer -> sgm ResBlock layer (only LoRA-able Linear/Conv layers).
_SGM_RESNET = {
    "conv1": "in_layers.2",
    "conv2": "out_layers.3",
    "time_emb_proj": "emb_layers.1",
    "conv_shortcut": "skip_connection",
}
_SGM_TOP_LEVEL = {
    "conv_in": "input_blocks.0.0",
    "conv_out": "out.2",
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "add_embedding.linear_1": "label_emb.0.0",
    "add_embedding.linear_2": "label_emb.0.2",
}


class KohyaExportError(ValueError):
    """A LoRA module that has no kohya (sgm) name; the diffusers file still has it."""


# transformers 5 flattened CLIPTextModel (encoder.layers...); checkpoints, A1111 and ComfyUI
# name its modules text_model.encoder.layers..., and diffusers loads either spelling.
_CLIP_TEXT_MODEL_CHILDREN = ("embeddings.", "encoder.", "final_layer_norm.")


def canonical_text_encoder_key(key: str) -> str:
    return f"text_model.{key}" if key.startswith(_CLIP_TEXT_MODEL_CHILDREN) else key


def lora_layers(modules: Mapping[str, torch.nn.Module]) -> dict[str, dict[str, torch.Tensor]]:
    """PEFT LoRA tensors per component ("unet", "text_encoder", ...), keys without prefix."""
    layers = {}
    for name, module in modules.items():
        # LoRA weights only, never full embedding matrices (kohya has no key for them). Left
        # at "auto", PEFT asks the Hub whether the vocabulary was resized whenever the
        # adapter's base model name is a repo id, as a single-file SD1.5 text encoder's is
        # (openai/clip-vit-large-patch14): a lookup per save, from offline jobs. We never
        # resize it and never target embeddings, so "auto" chose False too: the same tensors.
        tensors = get_peft_model_state_dict(module, save_embedding_layers=False)
        if name != "unet":
            tensors = {canonical_text_encoder_key(k): v for k, v in tensors.items()}
        layers[name] = tensors
    return layers


def _cast(layers: Mapping[str, torch.Tensor], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", dtype=dtype).contiguous() for k, v in layers.items()}


def save_diffusers_lora(
    path: str | os.PathLike[str],
    architecture: str,
    modules: Mapping[str, torch.nn.Module],
    save_dtype: str,
) -> Path:
    """The diffusers-format file that `pipe.load_lora_weights(path)` loads."""
    path = Path(path)
    dtype = DTYPES[save_dtype]
    kwargs = {}
    for name, tensors in lora_layers(modules).items():
        kwargs[f"{name}_lora_layers"] = _cast(tensors, dtype)
        kwargs[f"{name}_lora_adapter_metadata"] = _sorted_sets(
            modules[name].peft_config["default"].to_dict()
        )
    with atomic_path(path) as tmp:
        PIPELINE_CLASSES[architecture].save_lora_weights(
            tmp.parent, weight_name=tmp.name, safe_serialization=True, **kwargs
        )
        sort_metadata(tmp)
    return path


def _sorted_sets(config: Mapping[str, Any]) -> dict[str, Any]:
    """PEFT keeps target_modules as a set; diffusers writes it as a list in hash order."""
    return {k: sorted(v) if isinstance(v, set) else v for k, v in config.items()}


def sgm_module_name(name: str, layers_per_block: int) -> str:
    """A diffusers SDXL UNet module path as the original (sgm) UNet names it."""
    per_block = layers_per_block + 1  # down: resnets + downsampler; up: resnets (one more)
    if name in _SGM_TOP_LEVEL:
        return _SGM_TOP_LEVEL[name]
    match = re.fullmatch(r"(down_blocks|up_blocks)\.(\d+)\.(attentions|resnets)\.(\d+)\.(.+)", name)
    if match:
        kind, block, inner, layer, rest = match.groups()
        index = (1 if kind == "down_blocks" else 0) + int(block) * per_block + int(layer)
        prefix = "input_blocks" if kind == "down_blocks" else "output_blocks"
        inner_index = 1 if inner == "attentions" else 0  # [resnet, attention(, sampler)]
        return f"{prefix}.{index}.{inner_index}.{_sgm_layer(inner, rest, name)}"
    match = re.fullmatch(r"mid_block\.(attentions|resnets)\.(\d+)\.(.+)", name)
    if match:
        inner, layer, rest = match.groups()
        index = 1 if inner == "attentions" else 2 * int(layer)  # resnet, attention, resnet
        return f"middle_block.{index}.{_sgm_layer(inner, rest, name)}"
    raise KohyaExportError(
        f"UNet module {name!r} has no kohya SDXL name that diffusers, A1111 and ComfyUI all "
        f"map back; drop it from target_modules or use the diffusers-format file"
    )


def _sgm_layer(inner: str, rest: str, name: str) -> str:
    """The layer path inside an attention (unchanged) or a resnet (renamed)."""
    if inner == "attentions":
        return rest
    if rest not in _SGM_RESNET:
        raise KohyaExportError(
            f"UNet module {name!r}: resnet layer {rest!r} has no kohya SDXL name; LoRA-able "
            f"resnet layers are {', '.join(_SGM_RESNET)}"
        )
    return _SGM_RESNET[rest]


def kohya_state_dict(
    layers: Mapping[str, Mapping[str, torch.Tensor]],
    architecture: str,
    alpha: float,
    layers_per_block: int,
) -> dict[str, torch.Tensor]:
    """PEFT tensors per component -> kohya keys (lora_down = A, lora_up = B, alpha)."""
    prefixes = KOHYA_PREFIXES[architecture]
    out: dict[str, torch.Tensor] = {}
    for component, tensors in layers.items():
        for key, tensor in tensors.items():
            module, _, kind = key.rpartition(".lora_")
            if kind not in ("A.weight", "B.weight"):
                raise KohyaExportError(f"{component} tensor {key!r} is not a LoRA A/B weight")
            if component == "unet" and architecture == "sdxl":
                module = sgm_module_name(module, layers_per_block)
            stem = prefixes[component] + module.replace(".", "_")
            out[f"{stem}.lora_{'down' if kind == 'A.weight' else 'up'}.weight"] = tensor
            out[f"{stem}.alpha"] = torch.tensor(float(alpha))
    return out


def save_kohya_lora(
    path: str | os.PathLike[str],
    architecture: str,
    modules: Mapping[str, torch.nn.Module],
    alpha: float,
    layers_per_block: int,
    save_dtype: str,
    name: str,
) -> Path:
    """The kohya-format file for A1111 / ComfyUI (alpha stays float32, as sd-scripts writes it)."""
    path = Path(path)
    layers = {c: _cast(t, DTYPES[save_dtype]) for c, t in lora_layers(modules).items()}
    tensors = kohya_state_dict(layers, architecture, alpha, layers_per_block)
    rank = next(t.shape[0] for k, t in tensors.items() if k.endswith(".lora_down.weight"))
    metadata = {
        "ss_network_module": "networks.lora",
        "ss_network_dim": str(rank),
        "ss_network_alpha": str(alpha),
        "ss_base_model_version": BASE_MODEL_VERSION[architecture],
        "ss_output_name": name,
        "ss_network_args": json.dumps({}),
        "modelspec.architecture": MODELSPEC_ARCHITECTURE[architecture],
        "modelspec.title": name,
    }
    with atomic_path(path) as tmp:
        safetensors.torch.save_file(tensors, tmp, metadata=metadata)
        sort_metadata(tmp)
    return path
