"""Where a LoRA run writes its files (out_dir: core.layout's lora_run, or any folder)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from charfolio.core.layout import LORA_DIFFUSERS, LORA_KOHYA, LORA_SUMMARY, LORA_TRAINING_CONFIG


@dataclass(frozen=True)
class OutputPaths:
    root: Path
    state: Path  # resumable state; outside Snakemake's declared outputs, so a failed job keeps it

    @property
    def lora_diffusers(self) -> Path:
        return self.root / LORA_DIFFUSERS

    @property
    def lora_kohya(self) -> Path:
        return self.root / LORA_KOHYA

    @property
    def loss_log(self) -> Path:
        return self.root / "loss_log.csv"

    @property
    def epoch_log(self) -> Path:
        return self.root / "epochs.csv"

    @property
    def loss_curve(self) -> Path:
        return self.root / "loss_curve.png"

    @property
    def config(self) -> Path:
        return self.root / LORA_TRAINING_CONFIG

    @property
    def image_losses(self) -> Path:
        return self.root / "image_losses.csv"

    @property
    def worst_images(self) -> Path:
        return self.root / "worst_images.json"

    @property
    def summary(self) -> Path:
        return self.root / LORA_SUMMARY

    def checkpoint(self, epoch: int) -> Path:
        return self.root / "checkpoints" / f"epoch-{epoch:04d}.safetensors"

    def samples(self, epoch: int) -> Path:
        return self.root / "samples" / f"epoch-{epoch:04d}"

    def checkpoints_written(self) -> list[Path]:
        return sorted((self.root / "checkpoints").glob("epoch-*.safetensors"))

    def clear(self) -> None:
        """A run from scratch: no checkpoint, sample or export of an earlier run may remain."""
        for folder in (self.root / "checkpoints", self.root / "samples"):
            shutil.rmtree(folder, ignore_errors=True)
        for path in (self.lora_diffusers, self.lora_kohya, self.image_losses, self.worst_images,
                     self.summary, self.loss_curve):  # fmt: skip
            path.unlink(missing_ok=True)
