"""What the report reads: a character's catalog and selection report, located and checked."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charfolio.core import tables
from charfolio.core.layout import CATALOG, SELECTION_REPORT

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class ReportData:
    character: str
    rows: list[dict[str, Any]]  # CATALOG rows, sorted by file
    selection: dict[str, Any]  # selection_report.json
    images_root: Path  # the catalog's `file` paths are relative to this

    @property
    def tier_names(self) -> list[str]:
        """Tiers of the selection, smallest first."""
        return sorted(self.selection["tiers"], key=lambda name: int(name.split("_")[-1]))

    @property
    def thresholds(self) -> dict[str, Any]:
        return dict(self.selection["parameters"]["thresholds"])


def _locate(explicit: PathLike | None, root: Path | None, name: str, what: str) -> Path:
    if explicit is not None:
        path = Path(explicit)
    elif root is not None:
        path = root / name
    else:
        raise ValueError(f"give the character folder or the {what} path ({name})")
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; build it first (it is the {what})")
    return path


def load(
    character_root: PathLike | None,
    catalog: PathLike | None = None,
    selection_report: PathLike | None = None,
    images_root: PathLike | None = None,
) -> ReportData:
    """Read results/{character}/catalog.parquet and selection_report.json (or the given paths).

    Image files are looked up under `images_root`, by default the character folder (or,
    without one, the catalog's folder).
    """
    root = Path(character_root) if character_root is not None else None
    catalog_path = _locate(catalog, root, CATALOG, "catalog")
    report_path = _locate(selection_report, root, SELECTION_REPORT, "selection report")
    rows = tables.read_table(catalog_path, tables.CATALOG).to_pylist()
    characters = sorted({r["character"] for r in rows})
    if len(characters) != 1:
        raise ValueError(
            f"{catalog_path} holds {len(characters)} characters {characters}; the report is "
            f"per character: pass one character's catalog.parquet"
        )
    selection = json.loads(report_path.read_text(encoding="utf-8"))
    for key in ("parameters", "funnel", "tiers", "scores", "per_seed", "per_cluster"):
        if key not in selection:
            raise ValueError(
                f"{report_path} has no {key!r}; it is not a selection report or is older than "
                f"charfolio: rerun the select_images rule"
            )
    if selection["funnel"]["total"] != len(rows):
        raise ValueError(
            f"{report_path} counts {selection['funnel']['total']} images but {catalog_path} has "
            f"{len(rows)}; the catalog is stale: rebuild it"
        )
    images = Path(images_root) if images_root is not None else root or catalog_path.parent
    return ReportData(characters[0], sorted(rows, key=lambda r: r["file"]), selection, images)
