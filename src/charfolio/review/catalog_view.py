"""The catalog as the review page shows it: compact tile columns, and one image's details.

Tiles go to the page as columns (one list per field), so 30,000 images are one small JSON
document the page filters and sorts itself. Shot types come from the catalog's `shot_type`
column when it has one, else from faces.parquet's main box and frame size (as balance does).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from charfolio.core.layout import CharacterResults
from charfolio.faces.shots import UNKNOWN, ShotRules, shot_type

# The tile's fields: shown on every tile or filtered on. The review_* columns come with
# newer catalogs; older ones simply lack them.
TILE_COLUMNS = (
    "file", "quality_score", "rank", "cluster", "seed", "face_verdict", "verdict",
    "reject_reason", "tiers", "readable", "review_status", "pipeline_verdict",
    "pipeline_reject_reason",
)  # fmt: skip
PROMPT_COLUMNS = ("prompt", "negative_prompt", "seed", "settings_json")


class CatalogError(ValueError):
    """The character has no catalog the page can show; the message says which rule makes it."""


def read_catalog(results: CharacterResults) -> pa.Table:
    path = Path(results.catalog)
    if not path.is_file():
        raise CatalogError(
            f"{path} does not exist; build it first (snakemake ... {results.catalog}, or `make "
            f"demo`), then run charfolio review again"
        )
    table = pq.read_table(path)
    missing = [c for c in ("file", "sha256", "verdict") if c not in table.column_names]
    if missing:
        raise CatalogError(f"{path} lacks columns {missing}; rebuild the catalog")
    return table


def shot_types(
    table: pa.Table, results: CharacterResults, rules: ShotRules | None = None
) -> list[str]:
    """Each catalog row's shot type; "unknown" without a face (or without faces.parquet)."""
    files = table.column("file").to_pylist()
    if "shot_type" in table.column_names:
        return [s or UNKNOWN for s in table.column("shot_type").to_pylist()]
    faces_path = Path(results.faces)
    if not faces_path.is_file():
        return [UNKNOWN] * len(files)
    faces = pq.read_table(faces_path, columns=["file", "boxes", "width", "height"])
    by_file: dict[str, str] = {}
    for row in faces.to_pylist():
        boxes, width, height = row["boxes"], row["width"], row["height"]
        try:
            by_file[row["file"]] = shot_type(boxes[0], width, height, rules) if boxes else UNKNOWN
        except (ValueError, TypeError):  # no frame size, or a degenerate box
            by_file[row["file"]] = UNKNOWN
    return [by_file.get(f, UNKNOWN) for f in files]


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def tile_columns(table: pa.Table, shots: list[str]) -> dict[str, list[Any]]:
    columns = {
        name: [_clean(v) for v in table.column(name).to_pylist()]
        for name in TILE_COLUMNS
        if name in table.column_names
    }
    columns["shot_type"] = shots
    return columns


def detail(row: Mapping[str, Any]) -> dict[str, Any]:
    """Everything about one image, with settings_json pretty-printed for reading."""
    out = {k: _clean(v) for k, v in row.items()}
    settings = out.get("settings_json")
    if isinstance(settings, str):
        with contextlib.suppress(ValueError):  # not JSON: shown as recorded
            out["settings_json"] = json.dumps(json.loads(settings), indent=2, sort_keys=True)
    return out
