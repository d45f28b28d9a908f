"""Generate one seed group's shard: plan, render in batches with one model load, record rows."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from PIL import Image, PngImagePlugin

from charfolio.core import tables
from charfolio.core.atomic import write_bytes_atomic
from charfolio.core.config import CharacterPrompt
from charfolio.core.progress import Progress
from charfolio.generation.backends import ImageBackend, RenderRequest, create_image_backend
from charfolio.generation.distribution import (
    Distribution,
    ImageSpec,
    ScenarioRef,
    calculate_distribution,
    plan_shard,
)
from charfolio.generation.modifiers import default_multi_batch_modifiers


def load_accepted_scenarios(path: str | os.PathLike[str]) -> list[ScenarioRef]:
    table = tables.read_table(path, tables.SCENARIOS)
    accepted = table.filter(pc.equal(table["verdict"], "accepted")).sort_by("index")
    return [
        ScenarioRef(index=row["index"], text=row["text"], category=row["category"])
        for row in accepted.to_pylist()
    ]


def distribution_from_config(distribution: Mapping[str, Any], num_scenarios: int) -> Distribution:
    return calculate_distribution(
        original_images=distribution["original_images"],
        modified_images=distribution["modified_images"],
        batch_size=distribution["batch_size"],
        num_scenarios=num_scenarios,
        min_images_per_scenario=distribution["min_images_per_scenario"],
        multi_batch_per_seed=distribution["multi_batch_per_seed"],
    )


def _png_bytes(image: Image.Image, parameters: str) -> bytes:
    # "parameters" is the text chunk A1111 and ComfyUI read back as generation info.
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", parameters)
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def _a1111_parameters(
    spec: ImageSpec, negative: str, backend: ImageBackend, gen: Mapping[str, Any]
) -> str:
    return (
        f"{spec.prompt}\nNegative prompt: {negative}\n"
        f"Steps: {gen['steps']}, Sampler: {gen['sampler']}, Schedule type: {gen['sigmas']}, "
        f"CFG scale: {gen['guidance_scale']}, Seed: {spec.generator_seed}, "
        f"Size: {gen['width']}x{gen['height']}, Model: {backend.model_id}"
    )


def generate_shard(
    *,
    character: CharacterPrompt,
    seed: int,
    distribution: Mapping[str, Any],
    scenarios_path: str | os.PathLike[str],
    generation: Mapping[str, Any],
    out_dir: str | os.PathLike[str],
    out_table: str | os.PathLike[str],
    character_root: str | os.PathLike[str],
    model_cache: str | None = None,
    backend: ImageBackend | None = None,
    log: Callable[[str], None] = print,
) -> pa.Table:
    """Render every image of seed group `seed` into `out_dir` and its table into `out_table`.

    `character_root` is results/{character}/; the table's `file` column is relative to it.
    """
    scenarios = load_accepted_scenarios(scenarios_path)
    dist = distribution_from_config(distribution, len(scenarios))
    modifiers = distribution.get("multi_batch_modifiers") or default_multi_batch_modifiers()
    specs = plan_shard(
        character.name, character.base_prompt, character.base_seed, seed, dist, scenarios, modifiers
    )
    return render_specs(
        specs,
        character=character,
        generation=generation,
        out_dir=out_dir,
        out_table=out_table,
        character_root=character_root,
        label=f"{character.name} seed {seed}",
        model_cache=model_cache,
        backend=backend,
        log=log,
    )


def render_specs(
    specs: Sequence[ImageSpec],
    *,
    character: CharacterPrompt,
    generation: Mapping[str, Any],
    out_dir: str | os.PathLike[str],
    out_table: str | os.PathLike[str],
    character_root: str | os.PathLike[str],
    label: str,
    model_cache: str | None = None,
    backend: ImageBackend | None = None,
    log: Callable[[str], None] = print,
) -> pa.Table:
    """Render planned images into `out_dir` and their IMAGES rows into `out_table`.

    The backend loads once (and not at all when there is nothing to render); `file` is
    relative to `character_root` (results/{character}/).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not specs:
        log(f"{label}: no images to render")
        return tables.write_table(out_table, [], tables.IMAGES)
    if backend is None:
        started = time.perf_counter()
        backend = create_image_backend(generation, model_cache)
        log(
            f"loaded {backend.name} backend ({backend.model_id}) in {time.perf_counter() - started:.1f}s"
        )
    too_long = backend.prompt_warnings([s.prompt for s in specs])
    for warning in too_long[:5]:
        log(f"WARNING prompt: {warning}")
    if too_long:
        log(f"WARNING {len(too_long)} prompt(s) exceed the text encoder's limit; shorten the "
            f"character's base_prompt or the scenarios")  # fmt: skip
    settings_json = json.dumps(
        {"generation": dict(generation), "backend": backend.settings()}, sort_keys=True, default=str
    )
    detail = generation.get("detail_lora") or {}
    batch_size = int(generation["batch_size"])
    progress = Progress(total=len(specs), label=label, log=log)
    rows: list[dict[str, Any]] = []
    for start in range(0, len(specs), batch_size):
        batch: Sequence[ImageSpec] = specs[start : start + batch_size]
        requests = [
            RenderRequest(
                prompt=s.prompt,
                negative_prompt=character.negative_prompt,
                generator_seed=s.generator_seed,
                width=int(generation["width"]),
                height=int(generation["height"]),
                category=s.category,
            )
            for s in batch
        ]
        images = backend.render(requests)
        if len(images) != len(batch):
            raise RuntimeError(
                f"{backend.name} backend returned {len(images)} images for {len(batch)} requests"
            )
        for spec, image in zip(batch, images, strict=True):
            data = _png_bytes(
                image, _a1111_parameters(spec, character.negative_prompt, backend, generation)
            )
            path = out_dir / spec.file_name
            write_bytes_atomic(path, data)
            rows.append(
                {
                    "file": os.path.relpath(path, character_root),
                    "character": character.name,
                    "seed": spec.seed,
                    "seed_group": spec.seed_group,
                    "mode": spec.mode,
                    "mode_index": spec.mode_index,
                    "scenario_index": spec.scenario_index,
                    "scenario": spec.scenario,
                    "category": spec.category,
                    "variant": spec.variant,
                    "generator_seed": spec.generator_seed,
                    "prompt": spec.prompt,
                    "negative_prompt": character.negative_prompt,
                    "backend": backend.name,
                    "model_id": backend.model_id,
                    "architecture": backend.architecture,
                    "sampler": generation["sampler"],
                    "sigmas": generation["sigmas"],
                    "steps": int(generation["steps"]),
                    "guidance_scale": float(generation["guidance_scale"]),
                    "width": image.width,
                    "height": image.height,
                    "detail_lora": detail.get("path"),
                    "detail_lora_weight": detail.get("weight") if detail.get("path") else None,
                    "dtype": backend.dtype,
                    "batch_size": batch_size,
                    "settings_json": settings_json,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "bytes": len(data),
                    "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            )
        progress.advance(len(batch))
    return tables.write_table(out_table, rows, tables.IMAGES)
