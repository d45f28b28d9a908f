"""Selection from and to files: read the stage tables, write SELECTION and the report.

The selection parameters travel in the SELECTION file's Parquet metadata, so a tier can
be written (and its report rebuilt) from that one file.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from charfolio.core import tables
from charfolio.core.atomic import write_text_atomic
from charfolio.core.layout import tier_folder
from charfolio.curate.decisions import CheckedDecisions, check_decisions, read_decisions
from charfolio.curate.near_duplicates import (
    NearDuplicateRule,
    load_vectors,
    rule_from_params,
    rule_params,
)
from charfolio.curate.nearest_cluster import nearest_clusters_from_files
from charfolio.curate.selection import SelectionResult, SelectionRow, select
from charfolio.curate.selection_report import selection_report
from charfolio.curate.thresholds import Thresholds
from charfolio.curate.tier_floors import check_tiers

PathLike = str | os.PathLike[str]
_PARAMS_KEY = b"charfolio.selection"


def read_rows(path: PathLike, columns: Sequence[str], rule: str) -> list[dict[str, Any]]:
    """The named columns of a Parquet table as dicts; a missing column names the rule to rerun."""
    available = pq.read_schema(path).names
    missing = [c for c in columns if c not in available]
    if missing:
        raise ValueError(f"{path} lacks columns {missing}; delete it and rerun the {rule} rule")
    return pq.read_table(path, columns=list(columns)).to_pylist()


def write_selection(result: SelectionResult, path: PathLike) -> None:
    params = {
        "thresholds": dataclasses.asdict(result.thresholds),
        "strategy": result.strategy,
        "per_cluster": result.per_cluster,
        "tiers": [[n, floor] for n, floor in result.tiers.items()],
        "duplicate_distance": result.duplicate_distance,
        "near_duplicates": rule_params(result.near_duplicates),
    }
    schema = tables.SELECTION.with_metadata(
        {**tables.SELECTION.metadata, _PARAMS_KEY: json.dumps(params)}
    )
    rows = [dict(dataclasses.asdict(r), tiers=list(r.tiers)) for r in result.rows]
    tables.write_table(path, rows, schema)


def _params(path: PathLike) -> dict[str, Any]:
    metadata = pq.read_schema(path).metadata or {}
    if _PARAMS_KEY not in metadata:
        raise ValueError(f"{path}: no selection parameters in its metadata; rerun the select rule")
    return json.loads(metadata[_PARAMS_KEY])


def _tiers(params: Mapping[str, Any]) -> dict[int, float | None]:
    return dict(check_tiers({int(n): floor for n, floor in params["tiers"]}))


def _members(
    rows: Sequence[Mapping[str, Any]], tiers: Mapping[int, float | None]
) -> dict[int, tuple[str, ...]]:
    """Tier size -> its files by rank, from the rows' `rank` and `tiers` columns."""
    ranked = sorted((r for r in rows if r["rank"] is not None), key=lambda r: r["rank"])
    return {n: tuple(r["file"] for r in ranked if tier_folder(n) in r["tiers"]) for n in tiers}


def read_selection(path: PathLike) -> SelectionResult:
    params = _params(path)
    records = tables.read_table(path, tables.SELECTION).to_pylist()
    tiers = _tiers(params)
    return SelectionResult(
        rows=tuple(SelectionRow(**dict(r, tiers=tuple(r["tiers"]))) for r in records),
        thresholds=Thresholds(**params["thresholds"]),
        strategy=params["strategy"],
        per_cluster=params["per_cluster"],
        tiers=tiers,
        duplicate_distance=params["duplicate_distance"],
        near_duplicates=rule_from_params(params["near_duplicates"]),
        members=_members(records, tiers),
    )


@dataclasses.dataclass(frozen=True)
class RankingInputs:
    """What ranking and filling the tiers again needs of a SELECTION file, nothing more."""

    rows: dict[str, dict[str, Any]]  # file -> the columns rank_and_fill and reviews read
    strategy: str
    per_cluster: int
    tiers: dict[int, float | None]
    members: dict[int, tuple[str, ...]]  # the tiers as the file has them


_RANKING_COLUMNS = (
    "file", "sha256", "seed", "cluster", "nearest_cluster", "quality_score", "verdict", "reject_reason", "rank",
    "tiers", *tables.REVIEW_DECISION_COLUMNS,
)  # fmt: skip


def read_ranking_inputs(path: PathLike) -> RankingInputs:
    """The selection's rows for ranking, read column-wise: fast at hundreds of thousands."""
    params = _params(path)
    records = read_rows(path, _RANKING_COLUMNS, "select_images")
    tiers = _tiers(params)
    return RankingInputs(
        rows={r["file"]: r for r in records},
        strategy=params["strategy"],
        per_cluster=params["per_cluster"],
        tiers=tiers,
        members=_members(records, tiers),
    )


def _review_decisions(
    review: PathLike | None, sha256_of: Mapping[str, str | None], log: Callable[[str], None]
) -> CheckedDecisions | None:
    """The review file's decisions, checked against the images; stale ones are logged."""
    if review is None:
        return None
    checked = check_decisions(read_decisions(review), sha256_of, str(review))
    log(f"review: {len(checked.applied)} decision(s) applied from {review}")
    for d in sorted(checked.stale.values(), key=lambda d: d.line):
        log(
            f"WARNING: {review} line {d.line}: {d.file} changed since it was reviewed "
            f"({d.decision}); the decision is stale and not applied: review it again"
        )
    return checked


def select_files(
    *,
    images: Sequence[PathLike],
    faces: PathLike,
    quality: PathLike,
    clusters: PathLike,
    duplicates: PathLike | None,
    thresholds: Thresholds,
    strategy: str,
    per_cluster: int,
    tiers: Mapping[int, float | None],
    duplicate_distance: int | None,
    out_table: PathLike,
    out_report: PathLike,
    collapse: PathLike | None = None,
    near_duplicates: NearDuplicateRule | None = None,
    embeddings: tuple[PathLike, PathLike] | None = None,
    review: PathLike | None = None,
    log: Callable[[str], None] = print,
) -> SelectionResult:
    """Read the images shards and stage tables, select, write SELECTION and the JSON report.

    `duplicates` is the DUPLICATES hash table (None: hashes are not compared); `embeddings`
    the (.npy, row index) pair that `near_duplicates` compares with the faces table's
    descriptors; `review` the character's review file (None or missing: no decisions).
    """
    image_columns = ["file", "sha256", "seed", "mode", "scenario", "prompt"]
    image_rows = [row for shard in images for row in read_rows(shard, image_columns, "generate")]
    decisions = _review_decisions(review, {r["file"]: r["sha256"] for r in image_rows}, log)
    face_rows = read_rows(faces, ["file", "face_verdict", "face_confidence"], "faces")
    # Every measure a threshold may gate: a column left out would pass its gate as null.
    quality_rows = read_rows(quality, tables.QUALITY.names, "quality")
    cluster_rows = read_rows(clusters, ["file", "cluster"], "cluster")
    nearest = None
    if embeddings is not None:
        clustered = {r["file"]: int(r["cluster"]) for r in cluster_rows}
        nearest = nearest_clusters_from_files(clustered, *embeddings)
    dup_rows = read_rows(duplicates, tables.DUPLICATES.names, "duplicates") if duplicates else None
    vectors = None
    if near_duplicates is not None and near_duplicates.enabled:
        if embeddings is None:
            raise ValueError(
                "curation.near_duplicates compares image embeddings, but no embeddings file "
                "was given; pass embeddings=(npy, index), or set both its thresholds to null"
            )
        vectors = load_vectors(faces, *embeddings)
        if near_duplicates.face_distance is not None and not vectors.descriptors:
            log(
                f"WARNING: {faces} holds no face descriptors, so no image matches by face and "
                f"embedding; set faces.descriptors: true (and rerun the faces rule) or "
                f"curation.near_duplicates.face_distance: null"
            )
    result = select(
        image_rows,
        face_rows,
        quality_rows,
        cluster_rows,
        dup_rows,
        thresholds,
        strategy,
        per_cluster,
        tiers,
        duplicate_distance,
        near_duplicates,
        vectors,
        decisions,
        nearest,
    )
    write_selection(result, out_table)
    collapse_info = json.loads(Path(collapse).read_text(encoding="utf-8")) if collapse else None
    report = selection_report(result, collapse_info)
    write_text_atomic(out_report, json.dumps(report, indent=2, sort_keys=True) + "\n")
    funnel = report["funnel"]
    log(
        f"selection ({strategy}): {funnel['passed']}/{funnel['total']} passed; tiers "
        + ", ".join(f"{k} {v['size']}/{v['requested']}" for k, v in report["tiers"].items())
    )
    return result
