"""Where a LoRA run writes its files (out_dir, typically results/{character}/lora/{preset}/)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class OutputPaths:
    root: Path
    state: Path  # resumable state; outside Snakemake's declared outputs, so a failed job keeps it

    @property
    def lora_diffusers(self) -> Path:
        return self.root / "lora_diffusers.safetensors"

    @property
    def lora_kohya(self) -> Path:
        return self.root / "lora_kohya.safetensors"

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
        return self.root / "training_config.json"

    @property
    def image_losses(self) -> Path:
        return self.root / "image_losses.csv"

    @property
    def worst_images(self) -> Path:
        return self.root / "worst_images.json"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

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
