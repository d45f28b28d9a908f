"""Helpers for the LoRA tests: a synthetic tier directory and tiny-model training runs."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from peft import get_peft_model_state_dict
from PIL import Image

from charfolio.core import tables
from charfolio.demo.tiny import ensure_tiny_model
from charfolio.generation.pipelines import load_pipeline
from charfolio.lora import train_lora

SIZE = 64


def make_tier(
    root: Path,
    n: int = 8,
    val: int = 2,
    sizes: Sequence[tuple[int, int]] | None = None,
    shots: Sequence[str] | None = None,
) -> Path:
    """A tier directory as charfolio.curate.tiers writes it: images, captions, manifest.parquet.

    The last `val` rows are val; `shots` adds a manifest column for data mixes.
    """
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        width, height = sizes[i] if sizes else (SIZE, SIZE)
        yy, xx = np.mgrid[0:height, 0:width]
        pixels = np.stack(
            [(xx * (i + 1) * 3) % 255, (yy * 5 + i * 30) % 255, ((xx + yy) * 2) % 255], axis=-1
        ).astype(np.uint8)
        name = f"img_{i:02d}"
        Image.fromarray(pixels).save(root / "images" / f"{name}.png")
        caption = f"photo of zqx person, view {i % 3}"
        (root / "images" / f"{name}.txt").write_text(caption + "\n", encoding="utf-8")
        rows.append(
            {
                "file": f"images/seed_0/{name}.png",
                "tier_file": f"images/{name}.png",
                "caption_file": f"images/{name}.txt",
                "caption": caption,
                "rank": i + 1,
                "cluster": i % 3,
                "seed": 0,
                "quality_score": 1.0 - i / 100,
                "sharpness": 100.0,
                "contrast": 50.0,
                "face_confidence": 0.9,
                "split": "val" if i >= n - val else "train",
            }
        )
    table = pa.Table.from_pylist(rows, schema=tables.TIER_MANIFEST)
    if shots is not None:
        table = table.append_column("shot", pa.array(list(shots)))
    pq.write_table(table, root / "manifest.parquet")
    return root


def make_fixed_batch_tier(root: Path) -> Path:
    """Two train images whose copies are the val images: val loss measures the fit."""
    make_tier(root, n=4, val=2)
    manifest = pq.read_table(root / "manifest.parquet").to_pylist()
    for copy, source in zip(manifest[2:], manifest[:2], strict=True):
        shutil.copy(root / source["tier_file"], root / copy["tier_file"])
        shutil.copy(root / source["caption_file"], root / copy["caption_file"])
    tables.write_table(root / "manifest.parquet", manifest, tables.TIER_MANIFEST)
    return root


def tiny_preset(**overrides: Any) -> dict[str, Any]:
    """A small preset: rank 4 (alpha 2, so a wrong alpha shows), 64 px, 2-step samples."""
    preset: dict[str, Any] = {
        "name": "tiny",
        "epochs": 2,
        "learning_rate": 1.0e-3,
        "rank": 4,
        "alpha": 2,
        "batch_size": 2,
        "gradient_accumulation_steps": 2,
        "resolution": SIZE,
        "bucket_step": 16,
        "save_dtype": "float32",
        "validation": {"steps": 2, "num_prompts": 1},
    }
    return {**preset, **overrides}


def run(
    tier: Path,
    out: Path,
    cache: Path,
    preset: Mapping[str, Any],
    architecture: str = "sd15",
    **kwargs: Any,
) -> dict[str, Any]:
    return train_lora(
        tier, {"architecture": architecture}, preset, out, model_cache=cache, backend="tiny",
        device="cpu", log=kwargs.pop("log", lambda line: None), **kwargs,
    )  # fmt: skip


def fresh_pipeline(cache: Path, architecture: str = "sd15") -> Any:
    folder = ensure_tiny_model(architecture, 0, cache / "tiny")
    return load_pipeline(
        {"path": str(folder), "architecture": architecture}, None, torch.float32,
        torch.device("cpu"),
    )  # fmt: skip


def adapter_tensors(module: torch.nn.Module, adapter: str) -> dict[str, torch.Tensor]:
    return get_peft_model_state_dict(module, adapter_name=adapter)


def scalings(module: torch.nn.Module, adapter: str) -> set[float]:
    return {m.scaling[adapter] for m in module.modules() if adapter in getattr(m, "scaling", {})}
