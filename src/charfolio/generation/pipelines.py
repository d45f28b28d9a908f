"""Load Stable Diffusion pipelines from local files: devices, dtypes, samplers and LoRAs.

The image backends and LoRA training load models through here. Everything is offline
(`local_files_only=True`): a single-file checkpoint needs `config_dir`, a diffusers folder
whose configs describe it, because diffusers would otherwise fetch those configs from the
Hub. Weights are read only from .safetensors; pickle checkpoints are refused.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    DiffusionPipeline,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
)
from diffusers.models.attention_processor import AttnProcessor2_0
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from peft.tuners.lora import LoraLayer

from charfolio.core.config import ModelFileError, check_safe_model_format, resolve_model_file

ModelCache = str | os.PathLike[str] | None

PIPELINE_CLASSES: dict[str, type[DiffusionPipeline]] = {
    "sd15": StableDiffusionPipeline,
    "sdxl": StableDiffusionXLPipeline,
}

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}

# A1111 sampler names -> diffusers scheduler and the settings that make it that sampler.
SAMPLERS: dict[str, tuple[type[SchedulerMixin], dict[str, Any]]] = {
    "dpmpp_2m": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "solver_order": 2}),
    "dpmpp_2m_sde": (
        DPMSolverMultistepScheduler,
        {"algorithm_type": "sde-dpmsolver++", "solver_order": 2},
    ),
    "euler": (EulerDiscreteScheduler, {}),
    "euler_ancestral": (EulerAncestralDiscreteScheduler, {}),
    "ddim": (DDIMScheduler, {}),
}

# Sigma schedules -> the scheduler flag that selects them ("default" sets none).
SIGMA_FLAGS = {"karras": "use_karras_sigmas", "exponential": "use_exponential_sigmas"}


def resolve_device(device: str = "auto") -> torch.device:
    """`auto` picks CUDA, then Apple MPS, then CPU; an explicit device must exist."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"generation.device is {device!r} but torch {torch.__version__} sees no CUDA GPU; "
            f"use device: auto or cpu, or run on a GPU node"
        )
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError(
            f"generation.device is {device!r} but MPS is not available; use auto or cpu"
        )
    return resolved


def resolve_dtype(dtype: str, device: torch.device | str) -> torch.dtype:
    """`auto` is float16 on CUDA and float32 elsewhere; an explicit dtype is used as given."""
    if dtype == "auto":
        return torch.float16 if torch.device(device).type == "cuda" else torch.float32
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; use auto or one of {', '.join(DTYPES)}")
    return DTYPES[dtype]


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def resolve_model_path(model_cfg: Mapping[str, Any], model_cache: ModelCache) -> Path:
    """The checkpoint file or diffusers folder that `generation.model.path` names."""
    if not model_cfg.get("path"):
        raise ModelFileError(
            "generation.model.path is not set; point it at a .safetensors checkpoint or a "
            "diffusers folder (relative paths are looked up in model_cache)"
        )
    return resolve_model_file(
        model_cfg["path"], model_cache, "Stable Diffusion model (generation.model.path)"
    )


def _require_safetensors(path: Path, what: str) -> None:
    check_safe_model_format(path)
    if path.suffix.lower() != ".safetensors":
        raise ModelFileError(f"{path}: {what} must be a .safetensors file or a diffusers folder")


def _config_source(
    model_cfg: Mapping[str, Any], model_cache: ModelCache, model_path: Path
) -> Path | None:
    """The diffusers folder whose configs describe single-file weights, if there is one."""
    if model_cfg.get("config_dir"):
        return resolve_model_file(
            model_cfg["config_dir"],
            model_cache,
            "diffusers config folder (generation.model.config_dir)",
        )
    return model_path if model_path.is_dir() else None


def load_vae(
    vae: str | os.PathLike[str],
    model_cache: ModelCache,
    config_source: Path | None,
    dtype: torch.dtype,
) -> AutoencoderKL:
    """A replacement VAE from a diffusers folder (a VAE or a whole pipeline) or a .safetensors file."""
    path = resolve_model_file(vae, model_cache, "VAE (generation.model.vae)")
    if path.is_dir():
        subfolder = "vae" if (path / "vae" / "config.json").is_file() else None
        return AutoencoderKL.from_pretrained(
            path, subfolder=subfolder, dtype=dtype, local_files_only=True, use_safetensors=True
        )
    _require_safetensors(path, "generation.model.vae")
    if config_source is None:
        raise ModelFileError(
            f"{path}: a single-file VAE needs its config offline; set generation.model.config_dir "
            f"to a diffusers folder with a vae/config.json (for example stable-diffusion-v1-5)"
        )
    subfolder = "vae" if (config_source / "vae" / "config.json").is_file() else None
    return AutoencoderKL.from_single_file(
        str(path),
        config=str(config_source),
        subfolder=subfolder,
        dtype=dtype,
        local_files_only=True,
    )


def _architecture_kwargs(architecture: str) -> dict[str, Any]:
    if architecture == "sd15":
        # No NSFW filter: it blanks images silently and loads a second CLIP model.
        return {"safety_checker": None, "feature_extractor": None, "requires_safety_checker": False}
    # The invisible watermark changes pixels only when its package happens to be installed.
    return {"add_watermarker": False}


def load_pipeline(
    model_cfg: Mapping[str, Any],
    model_cache: ModelCache,
    torch_dtype: torch.dtype,
    device: torch.device,
) -> DiffusionPipeline:
    """An SD1.5 or SDXL pipeline from `generation.model`, on `device`, progress bars off.

    `model_cfg` holds path, architecture (sd15 | sdxl), config_dir and vae.
    """
    architecture = model_cfg.get("architecture", "sd15")
    if architecture not in PIPELINE_CLASSES:
        raise ValueError(
            f"unknown architecture {architecture!r}; use one of {', '.join(PIPELINE_CLASSES)}"
        )
    pipeline_cls = PIPELINE_CLASSES[architecture]
    path = resolve_model_path(model_cfg, model_cache)
    config_source = _config_source(model_cfg, model_cache, path)
    kwargs = _architecture_kwargs(architecture)
    if model_cfg.get("vae"):
        kwargs["vae"] = load_vae(model_cfg["vae"], model_cache, config_source, torch_dtype)
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise ModelFileError(
                f"{path}: not a diffusers pipeline folder (no model_index.json); point "
                f"generation.model.path at the folder save_pretrained wrote, or at a .safetensors file"
            )
        try:
            pipe = pipeline_cls.from_pretrained(
                path, dtype=torch_dtype, local_files_only=True, use_safetensors=True, **kwargs
            )
        except OSError as error:  # typically .bin (pickle) weights where .safetensors are needed
            raise ModelFileError(
                f"{path}: cannot load this diffusers folder offline from .safetensors weights "
                f"({error}); re-save it with save_pretrained(..., safe_serialization=True) or fetch "
                f"it with `charfolio models --config <your config>`"
            ) from error
    else:
        _require_safetensors(path, "generation.model.path")
        if config_source is None:
            raise ModelFileError(
                f"{path}: a single-file checkpoint needs generation.model.config_dir, a local diffusers "
                f"folder with the {architecture} configs (offline nodes cannot fetch them); "
                f"`charfolio models --config <your config>` fetches it"
            )
        pipe = pipeline_cls.from_single_file(
            str(path), config=str(config_source), dtype=torch_dtype, local_files_only=True, **kwargs
        )
    pipe.to(device)
    use_sdpa_attention(pipe)
    pipe.set_progress_bar_config(disable=True)  # the shard logs its own progress and ETA
    return pipe


def use_sdpa_attention(pipe: DiffusionPipeline) -> None:
    """torch 2's scaled_dot_product_attention in UNet and VAE (fused flash / mem-efficient on GPU).

    It is diffusers' default on torch 2; setting it explicitly means every device and
    checkpoint runs the same attention code path.
    """
    for model in (pipe.unet, pipe.vae):
        model.set_attn_processor(AttnProcessor2_0())


def scheduler_overrides(sampler: str, sigmas: str) -> tuple[type[SchedulerMixin], dict[str, Any]]:
    """The scheduler class of `sampler` and the config values that select it and `sigmas`."""
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; use one of {', '.join(SAMPLERS)}")
    if sigmas != "default" and sigmas not in SIGMA_FLAGS:
        raise ValueError(f"unknown sigmas {sigmas!r}; use default, {', '.join(SIGMA_FLAGS)}")
    scheduler_cls, fixed = SAMPLERS[sampler]
    accepted = inspect.signature(scheduler_cls.__init__).parameters
    flags = [flag for flag in SIGMA_FLAGS.values() if flag in accepted]
    if sigmas != "default" and SIGMA_FLAGS[sigmas] not in flags:
        supported = ["default", *(name for name, flag in SIGMA_FLAGS.items() if flag in flags)]
        raise ValueError(
            f"sampler {sampler!r} ({scheduler_cls.__name__}) does not support sigmas {sigmas!r}; "
            f"use sigmas: {' or '.join(supported)}, or a DPM++ or euler sampler"
        )
    # Every flag is set, not just the chosen one, so a flag in the checkpoint's own scheduler
    # config cannot leak into a run that asked for another schedule.
    return scheduler_cls, {**fixed, **{flag: flag == SIGMA_FLAGS.get(sigmas) for flag in flags}}


def configure_scheduler(pipe: DiffusionPipeline, sampler: str, sigmas: str) -> dict[str, Any]:
    """Replace the pipeline's scheduler; the model's noise schedule (betas) is kept.

    Returns the config overrides applied, for the settings stored with each image.
    """
    scheduler_cls, overrides = scheduler_overrides(sampler, sigmas)
    pipe.scheduler = scheduler_cls.from_config(pipe.scheduler.config, **overrides)
    return overrides


@dataclass(frozen=True)
class LoraSpec:
    path: Path
    weight: float  # may be negative: -0.7 inverts a detail LoRA (less detail)
    adapter_name: str


# The first matrix of a LoRA pair in the formats load_lora_weights reads: kohya / A1111,
# PEFT (diffusers' own files) and diffusers' older attention-processor keys.
_LORA_DOWN_KEY = re.compile(
    r"(\.lora_down|\.lora_A|[._]lora\.down|\.lora_linear_layer\.down)\.weight$"
)
LORA_COMPONENTS = ("unet", "text_encoder", "text_encoder_2")


def lora_pair_count(state_dict: Mapping[str, torch.Tensor]) -> int:
    """How many layers a LoRA file adapts (one down / A matrix each)."""
    return sum(bool(_LORA_DOWN_KEY.search(key)) for key in state_dict)


def adapted_layer_count(pipe: DiffusionPipeline, adapter_name: str) -> int:
    """How many layers of the UNet and text encoders carry `adapter_name`."""
    return sum(
        isinstance(module, LoraLayer) and adapter_name in module.lora_A
        for name in LORA_COMPONENTS
        if (component := getattr(pipe, name, None)) is not None
        for module in component.modules()
    )


def apply_loras(pipe: DiffusionPipeline, loras: Sequence[LoraSpec]) -> None:
    """Load LoRAs (diffusers or kohya keys) and activate exactly these, at their weights.

    diffusers' set_adapters activates only the adapters it is given, so every LoRA a
    pipeline uses goes through one call. A LoRA with layers that match no layer of the
    model is refused: diffusers would load the rest and only log the keys it dropped.
    """
    for lora in loras:
        _require_safetensors(lora.path, f"LoRA {lora.adapter_name!r}")
        # Read the tensors ourselves: the file can only be safetensors, never pickle.
        state_dict = safetensors.torch.load_file(lora.path)
        pairs = lora_pair_count(state_dict)
        pipe.load_lora_weights(state_dict, adapter_name=lora.adapter_name)
        adapted = adapted_layer_count(pipe, lora.adapter_name)
        if adapted < pairs:
            pipe.delete_adapters(lora.adapter_name)
            raise ModelFileError(
                f"{lora.path}: only {adapted} of the {pairs} layers of LoRA {lora.adapter_name!r} "
                f"match a layer of this model (diffusers' warnings above name the others); use "
                f"a LoRA made for this base model, in diffusers or kohya sd-scripts keys"
            )
    if loras:
        pipe.set_adapters(
            [lora.adapter_name for lora in loras], adapter_weights=[lora.weight for lora in loras]
        )


def apply_lora(
    pipe: DiffusionPipeline,
    path: str | os.PathLike[str],
    weight: float,
    adapter_name: str = "detail",
) -> None:
    """Load one LoRA and make it the only active adapter, at `weight` (negative allowed)."""
    apply_loras(pipe, [LoraSpec(Path(path), float(weight), adapter_name)])
