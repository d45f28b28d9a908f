"""The base model for LoRA training, loaded from the same model config as generation.

`generation.model` (a diffusers folder or a single .safetensors file, SD1.5 or SDXL) goes
through `load_pipeline`, so training and generation read a checkpoint the same way (after
the training.backend's source, charfolio.lora.base_model, resolves it). The pipeline object is
kept: its components are the ones trained, and it renders the validation images.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import DDPMScheduler, DiffusionPipeline
from peft import LoraConfig
from peft.tuners.tuners_utils import BaseTunerLayer

from charfolio.generation.pipelines import ModelCache, load_pipeline, resolve_model_path
from charfolio.lora.data import Example
from charfolio.lora.presets import LoraPreset, PresetError

# Component names as diffusers' save_lora_weights / load_lora_weights spell them.
TEXT_ENCODER_NAMES = ("text_encoder", "text_encoder_2")


@dataclass(frozen=True)
class PromptEmbeddings:
    hidden: torch.Tensor  # (batch, tokens, dim): the UNet's cross-attention input
    pooled: torch.Tensor | None  # (batch, dim): SDXL's text_embeds, None for SD1.5


@dataclass
class TrainingModel:
    architecture: str  # sd15 | sdxl
    pipe: DiffusionPipeline
    model_path: Path
    noise_scheduler: DDPMScheduler

    @property
    def unet(self) -> torch.nn.Module:
        return self.pipe.unet

    @property
    def vae(self) -> torch.nn.Module:
        return self.pipe.vae

    @property
    def text_encoders(self) -> list[torch.nn.Module]:
        return [getattr(self.pipe, n) for n in TEXT_ENCODER_NAMES[: self._n_encoders]]

    @property
    def tokenizers(self) -> list[Any]:
        return [self.pipe.tokenizer] + ([self.pipe.tokenizer_2] if self._n_encoders == 2 else [])

    @property
    def _n_encoders(self) -> int:
        return 2 if self.architecture == "sdxl" else 1

    @property
    def pixel_multiple(self) -> int:
        """Image sides must be multiples of this: VAE downsampling x UNet downsampling."""
        vae = 2 ** (len(self.vae.config.block_out_channels) - 1)
        unet = 2 ** (len(self.unet.config.down_block_types) - 1)
        return vae * unet

    def named_trainable(self) -> dict[str, dict[str, torch.nn.Parameter]]:
        """Trainable (LoRA) parameters per component, by parameter name."""
        components = {
            "unet": self.unet,
            **dict(zip(TEXT_ENCODER_NAMES, self.text_encoders, strict=False)),
        }
        out = {}
        for name, module in components.items():
            params = {n: p for n, p in module.named_parameters() if p.requires_grad}
            if params:
                out[name] = params
        return out


def load_training_model(
    model_cfg: Mapping[str, Any], model_cache: ModelCache, device: torch.device
) -> TrainingModel:
    """The pipeline in float32 on `device`, every weight frozen (LoRA adds the trainable ones)."""
    pipe = load_pipeline(model_cfg, model_cache, torch.float32, device)
    for module in (pipe.unet, pipe.vae, *[getattr(pipe, n, None) for n in TEXT_ENCODER_NAMES]):
        if module is not None:
            module.requires_grad_(False)
    return TrainingModel(
        architecture=model_cfg.get("architecture", "sd15"),
        pipe=pipe,
        model_path=resolve_model_path(model_cfg, model_cache),
        # DDPM's forward process with the checkpoint's own betas and prediction type.
        noise_scheduler=DDPMScheduler.from_config(pipe.scheduler.config),
    )


def _check_targets(module: torch.nn.Module, targets: Sequence[str], what: str) -> None:
    """PEFT only fails when no target matches; a typo in one target must fail too."""
    adapted = [n for n, m in module.named_modules() if isinstance(m, BaseTunerLayer)]
    unmatched = [t for t in targets if not any(n == t or n.endswith(f".{t}") for n in adapted)]
    if unmatched:
        linear = [n for n, m in module.named_modules() if isinstance(m, torch.nn.Linear)]
        raise PresetError(
            f"{what} target modules {unmatched} match no layer of this model; targets are "
            f"module-name suffixes such as {', '.join(n.split('.', 4)[-1] for n in linear[:3])}"
        )


def add_lora_adapters(model: TrainingModel, preset: LoraPreset) -> None:
    """LoRA on the UNet (and the text encoders if trained); init from the global torch RNG."""

    def config(targets: Sequence[str]) -> LoraConfig:
        return LoraConfig(
            r=preset.rank,
            lora_alpha=preset.alpha,
            lora_dropout=preset.dropout,
            init_lora_weights="gaussian",
            target_modules=list(targets),
        )

    try:
        model.unet.add_adapter(config(preset.target_modules))
    except ValueError as error:  # PEFT: no target matched at all
        raise PresetError(f"UNet target_modules {list(preset.target_modules)}: {error}") from error
    _check_targets(model.unet, preset.target_modules, "UNet")
    if preset.train_text_encoder:
        for encoder in model.text_encoders:
            encoder.add_adapter(config(preset.text_encoder_target_modules))
            _check_targets(encoder, preset.text_encoder_target_modules, "text encoder")


def prepare_for_training(
    model: TrainingModel, preset: LoraPreset, weight_dtype: torch.dtype
) -> None:
    """Frozen weights in the mixed-precision dtype, LoRA weights stay float32 (as diffusers does).

    The VAE stays float32: latents are encoded once, and SDXL's VAE overflows in float16.
    """
    if weight_dtype != torch.float32:
        for module in [model.unet, *model.text_encoders]:
            for param in module.parameters():
                if not param.requires_grad:
                    param.data = param.data.to(weight_dtype)
    if preset.gradient_checkpointing:
        model.unet.enable_gradient_checkpointing()
        if preset.train_text_encoder:
            for encoder in model.text_encoders:
                # transformers 5 renamed it; older versions only have the first name.
                enable = getattr(encoder, "activation_checkpointing_enable", None)
                (enable or encoder.gradient_checkpointing_enable)()


def encode_prompts(
    model: TrainingModel,
    captions: Sequence[str],
    device: torch.device,
    encoders: Sequence[torch.nn.Module] | None = None,
) -> PromptEmbeddings:
    """Text embeddings as the SD1.5 / SDXL pipelines compute them (no clip skip).

    `encoders` are the accelerate-wrapped text encoders when they are trained (DDP needs
    the forward pass through its wrapper); by default the model's own.
    """
    hidden: list[torch.Tensor] = []
    pooled = None
    for tokenizer, encoder in zip(model.tokenizers, encoders or model.text_encoders, strict=True):
        ids = tokenizer(
            list(captions),
            padding="max_length",
            max_length=tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids.to(device)
        if model.architecture == "sd15":
            hidden.append(encoder(ids).last_hidden_state)
        else:
            # SDXL: the penultimate layer of both encoders, pooled from the second.
            out = encoder(ids, output_hidden_states=True)
            hidden.append(out.hidden_states[-2])
            pooled = getattr(out, "text_embeds", pooled)
    return PromptEmbeddings(torch.cat(hidden, dim=-1), pooled)


def count_truncated(model: TrainingModel, captions: Sequence[str]) -> int:
    """Captions longer than the text encoder's 77 tokens (their end is ignored)."""
    tokenizer = model.tokenizers[0]
    return sum(len(tokenizer(c).input_ids) > tokenizer.model_max_length for c in captions)


def sdxl_time_ids(examples: Sequence[Example], device: torch.device) -> torch.Tensor:
    """SDXL's size conditioning: original size, crop top-left, target size (all h, w)."""
    rows = [[*e.original_size, *e.crop_top_left, e.bucket[1], e.bucket[0]] for e in examples]
    return torch.tensor(rows, dtype=torch.float32, device=device)


def predict(
    unet: torch.nn.Module,
    model: TrainingModel,
    noisy: torch.Tensor,
    timesteps: torch.Tensor,
    prompts: PromptEmbeddings,
    time_ids: torch.Tensor | None,
) -> torch.Tensor:
    """The UNet's prediction; `unet` may be the accelerate-wrapped module of `model.unet`."""
    kwargs: dict[str, Any] = {}
    if model.architecture == "sdxl":
        assert prompts.pooled is not None and time_ids is not None
        kwargs["added_cond_kwargs"] = {"text_embeds": prompts.pooled, "time_ids": time_ids}
    return unet(
        noisy, timesteps, encoder_hidden_states=prompts.hidden, return_dict=False, **kwargs
    )[0]


@torch.no_grad()
def encode_latents(model: TrainingModel, pixels: torch.Tensor, seed: int) -> torch.Tensor:
    """One image's latent (4 x h/8 x w/8 for SD), sampled with its own seed, on the CPU."""
    vae = model.vae
    generator = torch.Generator().manual_seed(seed)
    batch = pixels[None].to(vae.device, dtype=vae.dtype)
    latent = vae.encode(batch).latent_dist.sample(generator=generator)
    shift = getattr(vae.config, "shift_factor", None) or 0.0
    return ((latent - shift) * vae.config.scaling_factor)[0].float().cpu()
