"""The checkpoints of one trained LoRA, read from its summary.json (charfolio.lora).

    results/{character}/lora/{preset}/tier_{n}/summary.json
      "checkpoints": [".../checkpoints/epoch-0001.safetensors", ...]   one per epoch
      "lora_diffusers": ".../lora_diffusers.safetensors"                  the final LoRA

Both are diffusers-key files that `pipe.load_lora_weights` reads. The paths are as the
training job wrote them (relative to its working directory); a path that does not exist as
written is looked up relative to the summary's own folder, so a moved results folder works.

The final LoRA is usually the last epoch's weights: then it is not rendered twice, and that
epoch's checkpoint is marked `final` instead. "The same weights" means the same tensors
(names, dtypes, shapes, bytes) and metadata, whatever order the file lists them in.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from charfolio.core.digest import sha256_file

CHECKPOINT_MODES = ("all", "final")
MAX_HEADER = 100_000_000  # the safetensors format's own limit
_EPOCH = re.compile(r"epoch-(\d+)\.safetensors$")


@dataclass(frozen=True)
class LoraCheckpoint:
    label: str  # epoch-0001 ... or final
    path: Path
    epoch: int | None  # None: the final export when it differs from every epoch checkpoint
    final: bool  # these are the weights of the final LoRA
    sha256: str  # of the file
    weights: str  # weights_fingerprint: equal for the same weights in another file


def weights_fingerprint(path: Path) -> str:
    """SHA-256 of a .safetensors file's tensors and metadata in a canonical (sorted) order.

    Read from the header (8-byte little-endian length, JSON) and the data it points to, so
    no framework is needed and two files holding the same weights agree.
    """
    digest = hashlib.sha256()
    size = path.stat().st_size
    with open(path, "rb") as fh:
        header_size = int.from_bytes(fh.read(8), "little")
        try:
            if not 2 <= header_size <= min(size - 8, MAX_HEADER):
                raise ValueError(f"a header of {header_size} bytes in a {size}-byte file")
            header = json.loads(fh.read(header_size))
        except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError is a ValueError
            raise ValueError(
                f"{path}: not a .safetensors file ({error}); rerun the train_lora rule"
            ) from error
        start = 8 + header_size
        metadata = header.pop("__metadata__", {})
        digest.update(json.dumps(metadata, sort_keys=True).encode())
        for name in sorted(header):
            entry = header[name]
            begin, end = entry["data_offsets"]
            digest.update(json.dumps([name, entry["dtype"], entry["shape"]]).encode())
            fh.seek(start + begin)
            digest.update(fh.read(end - begin))
    return digest.hexdigest()


def _locate(written: str, summary_path: Path, summary: dict[str, Any], key: str) -> Path:
    path = Path(written)
    if path.is_file():
        return path
    candidates = [path]
    out_dir = summary.get("out_dir")
    if not path.is_absolute() and out_dir:
        try:
            candidates.append(summary_path.parent / path.relative_to(out_dir))
        except ValueError:  # not under out_dir: try the file name beside the summary
            candidates.append(summary_path.parent / path.name)
    found = next((c for c in candidates[1:] if c.is_file()), None)
    if found is None:
        raise FileNotFoundError(
            f"{summary_path}: {key} lists {written}, which does not exist (looked for "
            f"{' and '.join(str(c) for c in candidates)}); the training run is incomplete or "
            f"was moved: delete {summary_path} and rerun the train_lora rule"
        )
    return found


def read_summary(summary_path: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(summary_path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; run the train_lora rule that writes it")
    summary = json.loads(path.read_text(encoding="utf-8"))
    missing = [k for k in ("checkpoints", "lora_diffusers") if k not in summary]
    if missing:
        raise ValueError(
            f"{path}: not a charfolio LoRA summary (no {', '.join(missing)}); rerun train_lora"
        )
    if not summary.get("complete", True):
        raise ValueError(f"{path}: the training run is not complete; rerun the train_lora rule")
    return summary


def list_checkpoints(
    summary_path: str | os.PathLike[str], which: str = "all"
) -> list[LoraCheckpoint]:
    """The checkpoints to compare: every epoch and the final LoRA (`all`), or the final one."""
    if which not in CHECKPOINT_MODES:
        raise ValueError(f"evaluation.checkpoints is {which!r}; use one of {CHECKPOINT_MODES}")
    summary_path = Path(summary_path)
    summary = read_summary(summary_path)
    final_path = _locate(summary["lora_diffusers"], summary_path, summary, "lora_diffusers")
    final_weights = weights_fingerprint(final_path)
    epochs = []
    for written in summary["checkpoints"]:
        match = _EPOCH.search(written)
        if match is None:
            raise ValueError(
                f"{summary_path}: checkpoint {written} is not named epoch-NNNN.safetensors"
            )
        path = _locate(written, summary_path, summary, "checkpoints")
        weights = weights_fingerprint(path)
        epoch = int(match.group(1))
        label = f"epoch-{epoch:04d}"
        epochs.append(
            LoraCheckpoint(label, path, epoch, weights == final_weights, sha256_file(path), weights)
        )
    epochs.sort(key=lambda c: c.epoch or 0)
    same_as_final = [c for c in epochs if c.final]
    if which == "final":
        epoch = same_as_final[-1].epoch if same_as_final else None
        return [
            LoraCheckpoint("final", final_path, epoch, True, sha256_file(final_path), final_weights)
        ]
    if same_as_final:
        # Only the last identical one keeps the mark (an unchanged epoch is no final LoRA).
        keep = same_as_final[-1]
        return [c if c is keep or not c.final else replace(c, final=False) for c in epochs]
    final = LoraCheckpoint("final", final_path, None, True, sha256_file(final_path), final_weights)
    return [*epochs, final]
