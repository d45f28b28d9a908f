"""Checked Parquet reading and writing: every table goes through these, against its schema.

`write_table` checks rows against the declared schema and writes atomically, so a table on
disk always has exactly the schema's columns and types; `read_table` refuses a file that
lacks them (an old or foreign table).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from charfolio.core.atomic import atomic_path


def write_table(
    path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]], schema: pa.Schema
) -> pa.Table:
    """Write `rows` as Parquet with exactly `schema`'s columns; unknown keys are an error."""
    names = set(schema.names)
    for i, row in enumerate(rows):
        extra = set(row) - names
        if extra:
            raise ValueError(
                f"row {i} has columns not in the {schema.metadata!r} schema: {sorted(extra)}"
            )
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


def rows_by_file(
    rows: Sequence[Mapping[str, Any]], source: str | os.PathLike[str], rule: str
) -> dict[str, Mapping[str, Any]]:
    """Index table rows by `file`; a file listed twice means a stale table, named with its rule."""
    out: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        if row["file"] in out:
            raise ValueError(f"{source} lists {row['file']} twice; rerun the {rule} rule")
        out[row["file"]] = row
    return out
