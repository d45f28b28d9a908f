"""A training session: everything a TrainingJob builds before the first step.

`open_session` is the factory between the config object (`TrainingJob`, with its validated
preset) and the loop in train.py: accelerator, tier data with latents encoded once, the
model with LoRA adapters, the optimizer, text embeddings of frozen encoders, and each
phase's batch plan.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

from charfolio.generation.pipelines import resolve_device
from charfolio.lora.base_model import BaseModelSource, create_base_model
from charfolio.lora.data import (
    Bucket,
    TierData,
    TierRow,
    epoch_batches,
    group_values,
    iter_pixels,
    make_buckets,
    read_tier,
    sampling_probabilities,
)
from charfolio.lora.export import kohya_state_dict, lora_layers
from charfolio.lora.factory import (
    WEIGHT_DTYPES,
    build_accelerator,
    build_optimizer,
    resolve_mixed_precision,
)
from charfolio.lora.model import (
    TEXT_ENCODER_NAMES,
    PromptEmbeddings,
    TrainingModel,
    add_lora_adapters,
    count_truncated,
    encode_latents,
    encode_prompts,
    load_training_model,
    prepare_for_training,
)
from charfolio.lora.objective import derived_seed
from charfolio.lora.presets import LoraPreset, Phase
from charfolio.lora.provenance import fingerprint
from charfolio.lora.validation_loss import CachedExample

DEFAULT_RESOLUTION = {"sd15": 512, "sdxl": 1024}
Plan = list[list[tuple[int, ...]]]  # per epoch: this process's batches (indices into train)


@dataclass(frozen=True)
class TrainingJob:
    """Everything one run needs, resolved: the config object the session is built from."""

    tier_dir: Path
    out_dir: Path
    preset: LoraPreset
    preset_mapping: Mapping[str, Any]  # as given, recorded for reproduction
    model_cfg: Mapping[str, Any]  # generation.model
    model_cache: str | None
    backend: str  # training.backend: the base-model source
    backend_options: Mapping[str, Any]  # training.<backend>, the source's own options
    device: str
    state_dir: Path | None = None  # default out_dir/state
    stop_after_epoch: int | None = None  # stop (resumably) once this many epochs are done
    stop_after_step: int | None = None  # stop (resumably) once this many steps are done


@dataclass
class TrainingSession:
    job: TrainingJob
    accelerator: Accelerator
    mixed_precision: str
    tier: TierData
    base_model: BaseModelSource  # training.backend's source of the model
    model_config: dict[str, Any]  # what was loaded, as the source resolved it
    model: TrainingModel
    resolution: int
    buckets: tuple[Bucket, ...]
    train_items: list[CachedExample]
    val_items: list[CachedExample]
    trained_modules: list[torch.nn.Module]  # accelerate-prepared: UNet, then text encoders
    unet_params: list[torch.nn.Parameter]
    text_encoder_params: list[torch.nn.Parameter]
    optimizer: torch.optim.Optimizer
    prompt_cache: dict[str, PromptEmbeddings]  # empty when the text encoders are trained
    fingerprint: str
    plans: list[Plan]  # per phase

    @property
    def preset(self) -> LoraPreset:
        return self.job.preset

    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    @property
    def unet(self) -> torch.nn.Module:
        """The UNet as the training forward pass must call it (DDP-wrapped on several GPUs)."""
        return self.trained_modules[0]

    def embed(self, captions: Sequence[str], training: bool) -> PromptEmbeddings:
        """Prompt embeddings: cached for frozen encoders, else through the (wrapped) encoders."""
        if self.prompt_cache:
            parts = [self.prompt_cache[c] for c in captions]
            pooled = [p.pooled for p in parts if p.pooled is not None]
            return PromptEmbeddings(
                torch.cat([p.hidden for p in parts]), torch.cat(pooled) if pooled else None
            )
        encoders = self.trained_modules[1:] if training else None
        return encode_prompts(self.model, captions, self.device, encoders)

    def lora_modules(self) -> dict[str, torch.nn.Module]:
        """Components with LoRA, unwrapped, by their diffusers names (for export and state)."""
        modules = {"unet": self.model.unet}
        if self.preset.train_text_encoder:
            modules.update(zip(TEXT_ENCODER_NAMES, self.model.text_encoders, strict=False))
        return modules

    def steps(self, plan: Plan) -> int:
        accumulation = self.preset.gradient_accumulation_steps
        return sum(math.ceil(len(epoch) / accumulation) for epoch in plan)

    @property
    def total_steps(self) -> int:
        return sum(self.steps(plan) for plan in self.plans)


def open_session(job: TrainingJob, log: Callable[[str], None]) -> TrainingSession:
    preset = job.preset
    device = resolve_device(job.device)
    mixed_precision = resolve_mixed_precision(preset.mixed_precision, device)
    accelerator = build_accelerator(mixed_precision, device)
    tier = read_tier(job.tier_dir)
    base_model = create_base_model(job.backend, job.backend_options)
    model_config = base_model.model_config(job.model_cfg, job.model_cache)
    model = load_training_model(model_config, job.model_cache, accelerator.device)
    resolution = preset.resolution or DEFAULT_RESOLUTION[model.architecture]
    _check_sizes(preset, resolution, model.pixel_multiple)
    buckets = make_buckets(
        resolution, preset.bucket_step, preset.max_aspect_ratio, preset.aspect_ratio_buckets
    )
    set_seed(preset.seed)  # LoRA init draws from the global RNGs
    add_lora_adapters(model, preset)
    prepare_for_training(model, preset, WEIGHT_DTYPES[mixed_precision])
    if model.architecture == "sdxl":  # fail now, not after training, on an unmappable module
        layers = lora_layers({"unet": model.unet})
        kohya_state_dict(layers, "sdxl", preset.alpha, model.unet.config.layers_per_block)
    train_items = _cache_latents(model, tier.train, buckets, preset.seed)
    val_items = _cache_latents(model, tier.val, buckets, preset.seed)
    trained = [model.unet, *(model.text_encoders if preset.train_text_encoder else [])]
    for module in trained:
        module.train()
    prepared = accelerator.prepare(*trained)
    prepared = list(prepared) if isinstance(prepared, (list, tuple)) else [prepared]
    named = model.named_trainable()
    unet_params = list(named["unet"].values())
    text_encoder_params = [p for n, ps in named.items() if n != "unet" for p in ps.values()]
    optimizer = accelerator.prepare(build_optimizer(unet_params, text_encoder_params, preset))
    prompt_cache = _cache_prompts(model, preset, train_items + val_items, accelerator, log)
    plans = [
        _phase_plan(i, phase, train_items, preset, accelerator, log)
        for i, phase in enumerate(preset.phases)
    ]
    return TrainingSession(
        job=job, accelerator=accelerator, mixed_precision=mixed_precision, tier=tier,
        base_model=base_model, model_config=model_config, model=model, resolution=resolution, buckets=buckets,
        train_items=train_items, val_items=val_items, trained_modules=prepared,
        unet_params=unet_params, text_encoder_params=text_encoder_params, optimizer=optimizer,
        prompt_cache=prompt_cache, fingerprint=fingerprint(preset, model_config, job.backend, tier),
        plans=plans,
    )  # fmt: skip


def _check_sizes(preset: LoraPreset, resolution: int, multiple: int) -> None:
    for key, value in (("resolution", resolution), ("bucket_step", preset.bucket_step)):
        if value % multiple:
            raise ValueError(
                f"preset {preset.name!r}: {key} {value} must be a multiple of {multiple} for "
                f"this model (VAE and UNet downsampling)"
            )


def _cache_latents(
    model: TrainingModel, rows: Sequence[TierRow], buckets: Sequence[Bucket], seed: int
) -> list[CachedExample]:
    """Each image's latent, sampled once with a seed of its own (stable across runs)."""
    items = []
    for example, pixels in iter_pixels(rows, buckets):
        image_seed = derived_seed(seed, zlib.crc32(example.row.key.encode()))
        items.append(CachedExample(example, encode_latents(model, pixels, image_seed)))
    return items


@torch.no_grad()
def _cache_prompts(
    model: TrainingModel,
    preset: LoraPreset,
    items: Sequence[CachedExample],
    accelerator: Accelerator,
    log: Callable[[str], None],
) -> dict[str, PromptEmbeddings]:
    """Frozen text encoders: each distinct caption is encoded once."""
    captions = list(dict.fromkeys(i.example.row.caption for i in items))
    truncated = count_truncated(model, captions)
    if truncated:
        log(f"{truncated} captions are longer than 77 tokens; their end is ignored")
    if preset.train_text_encoder:
        return {}
    with accelerator.autocast():
        return {c: encode_prompts(model, [c], accelerator.device) for c in captions}


def _phase_plan(
    index: int,
    phase: Phase,
    items: Sequence[CachedExample],
    preset: LoraPreset,
    accelerator: Accelerator,
    log: Callable[[str], None],
) -> Plan:
    """Each epoch's batches for this process (every process draws the same global order)."""
    examples = [i.example for i in items]
    probabilities = None
    if phase.data_mix is not None:
        rows = [e.row for e in examples]
        probabilities = sampling_probabilities(rows, phase.data_mix)
        realised: dict[str, float] = {}
        for group, p in zip(group_values(rows, phase.data_mix.column), probabilities, strict=True):
            realised[group] = realised.get(group, 0.0) + float(p)
        shares = ", ".join(f"{g}: {s:.0%}" for g, s in sorted(realised.items()))
        log(f"phase {phase.name}: sampling by {phase.data_mix.column} ({shares})")
        absent = sorted(set(phase.data_mix.shares or {}) - set(realised))
        if absent:
            log(f"phase {phase.name}: no train image has {phase.data_mix.column} in {absent}")
    n_proc, rank = accelerator.num_processes, accelerator.process_index
    plan = []
    for epoch in range(phase.epochs):
        batches = epoch_batches(
            examples, preset.batch_size, (preset.seed, index, epoch), probabilities
        )
        # Round-robin over processes; the tail wraps around so every process has as many
        # batches (an uneven count would leave one process waiting in all-reduce).
        rounds = math.ceil(len(batches) / n_proc)
        plan.append([batches[(r * n_proc + rank) % len(batches)] for r in range(rounds)])
    return plan
