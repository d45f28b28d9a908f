"""Build the runtime objects a preset describes: accelerator, optimizer, LR scheduler."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState, PartialState
from diffusers.optimization import get_scheduler

from charfolio.lora.presets import LoraPreset, Phase

WEIGHT_DTYPES = {"no": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_mixed_precision(setting: str, device: torch.device) -> str:
    """`auto`: bf16 on GPUs that support it, else fp16 on CUDA; fp32 (`no`) elsewhere."""
    if setting == "auto":
        if device.type != "cuda":
            return "no"
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if setting == "fp16" and device.type != "cuda":
        raise ValueError(
            f"mixed_precision fp16 needs a CUDA GPU (device is {device}); use bf16 or no"
        )
    return setting


def build_accelerator(mixed_precision: str, device: torch.device) -> Accelerator:
    """One Accelerator per process; `accelerate launch` makes it multi-GPU (DDP).

    Gradient accumulation is done by the training loop itself (explicit groups that end
    with each epoch), so the Accelerator's own accumulation stays at 1.
    """
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device.index)  # a single-process run on the chosen GPU
    if not PartialState().use_distributed:
        # accelerate keeps the first run's mixed precision process-wide and refuses another;
        # a single process (a notebook, the tests) may train several presets one after another.
        AcceleratorState._reset_state()
    try:
        return Accelerator(mixed_precision=mixed_precision, cpu=device.type == "cpu")
    except ValueError as error:
        raise ValueError(
            f"cannot set up accelerate with mixed_precision={mixed_precision!r} on {device} "
            f"({error}); under `accelerate launch` every process must use the same setting"
        ) from error


def phase_learning_rates(preset: LoraPreset, phase: Phase, groups: int) -> list[float]:
    """UNet at the phase's learning rate; text encoders scaled by the same phase factor."""
    factor = phase.learning_rate / preset.learning_rate
    return [phase.learning_rate, preset.text_encoder_learning_rate * factor][:groups]


def start_phase(optimizer: torch.optim.Optimizer, learning_rates: Sequence[float]) -> None:
    """Fresh Adam moments and the phase's learning rates, on the run's one optimizer.

    One optimizer for the whole run, not one per phase: accelerate keeps every prepared
    optimizer and would unscale fp16 gradients once per optimizer (twice in phase 2).
    """
    optimizer.state.clear()  # the optimizers initialise a parameter's state when it is empty
    for group, lr in zip(optimizer.param_groups, learning_rates, strict=True):
        group["lr"] = lr
        group.pop("initial_lr", None)  # the phase's new LR scheduler records it again


def build_optimizer(
    unet_params: Sequence[torch.nn.Parameter],
    text_encoder_params: Sequence[torch.nn.Parameter],
    preset: LoraPreset,
) -> torch.optim.Optimizer:
    """AdamW(8bit) over the UNet LoRA and (if trained) the text-encoder LoRA, in two groups."""
    groups = [{"params": list(unet_params), "lr": preset.learning_rate}]
    if text_encoder_params:
        groups.append(
            {"params": list(text_encoder_params), "lr": preset.text_encoder_learning_rate}
        )
    kwargs = {
        "betas": (preset.adam_beta1, preset.adam_beta2),
        "weight_decay": preset.adam_weight_decay,
        "eps": preset.adam_epsilon,
    }
    if preset.optimizer == "adamw8bit":
        try:
            import bitsandbytes as bnb
        except ImportError as error:
            raise ImportError(
                f"optimizer adamw8bit needs bitsandbytes ({error}); install charfolio[torch] "
                f"or set optimizer: adamw in the preset"
            ) from error
        return bnb.optim.AdamW8bit(groups, **kwargs)
    return torch.optim.AdamW(groups, **kwargs)


def build_lr_scheduler(
    optimizer: torch.optim.Optimizer, preset: LoraPreset, phase: Phase, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """diffusers' scheduler for one phase; stepped once per optimizer step."""
    return get_scheduler(
        phase.lr_scheduler,
        optimizer,
        num_warmup_steps=phase.lr_warmup_steps,
        num_training_steps=total_steps,
        num_cycles=preset.lr_num_cycles,
        power=preset.lr_power,
    )
