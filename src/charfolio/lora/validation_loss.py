"""Validation loss, sample images and the per-image loss scan.

Validation loss uses FIXED noise and timesteps (seeded per image and timestep), so two
epochs (or two presets on the same tier) are compared on exactly the same problem; it is
the plain MSE, without Min-SNR weighting or noise offset. The per-image scan measures the
training images the same way and lists those the model fits worst.
"""

from __future__ import annotations

import csv
import json
import os
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from charfolio.core.atomic import atomic_path, write_text_atomic
from charfolio.generation.pipelines import configure_scheduler
from charfolio.lora.data import Example
from charfolio.lora.model import PromptEmbeddings, TrainingModel, sdxl_time_ids
from charfolio.lora.objective import derived_seed, fixed_noise, per_sample_loss
from charfolio.lora.presets import ValidationSettings

# Columns of the manifest copied into the loss scan, when the manifest has them.
SCAN_COLUMNS = ("rank", "cluster", "seed", "quality_score")


@dataclass(frozen=True)
class CachedExample:
    """An example with its latent encoded once (no augmentation: the latent never changes)."""

    example: Example
    latent: torch.Tensor  # CPU float32, C x h x w

    @property
    def key(self) -> str:
        return self.example.row.key


@contextmanager
def eval_mode(*modules: torch.nn.Module) -> Iterator[None]:
    """Dropout off while measuring; the modules' previous modes afterwards."""
    modes = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(modules, modes, strict=True):
            m.train(mode)


@torch.no_grad()
def fixed_noise_losses(
    model: TrainingModel,
    items: Sequence[CachedExample],
    embed: Callable[[Sequence[str]], PromptEmbeddings],
    settings: ValidationSettings,
    device: torch.device,
    autocast: Callable[[], AbstractContextManager[Any]],
) -> list[float]:
    """Each item's loss averaged over the fixed timesteps, in one batch per image."""
    timesteps = torch.tensor(settings.loss_timesteps, dtype=torch.long, device=device)
    k = len(settings.loss_timesteps)
    losses = []
    with eval_mode(model.unet, *model.text_encoders):
        for item in items:
            image_id = zlib.crc32(item.key.encode())  # the noise follows the image, not its order
            noise = torch.stack(
                [
                    fixed_noise(item.latent.shape, derived_seed(settings.noise_seed, image_id, i))
                    for i in range(k)
                ]
            ).to(device)
            latents = item.latent.to(device).expand(k, *item.latent.shape)
            prompts = embed([item.example.row.caption] * k)
            time_ids = (
                sdxl_time_ids([item.example] * k, device) if model.architecture == "sdxl" else None
            )
            with autocast():
                loss = per_sample_loss(
                    model, model.unet, latents, noise, timesteps, prompts, time_ids
                )
            losses.append(float(loss.mean()))
    return losses


def sample_prompts(
    settings: ValidationSettings, val: Sequence[Example], train: Sequence[Example]
) -> list[str]:
    """The fixed sample prompts: configured, else the first distinct val (or train) captions."""
    if settings.prompts is not None:
        return list(settings.prompts)
    captions = dict.fromkeys(e.row.caption for e in (val or train))
    return list(captions)[: settings.num_prompts]


@torch.no_grad()
def render_samples(
    model: TrainingModel,
    prompts: Sequence[str],
    settings: ValidationSettings,
    size: tuple[int, int],
    out_dir: Path,
    autocast: Callable[[], AbstractContextManager[Any]],
) -> list[Path]:
    """One PNG per prompt and seed (a thumbnail of at most save_size px), into `out_dir`."""
    pipe = model.pipe
    configure_scheduler(pipe, settings.sampler, "default")
    width, height = size
    paths = []
    with eval_mode(model.unet, *model.text_encoders):
        for p, prompt in enumerate(prompts):
            for seed in settings.seeds:
                with autocast():
                    latents = pipe(
                        prompt=prompt,
                        num_inference_steps=settings.steps,
                        guidance_scale=settings.guidance_scale,
                        width=width,
                        height=height,
                        generator=torch.Generator().manual_seed(seed),
                        output_type="latent",
                    ).images
                image = decode_latents(pipe, latents)
                image.thumbnail((settings.save_size, settings.save_size), Image.Resampling.LANCZOS)
                path = out_dir / f"prompt{p:02d}-seed{seed}.png"
                with atomic_path(path) as tmp:
                    image.save(tmp, format="PNG")
                paths.append(path)
    write_text_atomic(
        out_dir / "prompts.json",
        json.dumps({"prompts": list(prompts), "seeds": list(settings.seeds)}, indent=2) + "\n",
    )
    return paths


@torch.no_grad()
def decode_latents(pipe: Any, latents: torch.Tensor) -> Image.Image:
    """Decode outside autocast with the float32 VAE (SDXL's VAE overflows in float16)."""
    vae = pipe.vae
    latents = latents.to(vae.dtype)
    mean, std = getattr(vae.config, "latents_mean", None), getattr(vae.config, "latents_std", None)
    if mean is not None and std is not None:
        shape = (1, len(mean), 1, 1)
        mean_t = torch.tensor(mean).view(shape).to(latents)
        std_t = torch.tensor(std).view(shape).to(latents)
        latents = latents * std_t / vae.config.scaling_factor + mean_t
    else:
        latents = latents / vae.config.scaling_factor
    image = vae.decode(latents, return_dict=False)[0]
    return pipe.image_processor.postprocess(image, output_type="pil")[0]


def write_loss_scan(
    items: Sequence[CachedExample],
    losses: Sequence[float],
    csv_path: str | os.PathLike[str],
    json_path: str | os.PathLike[str],
    worst: int,
    settings: ValidationSettings,
) -> list[dict[str, Any]]:
    """image_losses.csv (every image, worst first) and worst_images.json (the top `worst`)."""
    rows = []
    for item, loss in zip(items, losses, strict=True):
        columns = item.example.row.columns
        rows.append(
            {
                "file": item.key,
                "split": item.example.row.split,
                "loss": loss,
                **{c: columns[c] for c in SCAN_COLUMNS if c in columns},
                "caption": item.example.row.caption,
            }
        )
    rows.sort(key=lambda r: r["loss"], reverse=True)
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_path(csv_path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    train = [r for r in rows if r["split"] == "train"]
    report = {
        "description": "training images the model fits worst: denoising MSE at fixed noise",
        "loss_timesteps": list(settings.loss_timesteps),
        "noise_seed": settings.noise_seed,
        "mean_train_loss": sum(r["loss"] for r in train) / len(train) if train else None,
        "worst": train[:worst],
    }
    write_text_atomic(json_path, json.dumps(report, indent=2) + "\n")
    return train[:worst]
