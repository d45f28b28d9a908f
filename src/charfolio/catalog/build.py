"""The master catalog: one row per image, everything known about it, in one Parquet table.

`build_catalog` joins a character's stage tables into `catalog.parquet` (schema
`tables.CATALOG`); `charfolio.catalog.database.build_duckdb` loads the catalogs of all
characters into one DuckDB file with the views `charfolio audit` reads.

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
reject_stage         face | duplicate | thresholds | quality_score | review; null: passed
reject_reason        the first failed check (e.g. no_face, low_sharpness), or reviewer (a
                     person rejected it); null when passed
rank                 1-based selection rank among passing images; null when rejected
REVIEW               a person's decision, from config/reviews/{character}.csv via selection
review_decision      accept | reject | star; null: none. accept/star pass the image whatever
                     the funnel said (unless unreadable); star ranks it first in its cluster
review_note          the reviewer's note
reviewer             who decided
reviewed_at          when (ISO 8601)
review_status        applied | stale (the image changed since it was reviewed: not applied) |
                     ignored (an accept or star of an unreadable image)
pipeline_verdict     the funnel's verdict before any decision (passed | rejected)
pipeline_reject_reason  the funnel's reject reason before any decision
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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from charfolio.core import tables
from charfolio.core.layout import tier_folder
from charfolio.curate.selection import STAGES
from charfolio.curate.selection_io import read_rows

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
    *tables.REVIEW_DECISION_COLUMNS,
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
        name = tier_folder(n)
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
