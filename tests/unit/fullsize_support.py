"""A full-size SD1.5 with random weights, saved the way model sites ship it (fullsize tests).

The real stable-diffusion-v1-5 configs describe the UNet, VAE and CLIP text encoder; their
random weights go into ONE single-file checkpoint in the original (LDM / CompVis) key
layout: model.diffusion_model.*, first_stage_model.*, cond_stage_model.transformer.*.
diffusers converts LDM -> diffusers only, so the reverse mapping is written out here,
independently of the code it checks, after the layout of the CompVis repository.

A detail LoRA is written the way kohya sd-scripts names its modules (LoRA + LoCon convs).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

from charfolio.demo.tiny import write_clip_tokenizer

# stable-diffusion-v1-5's own configs (version stamps left out).
_DOWN = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
_UP = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
SD15_CONFIGS: dict[str, dict[str, Any]] = {
    "model_index.json": {
        "_class_name": "StableDiffusionPipeline",
        "feature_extractor": ["transformers", "CLIPImageProcessor"],
        "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"],
        "scheduler": ["diffusers", "PNDMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    },
    "unet/config.json": {
        "_class_name": "UNet2DConditionModel",
        "act_fn": "silu",
        "attention_head_dim": 8,
        "block_out_channels": [320, 640, 1280, 1280],
        "center_input_sample": False,
        "cross_attention_dim": 768,
        "down_block_types": _DOWN,
        "downsample_padding": 1,
        "flip_sin_to_cos": True,
        "freq_shift": 0,
        "in_channels": 4,
        "layers_per_block": 2,
        "mid_block_scale_factor": 1,
        "norm_eps": 1e-05,
        "norm_num_groups": 32,
        "out_channels": 4,
        "sample_size": 64,
        "up_block_types": _UP,
    },
    "vae/config.json": {
        "_class_name": "AutoencoderKL",
        "act_fn": "silu",
        "block_out_channels": [128, 256, 512, 512],
        "down_block_types": ["DownEncoderBlock2D"] * 4,
        "in_channels": 3,
        "latent_channels": 4,
        "layers_per_block": 2,
        "norm_num_groups": 32,
        "out_channels": 3,
        "sample_size": 512,
        "up_block_types": ["UpDecoderBlock2D"] * 4,
    },
    "text_encoder/config.json": {
        "_name_or_path": "openai/clip-vit-large-patch14",
        "architectures": ["CLIPTextModel"],
        "attention_dropout": 0.0,
        "bos_token_id": 0,
        "dropout": 0.0,
        "eos_token_id": 2,
        "hidden_act": "quick_gelu",
        "hidden_size": 768,
        "initializer_factor": 1.0,
        "initializer_range": 0.02,
        "intermediate_size": 3072,
        "layer_norm_eps": 1e-05,
        "max_position_embeddings": 77,
        "model_type": "clip_text_model",
        "num_attention_heads": 12,
        "num_hidden_layers": 12,
        "pad_token_id": 1,
        "projection_dim": 768,
        "vocab_size": 49408,
    },
    "scheduler/scheduler_config.json": {
        "_class_name": "PNDMScheduler",
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "beta_start": 0.00085,
        "clip_sample": False,
        "num_train_timesteps": 1000,
        "set_alpha_to_one": False,
        "skip_prk_steps": True,
        "steps_offset": 1,
        "trained_betas": None,
    },
}


def write_sd15_config_dir(folder: Path) -> Path:
    """A configs-only diffusers folder, as `generation.model.config_dir` names one."""
    for name, config in SD15_CONFIGS.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(json.dumps(config, indent=2), encoding="utf-8")
    write_clip_tokenizer(folder / "tokenizer")
    return folder


def build_component(config_dir: Path, component: str) -> torch.nn.Module:
    """One component from its config in `config_dir`, random weights from the global RNG."""
    if component == "unet":
        return UNet2DConditionModel.from_config(
            UNet2DConditionModel.load_config(config_dir / "unet")
        )
    if component == "vae":
        return AutoencoderKL.from_config(AutoencoderKL.load_config(config_dir / "vae"))
    return CLIPTextModel(CLIPTextConfig.from_pretrained(config_dir / "text_encoder"))


# --- diffusers -> LDM key names -----------------------------------------------------------

LDM_PREFIXES = {
    "unet": "model.diffusion_model.",
    "vae": "first_stage_model.",
    "text_encoder": "cond_stage_model.transformer.",
}
_UNET_TOP = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}
_UNET_RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "time_emb_proj": "emb_layers.1",
    "conv_shortcut": "skip_connection",
}
_VAE_ATTENTION = {
    "group_norm": "norm",
    "to_q": "q",
    "to_k": "k",
    "to_v": "v",
    "to_out.0": "proj_out",
}


def _renamed(rest: str, names: Mapping[str, str]) -> str:
    module, _, param = rest.rpartition(".")
    return f"{names.get(module, module)}.{param}"


def unet_ldm_key(key: str, config: Mapping[str, Any]) -> str:
    """A diffusers UNet parameter's name in the LDM UNet (input/middle/output blocks)."""
    per_block = config["layers_per_block"] + 1  # down: resnets + downsampler; up: resnets
    module, _, param = key.rpartition(".")
    if module in _UNET_TOP:
        return f"{_UNET_TOP[module]}.{param}"
    if match := re.fullmatch(r"(down|up)_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", key):
        side, block, inner, layer, rest = match.groups()
        index = (1 if side == "down" else 0) + int(block) * per_block + int(layer)
        blocks = "input_blocks" if side == "down" else "output_blocks"
        if inner == "resnets":
            return f"{blocks}.{index}.0.{_renamed(rest, _UNET_RESNET)}"
        return f"{blocks}.{index}.1.{rest}"
    if match := re.fullmatch(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)", key):
        block, rest = match.groups()
        return f"input_blocks.{(int(block) + 1) * per_block}.0.op.{rest}"
    if match := re.fullmatch(r"up_blocks\.(\d+)\.upsamplers\.0\.(.+)", key):
        block, rest = match.groups()
        # After the block's last layer: [resnet, upsampler] or [resnet, attention, upsampler].
        inner = 2 if config["up_block_types"][int(block)].startswith("CrossAttn") else 1
        return f"output_blocks.{(int(block) + 1) * per_block - 1}.{inner}.{rest}"
    if match := re.fullmatch(r"mid_block\.attentions\.0\.(.+)", key):
        return f"middle_block.1.{match.group(1)}"
    if match := re.fullmatch(r"mid_block\.resnets\.(\d+)\.(.+)", key):
        layer, rest = match.groups()
        return f"middle_block.{2 * int(layer)}.{_renamed(rest, _UNET_RESNET)}"
    raise KeyError(f"no LDM name for UNet parameter {key!r}")


def vae_ldm_key(key: str, config: Mapping[str, Any]) -> str:
    """A diffusers VAE parameter's name in the LDM autoencoder (the decoder counts up)."""
    top = len(config["block_out_channels"]) - 1
    shortcut = {"conv_shortcut": "nin_shortcut"}
    if match := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key):
        block, layer, rest = match.groups()
        return f"encoder.down.{block}.block.{layer}.{_renamed(rest, shortcut)}"
    if match := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.(.+)", key):
        return f"encoder.down.{match.group(1)}.downsample.{match.group(2)}"
    if match := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key):
        block, layer, rest = match.groups()
        return f"decoder.up.{top - int(block)}.block.{layer}.{_renamed(rest, shortcut)}"
    if match := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.(.+)", key):
        return f"decoder.up.{top - int(match.group(1))}.upsample.{match.group(2)}"
    if match := re.fullmatch(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.+)", key):
        part, layer, rest = match.groups()
        return f"{part}.mid.block_{int(layer) + 1}.{_renamed(rest, shortcut)}"
    if match := re.fullmatch(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.+)", key):
        part, rest = match.groups()
        return f"{part}.mid.attn_1.{_renamed(rest, _VAE_ATTENTION)}"
    return key.replace("conv_norm_out", "norm_out")  # conv_in, conv_out, (post_)quant_conv


def text_encoder_ldm_key(key: str) -> str:
    # transformers 5 flattened CLIPTextModel; checkpoints keep transformers 4's text_model.
    return f"text_model.{key}"


def ldm_key(component: str, key: str, config: Mapping[str, Any]) -> str:
    """The full LDM checkpoint key of a diffusers parameter of `component`."""
    if component == "unet":
        name = unet_ldm_key(key, config)
    elif component == "vae":
        name = vae_ldm_key(key, config)
    else:
        name = text_encoder_ldm_key(key)
    return LDM_PREFIXES[component] + name


def ldm_tensor(ldm_name: str, tensor: torch.Tensor) -> torch.Tensor:
    """The tensor as LDM stores it: the VAE's attention projections are 1x1 convolutions."""
    if re.search(r"\.mid\.attn_1\.(q|k|v|proj_out)\.weight$", ldm_name):
        return tensor[:, :, None, None]
    return tensor


# Keys of real SD1.5 files that no diffusers parameter takes: the DDPM schedule (diffusers
# rebuilds it from the scheduler config) and CLIP's position ids (a buffer it recomputes).
def ldm_extra_tensors(text_positions: int) -> dict[str, torch.Tensor]:
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
    alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
    return {
        "betas": betas.float(),
        "alphas_cumprod": alphas_cumprod.float(),
        "alphas_cumprod_prev": torch.cat([torch.ones(1), alphas_cumprod[:-1].float()]),
        "cond_stage_model.transformer.text_model.embeddings.position_ids": torch.arange(
            text_positions
        )[None],
    }


@dataclass(frozen=True)
class LdmCheckpoint:
    path: Path  # the single .safetensors file
    config_dir: Path  # the configs-only diffusers folder
    keys: dict[str, dict[str, str]]  # component -> diffusers parameter -> LDM key
    extra_keys: frozenset[str]  # LDM keys no diffusers parameter takes


def write_ldm_checkpoint(
    path: Path, config_dir: Path, seed: int, dtype: torch.dtype = torch.float16
) -> LdmCheckpoint:
    """Random weights for the configs in `config_dir`, as one LDM-layout file in `dtype`.

    One component at a time, so only one float32 model is ever in memory. Model sites
    mostly ship float16 files; float16 -> float32 on load is exact, so a test can compare.
    """
    tensors: dict[str, torch.Tensor] = {}
    keys: dict[str, dict[str, str]] = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for component in LDM_PREFIXES:
            model = build_component(config_dir, component)
            config = json.loads((config_dir / component / "config.json").read_text())
            keys[component] = {}
            for key, tensor in model.state_dict().items():
                name = ldm_key(component, key, config)
                keys[component][key] = name
                tensors[name] = ldm_tensor(name, tensor).to(dtype).contiguous()
            del model
    extra = ldm_extra_tensors(SD15_CONFIGS["text_encoder/config.json"]["max_position_embeddings"])
    tensors.update(extra)
    safetensors.torch.save_file(tensors, path)
    return LdmCheckpoint(path, config_dir, keys, frozenset(extra))


# --- a detail LoRA in kohya sd-scripts' naming ------------------------------------------------

# sd-scripts' networks/lora.py adapts every Linear and Conv2d inside these module classes;
# the ResNet / sampler classes only when conv_dim is set (LoCon: its 3x3 convolutions).
KOHYA_UNET_CLASSES = ("Transformer2DModel", "ResnetBlock2D", "Downsample2D", "Upsample2D")
KOHYA_TEXT_ENCODER_CLASSES = ("CLIPAttention", "CLIPMLP")
KOHYA_PREFIXES = {"unet": "lora_unet_", "text_encoder": "lora_te_"}


@dataclass(frozen=True)
class KohyaModule:
    component: str  # unet | text_encoder
    name: str  # the module path in the diffusers / transformers model
    rank: int
    alpha: float


def kohya_modules(root: torch.nn.Module, classes: tuple[str, ...]) -> dict[str, torch.nn.Module]:
    """The layers sd-scripts adapts, by module path, in sd-scripts' iteration order."""
    found = {}
    for name, module in root.named_modules():
        if type(module).__name__ in classes:
            for child_name, child in module.named_modules():
                if child_name and isinstance(child, torch.nn.Linear | torch.nn.Conv2d):
                    found[f"{name}.{child_name}"] = child
    return found


def write_kohya_lora(
    path: Path,
    config_dir: Path,
    seed: int,
    rank: int = 4,
    alpha: float = 2.0,
    conv_rank: int = 4,
    conv_alpha: float = 1.0,
) -> dict[str, KohyaModule]:
    """A LoRA + LoCon file in sd-scripts' naming for the model in `config_dir`, float16.

    Returns its modules by kohya name (the `lora_unet_...` / `lora_te_...` stem). Linear and
    1x1 conv layers get `rank` and `alpha`, 3x3 convs `conv_rank` and `conv_alpha`, as
    sd-scripts' network_dim / network_alpha and conv_dim / conv_alpha. lora_up is random
    (not zero, as fresh from training), so the LoRA changes what the model computes.
    """
    with torch.device("meta"):
        roots = {
            "unet": build_component(config_dir, "unet"),
            "text_encoder": build_component(config_dir, "text_encoder"),
        }
    classes = {"unet": KOHYA_UNET_CLASSES, "text_encoder": KOHYA_TEXT_ENCODER_CLASSES}
    tensors: dict[str, torch.Tensor] = {}
    modules: dict[str, KohyaModule] = {}
    generator = torch.Generator().manual_seed(seed)
    for component, root in roots.items():
        for name, layer in kohya_modules(root, classes[component]).items():
            # sd-scripts names text-encoder layers as transformers 4 did (text_model. ...).
            path_name = f"text_model.{name}" if component == "text_encoder" else name
            stem = KOHYA_PREFIXES[component] + path_name.replace(".", "_")
            is_3x3 = isinstance(layer, torch.nn.Conv2d) and layer.kernel_size != (1, 1)
            r, a = (conv_rank, conv_alpha) if is_3x3 else (rank, alpha)
            down, up = _kohya_pair(layer, r, generator)
            tensors[f"{stem}.lora_down.weight"] = down.half()
            tensors[f"{stem}.lora_up.weight"] = up.half()
            tensors[f"{stem}.alpha"] = torch.tensor(a, dtype=torch.float16)
            modules[stem] = KohyaModule(component, name, r, a)
    metadata = {
        "ss_network_module": "networks.lora",
        "ss_network_dim": str(rank),
        "ss_network_alpha": str(alpha),
        "ss_network_args": json.dumps({"conv_dim": str(conv_rank), "conv_alpha": str(conv_alpha)}),
        "ss_base_model_version": "sd_v1",
    }
    safetensors.torch.save_file(tensors, path, metadata=metadata)
    return modules


def _kohya_pair(
    layer: torch.nn.Module, rank: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """lora_down (the layer's kernel, `rank` outputs) and lora_up (1x1 for a conv)."""
    if isinstance(layer, torch.nn.Linear):
        down_shape, up_shape = (rank, layer.in_features), (layer.out_features, rank)
    else:
        down_shape = (rank, layer.in_channels, *layer.kernel_size)
        up_shape = (layer.out_channels, rank, 1, 1)
    fan_in = torch.Size(down_shape[1:]).numel()
    down = torch.randn(down_shape, generator=generator) / fan_in**0.5
    up = torch.randn(up_shape, generator=generator) * 0.1
    return down, up


# --- diffusers' and transformers' warnings about LoRA or checkpoint keys ---------------------

_KEY_WARNING = re.compile(r"\bkeys?\b|not (?:found|used|matched)|unexpected|missing", re.I)
# Both libraries log to their own root loggers, which do not propagate to caplog's handler.
_LIBRARY_LOGGERS = ("diffusers", "transformers", "peft")


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(f"{record.name}: {record.getMessage()}")


@contextlib.contextmanager
def key_warnings() -> Iterator[list[str]]:
    """Collect warnings (logged or `warnings.warn`) that mention keys, unexpected or missing."""
    collected: list[str] = []
    handler = _Collect(collected)
    loggers = [logging.getLogger(name) for name in _LIBRARY_LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield collected
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    collected.extend(f"{w.category.__name__}: {w.message}" for w in caught)
    collected[:] = [message for message in collected if _KEY_WARNING.search(message)]
