"""Schemas of what the pipeline makes: scenario prompts and generated (or ingested) images."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pyarrow as pa

from charfolio.core.tables.parquet_io import read_table

SCENARIOS = pa.schema(
    [
        pa.field("index", pa.int32(), nullable=True),  # position among accepted scenarios
        pa.field("text", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("backend", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("verdict", pa.string(), nullable=False),  # accepted | rejected
        pa.field("reason", pa.string(), nullable=True),  # why rejected, null when accepted
        pa.field("attempt", pa.int32(), nullable=False),
    ],
    metadata={"charfolio.table": "scenarios"},
)

IMAGES = pa.schema(
    [
        pa.field("file", pa.string(), nullable=False),  # relative to results/{character}/
        pa.field("character", pa.string(), nullable=False),
        pa.field("seed", pa.int64(), nullable=False),  # the seed group's seed
        pa.field("seed_group", pa.int32(), nullable=False),
        pa.field("mode", pa.string(), nullable=False),  # original | scenario | multi_batch
        pa.field("mode_index", pa.int32(), nullable=False),  # 1-based within mode (and scenario)
        pa.field("scenario_index", pa.int32(), nullable=True),
        pa.field("scenario", pa.string(), nullable=True),
        pa.field("category", pa.string(), nullable=True),
        pa.field("variant", pa.int32(), nullable=False),
        pa.field("generator_seed", pa.int64(), nullable=False),
        pa.field("prompt", pa.string(), nullable=False),
        pa.field("negative_prompt", pa.string(), nullable=False),
        pa.field("backend", pa.string(), nullable=False),
        pa.field("model_id", pa.string(), nullable=False),
        pa.field("architecture", pa.string(), nullable=False),
        pa.field("sampler", pa.string(), nullable=False),
        pa.field("sigmas", pa.string(), nullable=False),
        pa.field("steps", pa.int32(), nullable=False),
        pa.field("guidance_scale", pa.float64(), nullable=False),
        pa.field("width", pa.int32(), nullable=False),
        pa.field("height", pa.int32(), nullable=False),
        pa.field("detail_lora", pa.string(), nullable=True),
        pa.field("detail_lora_weight", pa.float64(), nullable=True),
        pa.field("dtype", pa.string(), nullable=False),
        pa.field("batch_size", pa.int32(), nullable=False),
        pa.field("settings_json", pa.string(), nullable=False),  # everything needed to regenerate
        pa.field("sha256", pa.string(), nullable=False),
        pa.field("bytes", pa.int64(), nullable=False),
        pa.field("timestamp", pa.string(), nullable=False),  # ISO 8601, UTC
    ],
    metadata={"charfolio.table": "images"},
)


def image_files(image_tables: Sequence[str | os.PathLike[str]]) -> list[str]:
    """The `file` column of IMAGES tables (seed shards or an ingested folder), in table order."""
    files: list[str] = []
    for path in image_tables:
        files += read_table(path, IMAGES).column("file").to_pylist()
    return files
