"""The master catalog: one row per image, everything known about it, in one Parquet table.

`build_catalog` joins a character's stage tables into `catalog.parquet` (schema
`tables.CATALOG`); `build_duckdb` loads the catalogs of all characters into one DuckDB
file: the `catalog` table, `sources` (which catalog held which characters), `funnel_steps`,
and the views `charfolio audit` reads (also usable from the duckdb shell):

  funnel        images reaching each step and, per reject reason, those rejected there
  seeds         per seed group: images at each step and in each tier
  clusters      per cluster: size, passed, each tier's count and share of that tier
  quality       per step: percentiles of quality_score, sharpness and contrast
  tiers         per tier: size, train/val, seeds and clusters covered, scores
  duplicates    near-duplicate rejects with the copy that was kept
  staged        catalog plus `reached`, the last funnel step each image got to
  image_stages  one row per image and step reached

Columns (paths are POSIX and relative; nothing absolute is recorded):

==================== =================================================================
IDENTITY
character            character name, from the images table
file                 image path relative to results/{character}/ (the key within a character)
path                 image path relative to the results root: {character-folder}/{file}
GENERATION           copied from the seed shard tables (`tables.IMAGES`)
seed                 the seed group's seed
seed_group           0-based seed group number
mode                 original | scenario | multi_batch (or the ingest mode)
mode_index           1-based position within its mode (and scenario)
scenario_index       index of the scenario prompt; null for originals
scenario             scenario text appended to the base prompt; null for originals
category             scenario category; null for originals
variant              variant number within a batch
generator_seed       the seed the generator was called with (regenerates the image)
prompt               full positive prompt
negative_prompt      negative prompt
backend              image generation backend
model_id             base model identifier
architecture         sd15 | sdxl | ...
sampler              scheduler / sampler name
sigmas               sigma schedule name
steps                inference steps
guidance_scale       classifier-free guidance scale
width                requested width in pixels
height               requested height in pixels
detail_lora          detail LoRA file name; null when none
detail_lora_weight   its weight; null when none
dtype                compute dtype of the generator
batch_size           generation batch size
settings_json        every setting needed to regenerate the image, as JSON
sha256               sha256 of the file's bytes, recorded at generation
bytes                file size in bytes, recorded at generation
timestamp            generation time, ISO 8601 UTC
FACES                from faces.parquet
face_verdict         ok | no_face | multiple_faces | partial_face | unreadable
n_faces              number of detected faces; null when unreadable
face_confidence      detector confidence of the main (largest) face, [0, 1]
QUALITY              from quality.parquet: raw measurements, unthresholded
readable             false when the image could not be decoded
sharpness            frame Laplacian variance at the working resolution, raw
contrast             frame grey-level standard deviation, 0-255 scale, raw
face_sharpness       the main face's re-blur sharpness, [0, 1], 1 sharp; null without a face
noise                noise sigma at the working resolution, 0-255 grey
blockiness           JPEG 8x8 blocking ratio, 1 = none
highlights           share of the frame clipped (>= 250)
shadows              share of the frame crushed (<= 5)
face_brightness      the main face's mean grey level, 0-255
face_highlights      share of the main face clipped
face_shadows         share of the main face crushed
face_size            the main face box's side, px of the file
short_side           the file's shorter side, px
working_scale        the scale frame measures were taken at (<= 1)
sharpness_score      sharpness component, 0-100 (of face_sharpness where there is a face)
contrast_score       contrast component, 0-100
face_score           face confidence component, 0-100
defect_factor        noise, JPEG blocking and exposure factor on the score, (0, 1]
quality_score        weighted combined score, [0, 1]
DUPLICATES           pHash from duplicates.parquet, the rest from selection.parquet
phash                64-bit perceptual hash (16 hex); null when unreadable or not hashed
duplicate_of         the kept copy this image lost to: the best-scored of its group
duplicate_kind       how it matched: sha256 (same bytes) | phash (within the pHash
                     distance) | face_embedding (near-identical face and embedding); for a
                     copy that joined through another copy, its own strongest match
duplicate_distance   pHash bits between the two (0: same bytes)
duplicate_face_distance  L2 distance of the two main-face descriptors; null: not compared
duplicate_embedding_similarity  cosine of the two image embeddings; null: not compared
CLUSTER              from clusters_k{k}.parquet (face-ok images only)
cluster              cluster number, 0 = largest; null when not clustered
cluster_distance     Euclidean distance to the cluster centroid
cluster_size         images in the cluster
cluster_position     1-based position in its cluster by distance (1 = most typical)
SELECTION            from selection.parquet
face_pass            passed the exactly-one-face gate
unique_pass          not a duplicate; null when the face gate failed
thresholds_pass      passed sharpness/contrast/face-confidence thresholds; null: unreadable
score_pass           quality_score >= the minimum; null when unreadable
verdict              passed | rejected
reject_stage         face | duplicate | thresholds | quality_score; null when passed
reject_reason        the first failed check (e.g. no_face, low_sharpness); null when passed
rank                 1-based selection rank among passing images; null when rejected
TIERS                from the tier manifests (tier_{n}/manifest.parquet) that exist
tiers                tiers the image is in, smallest first
tier_entries         per tier: {tier, split (train | val), tier_file (relative to
                     results/{character}/)}
FILE FACTS           measured when the catalog is built
exists               the image file exists
bytes_on_disk        its size now; null when missing
==================== =================================================================
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from charfolio.core import tables
from charfolio.core.atomic import atomic_path
from charfolio.core.paths import portable_path
from charfolio.curate.selection import STAGES
from charfolio.curate.selection_io import read_rows
from charfolio.curate.thresholds import tier_name

PathLike = str | os.PathLike[str]

_STAGE_OF_REASON = {reason: stage for stage, reasons in STAGES.items() for reason in reasons}
_FACE_COLUMNS = ("file", "face_verdict", "n_faces", "face_confidence")
_QUALITY_COLUMNS = (
    "file",
    "readable",
    "sharpness",
    "contrast",
    *tables.QUALITY_DEFECT_MEASURES,
    "sharpness_score",
    "contrast_score",
    "face_score",
    "defect_factor",
    "quality_score",
)
_SELECTION_COLUMNS = (
    "file",
    "face_pass",
    "unique_pass",
    "thresholds_pass",
    "score_pass",
    "verdict",
    "reject_reason",
    *tables.DUPLICATE_EVIDENCE_COLUMNS,
    "rank",
    "tiers",
)


# (step, stage reached, the selection stage whose rejects stop short of it), funnel order.
FUNNEL_STEPS: tuple[tuple[int, str, str | None], ...] = (
    (0, "generated", None),
    *(
        (i, name, stage)
        for i, (stage, name) in enumerate(
            zip(STAGES, ("face_ok", "unique", "thresholds_ok", "passed"), strict=True), start=1
        )
    ),
)

# Views over the `catalog` table. {tier_counts} and {tier_shares} are filled with one column
# (pair) per tier present, so tier sizes read across the row like the other stages.
_VIEWS = (
    # catalog plus `reached`: the last funnel step the image got to (4 = passed).
    """CREATE VIEW staged AS
    SELECT c.*, coalesce(f.step - 1, 4) AS reached
    FROM catalog c LEFT JOIN funnel_steps f ON f.reject_stage = c.reject_stage""",
    # One row per image and step it reached; tiers are steps after `passed`, smallest first.
    """CREATE VIEW image_stages AS
    WITH tier_rows AS (SELECT character, file, unnest(tiers) AS stage FROM catalog)
    SELECT s.character, s.file, f.step, f.stage
    FROM staged s JOIN funnel_steps f ON f.step <= s.reached
    UNION ALL
    SELECT character, file,
        4 + dense_rank() OVER (
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
        count(*) FILTER (WHERE reached >= 4) AS passed
        {tier_counts}
    FROM staged GROUP BY character, seed""",
    # Face-ok images per cluster; each tier's count and its share of that tier.
    """CREATE VIEW clusters AS
    WITH c AS (
        SELECT character, cluster, count(*) AS images,
            count(*) FILTER (WHERE reached >= 4) AS passed,
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
)


def _table(path: PathLike, columns: Sequence[str], rule: str) -> dict[str, dict[str, Any]]:
    return tables.rows_by_file(read_rows(path, columns, rule), path, rule)


def _require(files: Sequence[str], rows: Mapping[str, Any], path: PathLike, rule: str) -> None:
    missing = [f for f in files if f not in rows]
    if missing:
        raise ValueError(
            f"{path} has no row for {missing[0]} (and {len(missing) - 1} more images); it is "
            f"older than the image tables: rerun the {rule} rule"
        )


def _cluster_positions(clusters: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """file -> 1-based position within its cluster, nearest the centroid first."""
    order = sorted(clusters.values(), key=lambda r: (r["cluster"], r["distance"], r["file"]))
    positions: dict[str, int] = {}
    previous, position = None, 0
    for row in order:
        position = position + 1 if row["cluster"] == previous else 1
        previous = row["cluster"]
        positions[row["file"]] = position
    return positions


def _tier_entries(
    tier_manifests: Mapping[int, PathLike],
    selection: Mapping[str, Mapping[str, Any]],
    selection_path: PathLike,
    character_root: Path,
) -> dict[str, list[dict[str, str]]]:
    """file -> [{tier, split, tier_file}] from the manifests that exist, smallest tier first.

    Each manifest must hold exactly the images the selection puts in that tier; a tier built
    from an older selection would otherwise be catalogued with the wrong members.
    """
    entries: dict[str, list[dict[str, str]]] = {}
    for n in sorted(tier_manifests):
        manifest = Path(tier_manifests[n])
        if not manifest.is_file():
            continue
        name = tier_name(n)
        rows = tables.read_table(manifest, tables.TIER_MANIFEST).to_pylist()
        built = {r["file"] for r in rows}
        selected = {f for f, r in selection.items() if name in (r["tiers"] or ())}
        if built != selected:
            extra, lacking = sorted(built - selected), sorted(selected - built)
            example = (extra or lacking)[0]
            raise ValueError(
                f"{manifest} does not match {selection_path}: {len(extra)} images only in the "
                f"tier and {len(lacking)} only in the selection (e.g. {example}); the tier is "
                f"older than the selection: rerun the build_tier rule for {name}"
            )
        tier_dir = manifest.parent
        for r in rows:
            tier_file = Path(os.path.relpath(tier_dir / r["tier_file"], character_root))
            entries.setdefault(r["file"], []).append(
                {"tier": name, "split": r["split"], "tier_file": tier_file.as_posix()}
            )
    return entries


def _file_facts(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size  # follows links: a dangling link is a missing file
    except OSError:
        return {"exists": False, "bytes_on_disk": None}
    return {"exists": True, "bytes_on_disk": size}


def build_catalog(
    image_tables: Sequence[PathLike],
    faces: PathLike,
    quality: PathLike,
    duplicates: PathLike | None,
    clusters: PathLike,
    selection: PathLike,
    tier_manifests: Mapping[int, PathLike],
    character_root: PathLike,
    out_path: PathLike,
) -> pa.Table:
    """Join one character's stage tables into a CATALOG table and write it to `out_path`.

    `image_tables` are the seed shard tables (IMAGES); `duplicates` (the pHash table) may
    be None when the duplicate stage is off; `tier_manifests` maps tier size to its
    manifest.parquet, and tiers whose manifest does not exist are left out. Image files
    are looked up under `character_root` (results/{character}/) to record what exists now.
    """
    root = Path(character_root)
    images: list[dict[str, Any]] = []
    for shard in image_tables:
        images += tables.read_table(shard, tables.IMAGES).to_pylist()
    characters = sorted({row["character"] for row in images})
    if len(characters) > 1:
        raise ValueError(
            f"the image tables {[str(p) for p in image_tables]} mix characters {characters}; "
            f"build one catalog per character"
        )
    image_by = tables.rows_by_file(images, "the image tables", "generate")
    files = sorted(image_by)
    face_by = _table(faces, _FACE_COLUMNS, "faces")
    quality_by = _table(quality, _QUALITY_COLUMNS, "quality")
    selection_by = _table(selection, _SELECTION_COLUMNS, "select_images")
    for table, path, rule in (
        (face_by, faces, "faces"),
        (quality_by, quality, "quality"),
        (selection_by, selection, "select_images"),
    ):
        _require(files, table, path, rule)
    phash_by = _table(duplicates, ("file", "phash"), "duplicates") if duplicates else {}
    cluster_by = _table(clusters, ("file", "cluster", "distance", "cluster_size"), "cluster")
    positions = _cluster_positions(cluster_by)
    tiers = _tier_entries(tier_manifests, selection_by, selection, root)
    folder = Path(os.path.abspath(root)).name  # not resolve(): a linked folder keeps its name

    rows = []
    for f in files:
        image, face, q, sel = image_by[f], face_by[f], quality_by[f], selection_by[f]
        cluster = cluster_by.get(f)
        entries = tiers.get(f, [])
        rows.append(
            {
                **image,
                "path": f"{folder}/{f}",
                "face_verdict": face["face_verdict"],
                "n_faces": face["n_faces"],
                "face_confidence": face["face_confidence"],
                **{c: q[c] for c in _QUALITY_COLUMNS if c != "file"},
                "phash": phash_by.get(f, {}).get("phash"),
                **{c: sel[c] for c in _SELECTION_COLUMNS if c not in ("file", "tiers")},
                "reject_stage": _STAGE_OF_REASON.get(sel["reject_reason"]),
                "cluster": None if cluster is None else cluster["cluster"],
                "cluster_distance": None if cluster is None else cluster["distance"],
                "cluster_size": None if cluster is None else cluster["cluster_size"],
                "cluster_position": positions.get(f),
                "tiers": [e["tier"] for e in entries],
                "tier_entries": entries,
                **_file_facts(root / f),
            }
        )
    return tables.write_table(out_path, rows, tables.CATALOG)


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
        con.execute(statement.format(tier_counts=counts, tier_shares=shares))


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
