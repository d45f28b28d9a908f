"""The catalog database: every character's catalog.parquet in one DuckDB file, with views.

`build_duckdb` loads the catalogs of all characters into one DuckDB file: the `catalog`
table, `sources` (which catalog held which characters), `funnel_steps`, and the views
`charfolio audit` reads (also usable from the duckdb shell):

  funnel        images reaching each step and, per reject reason, those rejected there
  seeds         per seed group: images at each step and in each tier
  clusters      per cluster: size, passed, each tier's count and share of that tier
  quality       per step: percentiles of quality_score, sharpness and contrast
  tiers         per tier: size, train/val, seeds and clusters covered, scores
  duplicates    near-duplicate rejects with the copy that was kept
  reviews       a reviewer's decisions with the funnel verdict each overruled
  staged        catalog plus `reached`, the last funnel step each image got to
  image_stages  one row per image and step reached

The catalog's columns are described in `charfolio.catalog.build`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from charfolio.core import tables
from charfolio.core.atomic import atomic_path
from charfolio.core.paths import portable_path
from charfolio.curate.selection import STAGES

PathLike = str | os.PathLike[str]

# (step, stage reached, the selection stage whose rejects stop short of it), funnel order.
FUNNEL_STEPS: tuple[tuple[int, str, str | None], ...] = (
    (0, "generated", None),
    *(
        (i, name, stage)
        for i, (stage, name) in enumerate(
            zip(STAGES, ("face_ok", "unique", "thresholds_ok", "score_ok", "passed"), strict=True),
            start=1,
        )
    ),
)

PASSED_STEP = len(STAGES)  # the step an image that passed every stage reaches

# Views over the `catalog` table. {tier_counts} and {tier_shares} are filled with one column
# (pair) per tier present, so tier sizes read across the row like the other stages.
_VIEWS = (
    # catalog plus `reached`: the last funnel step the image got to ({passed} = passed).
    """CREATE VIEW staged AS
    SELECT c.*, coalesce(f.step - 1, {passed}) AS reached
    FROM catalog c LEFT JOIN funnel_steps f ON f.reject_stage = c.reject_stage""",
    # One row per image and step it reached; tiers are steps after `passed`, smallest first.
    """CREATE VIEW image_stages AS
    WITH tier_rows AS (SELECT character, file, unnest(tiers) AS stage FROM catalog)
    SELECT s.character, s.file, f.step, f.stage
    FROM staged s JOIN funnel_steps f ON f.step <= s.reached
    UNION ALL
    SELECT character, file,
        {passed} + dense_rank() OVER (
            PARTITION BY character ORDER BY CAST(split_part(stage, '_', 2) AS INTEGER)
        ) AS step,
        stage
    FROM tier_rows""",
    # Images reaching each step, and (rejected_for not null) those rejected on the way there.
    """CREATE VIEW funnel AS
    WITH totals AS (SELECT character, count(*) AS generated FROM catalog GROUP BY character),
    reached AS (
        SELECT character, step, stage, NULL::VARCHAR AS rejected_for, count(*) AS images
        FROM image_stages GROUP BY character, step, stage
    ),
    rejected AS (
        SELECT s.character, f.step, f.stage, s.reject_reason AS rejected_for, count(*) AS images
        FROM staged s JOIN funnel_steps f ON f.reject_stage = s.reject_stage
        GROUP BY s.character, f.step, f.stage, s.reject_reason
    )
    SELECT r.character, r.step, r.stage, r.rejected_for, r.images,
        round(r.images / t.generated, 4) AS share
    FROM (FROM reached UNION ALL FROM rejected) r JOIN totals t USING (character)""",
    """CREATE VIEW seeds AS
    SELECT character, seed, min(seed_group) AS seed_group, count(*) AS generated,
        count(*) FILTER (WHERE reached >= 1) AS face_ok,
        count(*) FILTER (WHERE reached >= 2) AS "unique",
        count(*) FILTER (WHERE reached >= 3) AS thresholds_ok,
        count(*) FILTER (WHERE reached >= 4) AS score_ok,
        count(*) FILTER (WHERE reached >= {passed}) AS passed
        {tier_counts}
    FROM staged GROUP BY character, seed""",
    # Face-ok images per cluster; each tier's count and its share of that tier.
    """CREATE VIEW clusters AS
    WITH c AS (
        SELECT character, cluster, count(*) AS images,
            count(*) FILTER (WHERE reached >= {passed}) AS passed,
            round(avg(cluster_distance), 4) AS mean_distance,
            round(avg(quality_score), 4) AS mean_quality
            {tier_counts}
        FROM staged WHERE cluster IS NOT NULL GROUP BY character, cluster
    )
    SELECT character, cluster, images, passed, mean_distance, mean_quality {tier_shares}
    FROM c""",
    """CREATE VIEW tiers AS
    WITH e AS (
        SELECT character, seed, cluster, quality_score, rank,
            unnest(tier_entries) AS entry
        FROM catalog
    )
    SELECT character, struct_extract(entry, 'tier') AS tier,
        CAST(split_part(struct_extract(entry, 'tier'), '_', 2) AS INTEGER) AS requested,
        count(*) AS images,
        count(*) FILTER (WHERE struct_extract(entry, 'split') = 'train') AS train,
        count(*) FILTER (WHERE struct_extract(entry, 'split') = 'val') AS val,
        count(DISTINCT seed) AS seeds, count(DISTINCT cluster) AS clusters,
        round(min(quality_score), 4) AS min_quality, round(avg(quality_score), 4) AS mean_quality,
        round(max(quality_score), 4) AS max_quality, max(rank) AS worst_rank
    FROM e GROUP BY ALL""",
    # Distributions of the raw measurements among the images reaching each step.
    """CREATE VIEW quality AS
    WITH j AS (
        SELECT i.character, i.step, i.stage, c.quality_score, c.sharpness, c.contrast
        FROM image_stages i JOIN catalog c USING (character, file)
    ),
    m AS (
        SELECT character, step, stage, 1 AS metric_order, 'quality_score' AS metric,
            quality_score AS value FROM j
        UNION ALL SELECT character, step, stage, 2, 'sharpness', sharpness FROM j
        UNION ALL SELECT character, step, stage, 3, 'contrast', contrast FROM j
    )
    SELECT character, step, stage, metric_order, metric, count(value) AS n,
        round(min(value), 4) AS min, round(quantile_cont(value, 0.10), 4) AS p10,
        round(quantile_cont(value, 0.25), 4) AS p25, round(median(value), 4) AS p50,
        round(quantile_cont(value, 0.75), 4) AS p75, round(quantile_cont(value, 0.90), 4) AS p90,
        round(max(value), 4) AS max, round(avg(value), 4) AS mean
    FROM m GROUP BY ALL""",
    """CREATE VIEW duplicates AS
    SELECT d.character, d.file, d.duplicate_of, d.duplicate_kind, d.duplicate_distance,
        d.duplicate_face_distance, d.duplicate_embedding_similarity, d.quality_score, k.quality_score AS kept_quality_score, k.verdict AS kept_verdict
    FROM catalog d LEFT JOIN catalog k ON k.character = d.character AND k.file = d.duplicate_of
    WHERE d.duplicate_of IS NOT NULL""",
    # A reviewer's decisions, each with the funnel's verdict it overruled (or would have,
    # for a stale one: not applied, the image changed since it was reviewed).
    """CREATE VIEW reviews AS
    SELECT character, file, review_decision AS decision, review_status AS status,
        pipeline_verdict, pipeline_reject_reason, verdict, reject_reason,
        verdict <> pipeline_verdict
            OR reject_reason IS DISTINCT FROM pipeline_reject_reason AS overruled,
        rank, tiers, reviewer, reviewed_at, review_note AS note
    FROM catalog WHERE review_decision IS NOT NULL""",
)


def _tier_names(con: Any) -> list[str]:
    """The tiers present, smallest first; checked, because they become column names."""
    names = [r[0] for r in con.execute("SELECT DISTINCT unnest(tiers) FROM catalog").fetchall()]
    bad = [n for n in names if not re.fullmatch(r"tier_[0-9]+", n)]
    if bad:
        raise ValueError(f"tier names {bad} are not tier_<size>; rebuild the tiers and catalogs")
    return sorted(names, key=lambda n: int(n.split("_")[1]))


def _create_views(con: Any) -> None:
    """The funnel steps and the views `charfolio audit` reads (also handy in the duckdb shell)."""
    con.execute("CREATE TABLE funnel_steps (step INTEGER, stage VARCHAR, reject_stage VARCHAR)")
    con.executemany("INSERT INTO funnel_steps VALUES (?, ?, ?)", FUNNEL_STEPS)
    tiers = _tier_names(con)
    # Tier names passed the check above, so they are safe as identifiers and literals here.
    counts = "".join(f", count(*) FILTER (WHERE list_contains(tiers, '{t}')) AS {t}" for t in tiers)
    shares = "".join(
        f", {t}, round({t} / nullif(sum({t}) OVER (PARTITION BY character), 0), 4) AS {t}_share"
        for t in tiers
    )
    for statement in _VIEWS:
        con.execute(statement.format(tier_counts=counts, tier_shares=shares, passed=PASSED_STEP))


def build_duckdb(catalog_paths: Sequence[PathLike], out_path: PathLike) -> Path:
    """Load catalogs (one per character) into a new DuckDB file at `out_path`, with views.

    The file is rebuilt from scratch under a temporary name and renamed into place, so
    readers never see a half-built database. Returns `out_path`.
    """
    import duckdb

    if not catalog_paths:
        raise ValueError("no catalog files given; build catalog.parquet for a character first")
    parts = [tables.read_table(p, tables.CATALOG) for p in catalog_paths]
    seen: dict[str, PathLike] = {}
    for path, part in zip(catalog_paths, parts, strict=True):
        for character in pc.unique(part["character"]).to_pylist():
            if character in seen:
                raise ValueError(
                    f"{path} and {seen[character]} both hold character {character!r}; "
                    f"give each character's catalog.parquet once"
                )
            seen[character] = path
    catalog = pa.concat_tables(parts).cast(tables.CATALOG)
    sources = pa.table(
        {
            "catalog": [portable_path(p) for p in catalog_paths],
            "characters": [sorted(pc.unique(t["character"]).to_pylist()) for t in parts],
            "images": [t.num_rows for t in parts],
        }
    )
    out = Path(out_path)
    with atomic_path(out) as tmp:
        tmp.unlink()  # DuckDB creates the file itself; an empty file is not a database
        wal = tmp.with_name(tmp.name + ".wal")  # left behind only if the build fails
        con = duckdb.connect(str(tmp))
        try:
            con.register("catalog_arrow", catalog)
            con.register("sources_arrow", sources)
            con.execute("CREATE TABLE catalog AS FROM catalog_arrow ORDER BY character, file")
            con.execute("CREATE TABLE sources AS FROM sources_arrow")
            con.unregister("catalog_arrow")
            con.unregister("sources_arrow")
            _create_views(con)
            con.execute("CHECKPOINT")
        finally:
            con.close()
            wal.unlink(missing_ok=True)
    return out
