"""Resuming a run: a session's LoRA weights and optimizer saved with their position, and restored.

training_state.py is the file format; this module maps a live session onto it. A state is
continued only by the configuration that saved it (same fingerprint); any other starts over.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from charfolio.lora import training_state as checkpoints
from charfolio.lora.session import TrainingSession


class ResumeError(RuntimeError):
    """The saved state does not fit the model it should continue."""


def named_lora(session: TrainingSession) -> dict[str, torch.nn.Parameter]:
    """Every trainable (LoRA) parameter, keyed "component/parameter name"."""
    named = session.model.named_trainable()
    return {f"{c}/{n}": p for c, params in named.items() for n, p in params.items()}


def restore_state(
    session: TrainingSession, folder: Path, log: Callable[[str], None]
) -> checkpoints.SavedState | None:
    """The state saved in `folder`, its LoRA weights (and grad scaler) loaded into `session`;
    None when there is none or it belongs to another configuration."""
    state = checkpoints.load_state(folder)
    if state is None:
        return None
    if state.fingerprint != session.fingerprint:
        # The preset, model or tier changed since that state was saved (Snakemake reruns
        # the rule): it cannot be continued, so this is a new run.
        log(
            f"{folder} holds the state of another configuration (preset, model or "
            f"tier data changed): training from scratch"
        )
        return None
    flat = named_lora(session)
    if set(flat) != set(state.lora):
        raise ResumeError(
            f"{folder}: its LoRA weights do not match this model's adapters; "
            f"delete {folder} to start again"
        )
    with torch.no_grad():
        for key, param in flat.items():
            param.copy_(state.lora[key].to(param.device, param.dtype))
    scaler = session.accelerator.scaler
    if scaler is not None and state.extra.get("grad_scaler"):
        scaler.load_state_dict(state.extra["grad_scaler"])
    return state


def save_state(
    session: TrainingSession,
    folder: Path,
    position: checkpoints.Position,
    lora: Mapping[str, torch.nn.Parameter],
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
) -> None:
    """Save `position` with the weights, RNGs and, mid-phase (`scheduler`), the optimizer."""
    scaler = session.accelerator.scaler
    checkpoints.save_state(
        folder,
        checkpoints.SavedState(
            position=position,
            fingerprint=session.fingerprint,
            lora=dict(lora),
            optimizer=session.optimizer.state_dict() if scheduler is not None else None,
            scheduler=scheduler.state_dict() if scheduler is not None else None,
            rng=checkpoints.capture_rng(),
            extra={"grad_scaler": scaler.state_dict() if scaler is not None else None},
        ),
    )
