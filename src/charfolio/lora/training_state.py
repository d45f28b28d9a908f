"""Resumable training state: LoRA weights, optimizer, LR scheduler, RNGs and data position.

Nothing is pickled (the project loads no pickle): tensors go into one .safetensors file and
everything else into JSON, through a small tree codec that keeps ints, tuples and arrays.

    state/
      latest.json          {"dir": "step-000048"}: replaced atomically, last
      step-000048/         state.json + tensors.safetensors, complete before latest.json names it

A run killed at any moment leaves `latest.json` naming a complete state.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch

from charfolio.core.atomic import atomic_path, job_staging_dir, write_text_atomic

STATE_FORMAT = 1
LATEST = "latest.json"


@dataclass(frozen=True)
class Position:
    """Where training stands; a resumed run continues from exactly here."""

    phase: int  # index of the phase in progress (== number of phases when done)
    epoch: int  # epochs done within that phase
    batch: int  # batches done within that epoch (0 at an epoch boundary)
    global_step: int  # optimizer steps done over the whole run
    global_epoch: int  # epochs done over the whole run


@dataclass
class SavedState:
    position: Position
    fingerprint: str
    lora: dict[str, torch.Tensor]
    optimizer: dict[str, Any] | None
    scheduler: dict[str, Any] | None
    rng: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


class _TreeEncoder:
    """Nested dicts/lists/tuples of tensors, arrays and scalars <-> JSON + named tensors."""

    def __init__(self) -> None:
        self.tensors: dict[str, torch.Tensor] = {}

    def encode(self, obj: Any) -> Any:
        if isinstance(obj, torch.Tensor):
            name = f"t{len(self.tensors)}"
            self.tensors[name] = obj.detach().cpu().contiguous().clone()
            return {"__tensor__": name}
        if isinstance(obj, np.ndarray):
            return {"__ndarray__": obj.tolist(), "dtype": str(obj.dtype)}
        if isinstance(obj, dict):
            return {"__dict__": [[self._key(k), self.encode(v)] for k, v in obj.items()]}
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v) for v in obj]}
        if isinstance(obj, list):
            return [self.encode(v) for v in obj]
        if isinstance(obj, np.generic):
            return obj.item()
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        raise TypeError(f"cannot store a {type(obj).__name__} in the training state: {obj!r}")

    @staticmethod
    def _key(key: Any) -> Any:
        if not isinstance(key, (str, int)) or isinstance(key, bool):
            raise TypeError(f"training state dict keys must be str or int, got {key!r}")
        return key


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__ndarray__" in obj:
            return np.array(obj["__ndarray__"], dtype=obj["dtype"])
        if "__dict__" in obj:
            return {k: _decode(v, tensors) for k, v in obj["__dict__"]}
        if "__tuple__" in obj:
            return tuple(_decode(v, tensors) for v in obj["__tuple__"])
    return obj


def capture_rng() -> dict[str, Any]:
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_state(state_root: str | os.PathLike[str], state: SavedState) -> Path:
    """Write `state` as a new step directory, point latest.json at it, drop older ones."""
    root = Path(state_root)
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{state.position.global_step:06d}-epoch-{state.position.global_epoch:04d}"
    encoder = _TreeEncoder()
    document = {
        "format": STATE_FORMAT,
        "position": asdict(state.position),
        "fingerprint": state.fingerprint,
        "lora": encoder.encode(state.lora),
        "optimizer": encoder.encode(state.optimizer),
        "scheduler": encoder.encode(state.scheduler),
        "rng": encoder.encode(state.rng),
        "extra": encoder.encode(state.extra),
    }
    tmp = job_staging_dir(root, prefix=f".{name}.")
    try:
        with atomic_path(tmp / "tensors.safetensors") as tensors:  # its mode follows the umask
            safetensors.torch.save_file(encoder.tensors, tensors)
        (tmp / "state.json").write_text(json.dumps(document), encoding="utf-8")
        target = root / name
        if target.exists():  # the same position again (a rerun): latest.json may name it, so
            target = root / f"{name}-{tmp.name.rsplit('.', 1)[-1]}"  # it stays until renamed
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_text_atomic(root / LATEST, json.dumps({"dir": target.name}) + "\n")
    for old in root.iterdir():
        if old.is_dir() and old.name != target.name:
            shutil.rmtree(old, ignore_errors=True)
    return target


def load_state(state_root: str | os.PathLike[str]) -> SavedState | None:
    """The state latest.json names, or None when there is none."""
    root = Path(state_root)
    pointer = root / LATEST
    if not pointer.is_file():
        return None
    folder = root / json.loads(pointer.read_text(encoding="utf-8"))["dir"]
    document = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    if document.get("format") != STATE_FORMAT:
        raise ValueError(
            f"{folder}: training state format {document.get('format')} is not "
            f"{STATE_FORMAT}; delete {root} to start this run again"
        )
    tensors = safetensors.torch.load_file(folder / "tensors.safetensors")
    return SavedState(
        position=Position(**document["position"]),
        fingerprint=document["fingerprint"],
        lora=_decode(document["lora"], tensors),
        optimizer=_decode(document["optimizer"], tensors),
        scheduler=_decode(document["scheduler"], tensors),
        rng=_decode(document["rng"], tensors),
        extra=_decode(document["extra"], tensors),
    )


def state_folder(state_root: str | os.PathLike[str]) -> Path | None:
    pointer = Path(state_root) / LATEST
    if not pointer.is_file():
        return None
    return Path(state_root) / json.loads(pointer.read_text(encoding="utf-8"))["dir"]
