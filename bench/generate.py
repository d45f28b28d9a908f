"""Benchmark the tiny diffusers backend: throughput by batch size, time to first image, loads per job.

Prints one JSON object. Runs offline on CPU with one thread, in a temporary model cache.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

import torch

from charfolio.core import tables
from charfolio.core.config import Character, validate
from charfolio.demo.tiny import ensure_tiny_model
from charfolio.generation import diffusers_backend
from charfolio.generation.backends import RenderRequest, create_image_backend
from charfolio.generation.shard import generate_shard

SIZE, STEPS, IMAGES = 64, 4, 16


def generation_config(batch_size: int) -> dict[str, Any]:
    section = {
        "backend": "tiny",
        "steps": STEPS,
        "width": SIZE,
        "height": SIZE,
        "batch_size": batch_size,
    }
    return validate({"generation": section}, "config", "bench")["generation"]


def requests(count: int) -> list[RenderRequest]:
    return [
        RenderRequest(f"portrait of a person, view {i}", "blurry", i, SIZE, SIZE)
        for i in range(count)
    ]


def images_per_second(backend: Any, batch_size: int) -> float:
    todo = requests(IMAGES)
    backend.render(todo[:batch_size])  # warm-up: first-call allocations are not throughput
    started = time.perf_counter()
    for start in range(0, IMAGES, batch_size):
        backend.render(todo[start : start + batch_size])
    return IMAGES / (time.perf_counter() - started)


def loads_per_job(cache: Path) -> tuple[int, int]:
    """Model loads and images of one generate_shard call (a job) on a small shard."""
    character = Character(
        name="bench", token="bnchchr", class_word="person", base_prompt="photo of bnchchr person",
        negative_prompt="blurry", base_seed=0, caption_template="photo of {token} {class_word}",
    )  # fmt: skip
    scenario = {"index": 0, "text": ", in a park", "category": "casual", "backend": "template",
                "model": "grammar", "verdict": "accepted", "reason": None, "attempt": 1}  # fmt: skip
    tables.write_table(cache / "scenarios.parquet", [scenario], tables.SCENARIOS)
    distribution = {"original_images": 4, "modified_images": 4, "batch_size": 4,
                    "min_images_per_scenario": 4, "multi_batch_per_seed": 0}  # fmt: skip
    # Counted by wrapping the loader: the backend keeps no counter of its own.
    loader = diffusers_backend.load_pipeline
    with mock.patch.object(diffusers_backend, "load_pipeline", wraps=loader) as load:
        table = generate_shard(
            character=character, seed=0, distribution=distribution,
            scenarios_path=cache / "scenarios.parquet", generation=generation_config(batch_size=4),
            out_dir=cache / "results" / "images", out_table=cache / "results" / "images.parquet",
            character_root=cache / "results", model_cache=str(cache), log=lambda line: None,
        )  # fmt: skip
    return load.call_count, table.num_rows


def main() -> None:
    torch.set_num_threads(1)  # this 2-core machine's timings are noisy with more
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        ensure_tiny_model("sd15", 0, cache / "tiny")  # a one-time cache fill, not a job cost
        started = time.perf_counter()
        backend = create_image_backend(generation_config(batch_size=1), str(cache))
        loaded = time.perf_counter()
        backend.render(requests(1))
        first_image = time.perf_counter()
        result = {
            "backend": backend.model_id,
            "size": SIZE,
            "steps": STEPS,
            "threads": torch.get_num_threads(),
            "images": IMAGES,
            "images_per_s_batch1": round(images_per_second(backend, 1), 2),
            "images_per_s_batch8": round(images_per_second(backend, 8), 2),
            "seconds_to_first_image": round(first_image - started, 3),
            "model_load_seconds": round(loaded - started, 3),
        }
        result["model_loads_per_job"], result["shard_images"] = loads_per_job(cache)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
