"""What a training run records about itself: training_config.json and summary.json.

training_config.json says what the run was (model as loaded, data, derived settings,
seeds, the resume fingerprint); summary.json what it gave (exports, checkpoints, losses,
speed). Both are built here from the job, its session and the loop's counters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from charfolio.core.paths import portable_model_config, portable_path
from charfolio.lora.layout import OutputPaths
from charfolio.lora.provenance import training_config
from charfolio.lora.session import TrainingJob, TrainingSession


def format_loss(value: float | None) -> str:
    """A loss as the CSV logs write it ("" for none)."""
    return "" if value is None else f"{value:.6g}"


def parse_loss(text: str | None) -> float | None:
    return float(text) if text else None


def run_training_config(job: TrainingJob, s: TrainingSession) -> dict[str, Any]:
    """The content of training_config.json for the run of `job` in session `s`."""
    preset = job.preset
    buckets: dict[str, int] = {}
    for item in s.train_items:
        key = "{}x{}".format(*item.example.bucket)
        buckets[key] = buckets.get(key, 0) + 1
    processes = s.accelerator.num_processes
    return training_config(
        preset=preset,
        preset_mapping=job.preset_mapping,
        model={"backend": job.backend, "config": dict(job.model_cfg),
               "loaded": portable_model_config(s.model_config),
               "path": portable_path(s.model.model_path),
               "architecture": s.model.architecture, "model_cache": job.model_cache},
        data={"tier_dir": portable_path(job.tier_dir), "manifest_sha256": s.tier.manifest_sha256,
              "content_sha256": s.tier.content_sha256, "train": len(s.train_items),
              "val": len(s.val_items), "columns": list(s.tier.columns),
              "train_buckets": dict(sorted(buckets.items()))},
        derived={"resolution": s.resolution, "mixed_precision": s.mixed_precision,
                 "device": str(s.device), "num_processes": processes,
                 "effective_batch_size":
                     preset.batch_size * preset.gradient_accumulation_steps * processes,
                 "total_epochs": preset.total_epochs, "total_steps": s.total_steps,
                 "prediction_type": s.model.noise_scheduler.config.prediction_type},
        seeds={"seed": preset.seed, "validation_noise_seed": preset.validation.noise_seed,
               "sample_seeds": list(preset.validation.seeds),
               **s.base_model.recorded_seeds()},
        fingerprint=s.fingerprint,
    )  # fmt: skip


def run_summary(
    paths: OutputPaths,
    preset_name: str,
    epoch_rows: Sequence[Mapping[str, str]],
    *,
    complete: bool,
    resumed: bool,
    epochs: int,
    global_steps: int,
    worst: Sequence[Mapping[str, Any]],
    seconds: float,
    first_step_at: float | None,
    steps: int,
    training_seconds: float,
) -> dict[str, Any]:
    """The content of summary.json; `steps` / `training_seconds` are this run's (speed)."""
    rate = steps / training_seconds if training_seconds else None
    return {
        "complete": complete,
        "preset": preset_name,
        "out_dir": portable_path(paths.root),
        "lora_diffusers": portable_path(paths.lora_diffusers) if complete else None,
        "lora_kohya": portable_path(paths.lora_kohya) if complete else None,
        "checkpoints": [portable_path(p) for p in paths.checkpoints_written()],
        "epochs": epochs,
        "global_steps": global_steps,
        "resumed": resumed,
        "val_loss": {r["epoch"]: parse_loss(r["val_loss"]) for r in epoch_rows},
        "train_loss": {
            r["epoch"]: parse_loss(r["train_loss"]) for r in epoch_rows if r["train_loss"]
        },
        "worst_images": [r["file"] for r in worst],
        "seconds": round(seconds, 3),
        "seconds_to_first_step": None if first_step_at is None else round(first_step_at, 3),
        "steps_per_second": None if rate is None else round(rate, 4),
    }
