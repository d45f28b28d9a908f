"""Benchmark LoRA training on the tiny models: optimizer steps per second, seconds to first step.

Prints one JSON object. Runs offline on CPU with one thread, in a temporary model cache;
the tiny model is built into the cache first (a one-time cost, not a training cost).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from charfolio.core import tables
from charfolio.demo.tiny import ensure_tiny_model
from charfolio.lora import train_lora

SIZE, IMAGES, EPOCHS = 64, 8, 4


def write_tier(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    rows = []
    rng = np.random.default_rng(0)
    for i in range(IMAGES):
        name = f"img_{i:02d}"
        pixels = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "images" / f"{name}.png")
        (root / "images" / f"{name}.txt").write_text("photo of zqx person\n", encoding="utf-8")
        rows.append({
            "file": f"{name}.png", "tier_file": f"images/{name}.png",
            "caption_file": f"images/{name}.txt", "caption": "photo of zqx person", "rank": i + 1,
            "cluster": 0, "seed": 0, "quality_score": 1.0, "sharpness": None, "contrast": None,
            "face_confidence": None, "split": "val" if i == 0 else "train",
        })  # fmt: skip
    tables.write_table(root / "manifest.parquet", rows, tables.TIER_MANIFEST)
    return root


def bench(architecture: str, tier: Path, cache: Path, out: Path) -> dict[str, Any]:
    preset = {
        "name": "bench", "epochs": EPOCHS, "rank": 4, "batch_size": 1,
        "gradient_accumulation_steps": 1, "resolution": SIZE, "bucket_step": 16,
        "validation": {"images": False},
    }  # fmt: skip
    started = time.perf_counter()
    summary = train_lora(
        tier, {"architecture": architecture}, preset, out, model_cache=cache, backend="tiny",
        device="cpu", log=lambda line: None,
    )  # fmt: skip
    return {
        "steps": summary["global_steps"],
        "steps_per_s": summary["steps_per_second"],
        "seconds_to_first_step": summary["seconds_to_first_step"],
        "seconds_total": round(time.perf_counter() - started, 3),
    }


def main() -> None:
    torch.set_num_threads(1)  # this 2-core machine's timings are noisy with more
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tier = write_tier(root / "tier")
        result: dict[str, Any] = {
            "size": SIZE, "images": IMAGES, "epochs": EPOCHS, "rank": 4, "batch_size": 1,
            "optimizer": "adamw8bit", "threads": torch.get_num_threads(),
        }  # fmt: skip
        for architecture in ("sd15", "sdxl"):
            ensure_tiny_model(architecture, 0, root / "models" / "tiny")
            result[architecture] = bench(architecture, tier, root / "models", root / architecture)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
