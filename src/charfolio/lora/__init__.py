"""LoRA training on a tier: `train_lora(tier_dir, generation.model, preset, out_dir)`.

Layers, one concept per module: presets (the config object and its validation) -> session
(the factory: data, model, factory, export) -> train (the loop) -> this thin entry.
Outputs in out_dir (layout.py):

    lora_diffusers.safetensors   pipe.load_lora_weights(...)
    lora_kohya.safetensors       A1111 / Forge / ComfyUI
    checkpoints/epoch-NNNN.safetensors, samples/epoch-NNNN/*.png
    loss_log.csv, epochs.csv, loss_curve.png, image_losses.csv, worst_images.json
    training_config.json, summary.json (written last: the run is complete), state/ (resume)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from charfolio.core.lazy import lazy_exports
from charfolio.lora.base_model import require_base_model
from charfolio.lora.preset_fields import FIELDS, TARGET_MODULE_SETS
from charfolio.lora.presets import (
    BUILTIN_PRESETS,
    LoraPreset,
    PresetError,
    resolve_preset,
    validate_preset,
)

# Imported on first use: they pull in torch, diffusers and peft (seconds), and the Snakefile
# imports this package's presets at every start of every job.
_LAZY = {
    "KohyaExportError": "charfolio.lora.export",
    "OutputPaths": "charfolio.lora.layout",
    "TrainingJob": "charfolio.lora.session",
    "LoraTrainer": "charfolio.lora.train",
    "NonFiniteLossError": "charfolio.lora.train",
    "ResumeError": "charfolio.lora.resume",
}

__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "BUILTIN_PRESETS",
    "FIELDS",
    "TARGET_MODULE_SETS",
    "KohyaExportError",
    "LoraPreset",
    "NonFiniteLossError",
    "OutputPaths",
    "PresetError",
    "ResumeError",
    "resolve_preset",
    "train_lora",
    "validate_preset",
]


def train_lora(
    manifest_dir: str | os.PathLike[str],
    model_cfg: Mapping[str, Any],
    preset: Mapping[str, Any],
    out_dir: str | os.PathLike[str],
    *,
    model_cache: str | os.PathLike[str] | None = None,
    backend: str = "diffusers",
    backend_options: Mapping[str, Any] | None = None,
    device: str = "auto",
    log: Callable[[str], None] = print,
    user_presets: Mapping[str, Mapping[str, Any]] | None = None,
    state_dir: str | os.PathLike[str] | None = None,
    stop_after_epoch: int | None = None,
    stop_after_step: int | None = None,
) -> dict[str, Any]:
    """Train a LoRA on the tier `manifest_dir` into `out_dir`; returns the run summary.

    `model_cfg` is `generation.model` (path, architecture, config_dir, vae); `backend` is
    training.backend, the source of the model (charfolio.lora.base_model), and
    `backend_options` its config section (training.<backend>). A preset with `extends` is resolved
    against `user_presets` and the built-in ones. Rerunning after a kill resumes from the
    last saved state; `stop_after_epoch` / `stop_after_step` end a run early, resumably.
    """
    # First: a missing model is a setup step (`charfolio models`), so say so before loading.
    require_base_model(model_cfg, backend, model_cache)
    from charfolio.lora.session import TrainingJob
    from charfolio.lora.train import LoraTrainer

    resolved = validate_preset(preset, user_presets)
    job = TrainingJob(
        tier_dir=Path(manifest_dir),
        out_dir=Path(out_dir),
        preset=resolved,
        preset_mapping=dict(preset),
        model_cfg=dict(model_cfg),
        model_cache=None if model_cache is None else str(model_cache),
        backend=backend,
        backend_options=dict(backend_options or {}),
        device=device,
        state_dir=None if state_dir is None else Path(state_dir),
        stop_after_epoch=stop_after_epoch,
        stop_after_step=stop_after_step,
    )
    return LoraTrainer(job, log).run()
