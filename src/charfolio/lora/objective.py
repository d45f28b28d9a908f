"""The denoising objective: noise, timesteps and the (optionally Min-SNR weighted) MSE.

Noise is drawn on the CPU from a seeded generator and then moved to the device, so the
same seed gives the same noise on any GPU or CPU, and resumed runs replay it exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from diffusers.training_utils import compute_snr

from charfolio.lora.model import PromptEmbeddings, TrainingModel, predict


def derived_seed(*key: int) -> int:
    """A 63-bit seed from integers: independent streams for (seed, phase, epoch, batch, ...)."""
    return int(
        np.random.SeedSequence([int(k) & 0xFFFFFFFF for k in key]).generate_state(2, np.uint64)[0]
        >> 1
    )


def draw_noise(
    shape: Sequence[int], num_timesteps: int, seed: int, noise_offset: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Training noise and uniform timesteps for a batch of latents of `shape`."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(tuple(shape), generator=generator)
    if noise_offset:
        # A per-channel constant shift, so the model can learn very dark and very light images.
        noise = noise + noise_offset * torch.randn((shape[0], shape[1], 1, 1), generator=generator)
    timesteps = torch.randint(0, num_timesteps, (shape[0],), generator=generator)
    return noise, timesteps


def fixed_noise(shape: Sequence[int], seed: int) -> torch.Tensor:
    return torch.randn(tuple(shape), generator=torch.Generator().manual_seed(seed))


def per_sample_loss(
    model: TrainingModel,
    unet: torch.nn.Module,
    latents: torch.Tensor,
    noise: torch.Tensor,
    timesteps: torch.Tensor,
    prompts: PromptEmbeddings,
    time_ids: torch.Tensor | None,
    min_snr_gamma: float | None = None,
) -> torch.Tensor:
    """MSE between the UNet's prediction and its target, one value per sample (float32)."""
    scheduler = model.noise_scheduler
    noisy = scheduler.add_noise(latents, noise, timesteps)
    prediction_type = scheduler.config.prediction_type
    if prediction_type == "epsilon":
        target = noise
    elif prediction_type == "v_prediction":
        target = scheduler.get_velocity(latents, noise, timesteps)
    else:
        raise ValueError(
            f"{model.model_path}: prediction_type {prediction_type!r} is not supported for "
            f"training; use an epsilon or v_prediction checkpoint"
        )
    prediction = predict(unet, model, noisy, timesteps, prompts, time_ids)
    loss = F.mse_loss(prediction.float(), target.float(), reduction="none")
    loss = loss.mean(dim=tuple(range(1, loss.ndim)))
    if min_snr_gamma is not None:
        # Min-SNR-gamma (Hang et al. 2023): cap the weight of low-noise timesteps.
        snr = compute_snr(scheduler, timesteps)
        capped = torch.clamp(snr, max=min_snr_gamma)
        loss = loss * (capped / (snr + 1 if prediction_type == "v_prediction" else snr))
    return loss
