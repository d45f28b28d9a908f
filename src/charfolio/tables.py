"""Parquet schemas of every table charfolio writes, declared once.

Every writer goes through `write_table`, which checks rows against the declared schema
and writes atomically, so a table on disk always has exactly these columns and types.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from charfolio.atomic import atomic_path

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


def write_table(
    path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]], schema: pa.Schema
) -> pa.Table:
    """Write `rows` as Parquet with exactly `schema`'s columns; unknown keys are an error."""
    names = set(schema.names)
    for i, row in enumerate(rows):
        extra = set(row) - names
        if extra:
            raise ValueError(f"row {i} has columns not in the {schema.metadata!r} schema: {sorted(extra)}")
    columns = {name: [row.get(name) for row in rows] for name in schema.names}
    table = pa.Table.from_pydict(columns, schema=schema)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return table


def read_table(path: str | os.PathLike[str], schema: pa.Schema) -> pa.Table:
    """Read a table and check it has the declared columns (an old or foreign file fails here)."""
    table = pq.read_table(path)
    missing = [n for n in schema.names if n not in table.column_names]
    if missing:
        raise ValueError(
            f"{path}: not a charfolio {schema.metadata[b'charfolio.table'].decode()} table "
            f"(missing columns {missing}); delete it and rerun the rule that makes it"
        )
    return table.select(schema.names)
