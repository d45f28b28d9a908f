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

from charfolio.core.atomic import atomic_path

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


EMBEDDING_INDEX = pa.schema(
    [
        pa.field("row", pa.int64(), nullable=False),  # row in the .npy beside this table
        pa.field("file", pa.string(), nullable=False),
        pa.field("ok", pa.bool_(), nullable=False),  # false: unreadable, the row is all zeros
        pa.field("model", pa.string(), nullable=False),  # backend:model:weights
        pa.field("reason", pa.string(), nullable=True),  # why not ok
    ],
    metadata={"charfolio.table": "embedding_index"},
)

CLUSTERS = pa.schema(
    [
        pa.field("file", pa.string(), nullable=False),  # only images whose face verdict is ok
        pa.field("cluster", pa.int32(), nullable=False),  # 0 = largest cluster
        pa.field("distance", pa.float64(), nullable=False),  # Euclidean, to its centroid
        pa.field("cluster_size", pa.int32(), nullable=False),
    ],
    metadata={"charfolio.table": "clusters"},
)

# A rejected copy's evidence, the same columns in SELECTION and CATALOG: the copy it lost to
# (the best-scored of its group), the criterion that matched, and its measures to that copy.
DUPLICATE_EVIDENCE = (
    pa.field("duplicate_of", pa.string(), nullable=True),
    pa.field("duplicate_kind", pa.string(), nullable=True),  # duplicates.DUPLICATE_KINDS
    pa.field("duplicate_distance", pa.int32(), nullable=True),  # pHash bits (0: same bytes)
    pa.field("duplicate_face_distance", pa.float64(), nullable=True),  # main-face descriptors, L2
    pa.field("duplicate_embedding_similarity", pa.float64(), nullable=True),  # embeddings, cosine
)
DUPLICATE_EVIDENCE_COLUMNS = tuple(f.name for f in DUPLICATE_EVIDENCE)

SELECTION = pa.schema(
    [
        pa.field("file", pa.string(), nullable=False),
        pa.field("seed", pa.int64(), nullable=False),
        pa.field("mode", pa.string(), nullable=False),
        pa.field("scenario", pa.string(), nullable=True),
        pa.field("prompt", pa.string(), nullable=False),
        pa.field("cluster", pa.int32(), nullable=True),  # null: not clustered (face not ok)
        pa.field("quality_score", pa.float64(), nullable=True),  # [0, 1]; null when unreadable
        pa.field("sharpness", pa.float64(), nullable=True),
        pa.field("contrast", pa.float64(), nullable=True),
        pa.field("face_confidence", pa.float64(), nullable=True),
        pa.field("face_verdict", pa.string(), nullable=False),
        # Stage verdicts in funnel order; null where the stage was not evaluated.
        pa.field("face_pass", pa.bool_(), nullable=False),
        pa.field("unique_pass", pa.bool_(), nullable=True),
        pa.field("thresholds_pass", pa.bool_(), nullable=True),
        pa.field("score_pass", pa.bool_(), nullable=True),
        pa.field("verdict", pa.string(), nullable=False),  # passed | rejected
        pa.field("reject_reason", pa.string(), nullable=True),  # the first failed check
        *DUPLICATE_EVIDENCE,
        pa.field("rank", pa.int32(), nullable=True),  # 1-based, passing images only
        pa.field("tiers", pa.list_(pa.string()), nullable=False),  # e.g. ["tier_70", "tier_100"]
    ],
    metadata={"charfolio.table": "selection"},
)

TIER_MANIFEST = pa.schema(
    [
        pa.field("file", pa.string(), nullable=False),  # the source image, as in IMAGES
        pa.field("tier_file", pa.string(), nullable=False),  # relative to the tier directory
        pa.field("caption_file", pa.string(), nullable=False),
        pa.field("caption", pa.string(), nullable=False),
        pa.field("rank", pa.int32(), nullable=False),
        pa.field("cluster", pa.int32(), nullable=False),
        pa.field("seed", pa.int64(), nullable=False),
        pa.field("quality_score", pa.float64(), nullable=False),
        pa.field("sharpness", pa.float64(), nullable=True),
        pa.field("contrast", pa.float64(), nullable=True),
        pa.field("face_confidence", pa.float64(), nullable=True),
        pa.field("split", pa.string(), nullable=False),  # train | val
    ],
    metadata={"charfolio.table": "tier_manifest"},
)

FACES = pa.schema(
    [
        pa.field("file", pa.string(), nullable=False),  # as given, relative to results/{character}/
        # ok | no_face | multiple_faces | partial_face | unreadable
        pa.field("face_verdict", pa.string(), nullable=False),
        pa.field("n_faces", pa.int32(), nullable=True),  # every detection; null when unreadable
        # Pixel boxes [x0, y0, x1, y1] (x1/y1 exclusive; may reach past the border), largest first.
        pa.field("boxes", pa.list_(pa.list_(pa.float64())), nullable=True),
        pa.field("confidences", pa.list_(pa.float64()), nullable=True),  # [0, 1], same order
        pa.field("face_confidence", pa.float64(), nullable=True),  # the main (largest) face
        pa.field("landmarks", pa.list_(pa.list_(pa.float64())), nullable=True),  # main face [x, y]s
        pa.field("descriptor", pa.list_(pa.float32()), nullable=True),  # main face identity vector
        pa.field("descriptor_model", pa.string(), nullable=True),
        pa.field("width", pa.int32(), nullable=True),
        pa.field("height", pa.int32(), nullable=True),
        pa.field("reason_detail", pa.string(), nullable=True),  # why unreadable
    ],
    metadata={"charfolio.table": "faces"},
)

QUALITY = pa.schema(
    [
        pa.field("file", pa.string(), nullable=False),
        pa.field("readable", pa.bool_(), nullable=False),
        pa.field("reason", pa.string(), nullable=True),  # unreadable | null
        pa.field("reason_detail", pa.string(), nullable=True),
        # Raw measures (charfolio.quality.measures); frame ones at the working scale.
        pa.field("sharpness", pa.float64(), nullable=True),  # frame Laplacian variance
        pa.field("contrast", pa.float64(), nullable=True),  # frame grey std, 0-255
        pa.field("face_sharpness", pa.float64(), nullable=True),  # main face, [0, 1]; null: no face
        pa.field("noise", pa.float64(), nullable=True),  # noise sigma, 0-255 grey
        pa.field("blockiness", pa.float64(), nullable=True),  # JPEG 8x8 blocking, 1 = none
        pa.field("highlights", pa.float64(), nullable=True),  # share of the frame clipped (>= 250)
        pa.field("shadows", pa.float64(), nullable=True),  # share of the frame crushed (<= 5)
        pa.field("face_brightness", pa.float64(), nullable=True),  # main face mean grey, 0-255
        pa.field("face_highlights", pa.float64(), nullable=True),  # share of the face clipped
        pa.field("face_shadows", pa.float64(), nullable=True),  # share of the face crushed
        pa.field("face_size", pa.float64(), nullable=True),  # main face box side, file px
        pa.field("short_side", pa.int32(), nullable=True),  # the file's shorter side, px
        pa.field("working_scale", pa.float64(), nullable=True),  # frame measures' scale, <= 1
        pa.field("face_confidence", pa.float64(), nullable=True),  # from the faces table
        pa.field("sharpness_score", pa.float64(), nullable=True),  # 0-100
        pa.field("contrast_score", pa.float64(), nullable=True),  # 0-100
        pa.field("face_score", pa.float64(), nullable=True),  # 0-100
        pa.field("defect_factor", pa.float64(), nullable=True),  # noise, blocks, exposure, (0, 1]
        pa.field("quality_score", pa.float64(), nullable=True),  # weighted x defects, [0, 1]
        pa.field("width", pa.int32(), nullable=True),
        pa.field("height", pa.int32(), nullable=True),
    ],
    metadata={"charfolio.table": "quality"},
)

# The raw measures beyond the methodology's sharpness and contrast, carried into the catalog.
QUALITY_DEFECT_MEASURES = (
    "face_sharpness", "noise", "blockiness", "highlights", "shadows", "face_brightness",
    "face_highlights", "face_shadows", "face_size", "short_side", "working_scale",
)  # fmt: skip

DUPLICATES = pa.schema(
    [
        pa.field("file", pa.string(), nullable=False),
        pa.field("sha256", pa.string(), nullable=True),  # of the file's bytes; null if missing
        pa.field("phash", pa.string(), nullable=True),  # 64-bit DCT hash, 16 hex; null: unreadable
    ],
    metadata={"charfolio.table": "duplicates"},
)


def image_files(image_tables: Sequence[str | os.PathLike[str]]) -> list[str]:
    """The `file` column of IMAGES tables (seed shards or an ingested folder), in table order."""
    files: list[str] = []
    for path in image_tables:
        files += read_table(path, IMAGES).column("file").to_pylist()
    return files


_TIER_ENTRY = pa.struct(
    [
        pa.field("tier", pa.string(), nullable=False),  # e.g. tier_70
        pa.field("split", pa.string(), nullable=False),  # train | val
        pa.field("tier_file", pa.string(), nullable=False),  # relative to results/{character}/
    ]
)

# One row per image: generation, faces, quality, duplicates, cluster, selection, tiers and
# file facts joined; every column is described in charfolio.catalog.build's docstring.
CATALOG = pa.schema(
    [
        pa.field("character", pa.string(), nullable=False),
        pa.field("file", pa.string(), nullable=False),  # relative to results/{character}/
        pa.field("path", pa.string(), nullable=False),  # relative to results/: {character}/{file}
        *(IMAGES.field(name) for name in IMAGES.names if name not in ("file", "character")),
        pa.field("face_verdict", pa.string(), nullable=False),
        pa.field("n_faces", pa.int32(), nullable=True),
        pa.field("face_confidence", pa.float64(), nullable=True),
        pa.field("readable", pa.bool_(), nullable=False),
        pa.field("sharpness", pa.float64(), nullable=True),
        pa.field("contrast", pa.float64(), nullable=True),
        *(QUALITY.field(name) for name in QUALITY_DEFECT_MEASURES),
        pa.field("sharpness_score", pa.float64(), nullable=True),
        pa.field("contrast_score", pa.float64(), nullable=True),
        pa.field("face_score", pa.float64(), nullable=True),
        pa.field("defect_factor", pa.float64(), nullable=True),
        pa.field("quality_score", pa.float64(), nullable=True),
        pa.field("phash", pa.string(), nullable=True),
        *DUPLICATE_EVIDENCE,
        pa.field("cluster", pa.int32(), nullable=True),
        pa.field("cluster_distance", pa.float64(), nullable=True),
        pa.field("cluster_size", pa.int32(), nullable=True),
        pa.field("cluster_position", pa.int32(), nullable=True),
        pa.field("face_pass", pa.bool_(), nullable=False),
        pa.field("unique_pass", pa.bool_(), nullable=True),
        pa.field("thresholds_pass", pa.bool_(), nullable=True),
        pa.field("score_pass", pa.bool_(), nullable=True),
        pa.field("verdict", pa.string(), nullable=False),
        pa.field("reject_stage", pa.string(), nullable=True),
        pa.field("reject_reason", pa.string(), nullable=True),
        pa.field("rank", pa.int32(), nullable=True),
        pa.field("tiers", pa.list_(pa.string()), nullable=False),
        pa.field("tier_entries", pa.list_(_TIER_ENTRY), nullable=False),
        pa.field("exists", pa.bool_(), nullable=False),
        pa.field("bytes_on_disk", pa.int64(), nullable=True),
    ],
    metadata={"charfolio.table": "catalog"},
)

# Dataset balance (charfolio.balance): one row per analysed image; shot type from the main
# face box, the method's three scene flags and the raw measures behind them.
BALANCE = pa.schema(
    [
        pa.field("file", pa.string(), nullable=False),  # relative to results/{character}/
        pa.field("shot_type", pa.string(), nullable=False),  # close_up ... wide, or unknown
        pa.field("face_height_fraction", pa.float64(), nullable=True),  # main box height / image
        pa.field("face_centre_x", pa.float64(), nullable=True),  # fraction of the width
        pa.field("face_centre_y", pa.float64(), nullable=True),  # fraction of the height
        pa.field("room_below_heads", pa.float64(), nullable=True),  # frame below the face centre
        pa.field("face_box", pa.list_(pa.float64()), nullable=True),  # main [x0, y0, x1, y1]
        pa.field("face_confidence", pa.float64(), nullable=True),
        pa.field("face_sharpness", pa.float64(), nullable=True),  # Laplacian var., face at 80 px
        pa.field("n_people", pa.int32(), nullable=True),  # faces of note (the face gate's rule)
        pa.field("multi_character", pa.bool_(), nullable=False),
        pa.field("occlusion", pa.bool_(), nullable=False),
        pa.field("occlusion_reason", pa.string(), nullable=True),  # border_cut | low_confidence
        pa.field("complex_background", pa.bool_(), nullable=False),
        pa.field("edge_density", pa.float64(), nullable=True),  # outside the subject, [0, 1]
        pa.field("entropy", pa.float64(), nullable=True),  # grey levels outside the subject, bits
        pa.field("background_fraction", pa.float64(), nullable=True),  # of the frame measured
        pa.field("width", pa.int32(), nullable=True),
        pa.field("height", pa.int32(), nullable=True),
        pa.field("reason", pa.string(), nullable=True),  # why unknown: face verdict or read error
    ],
    metadata={"charfolio.table": "balance"},
)

# A balanced tier's manifest: a tier manifest (readable wherever TIER_MANIFEST is) whose rows
# are the tier's images plus crops made from them, with each crop's provenance.
AUGMENTED = pa.schema(
    [
        *TIER_MANIFEST,  # augmented rows: file is the crop, relative to results/{character}/
        pa.field("origin", pa.string(), nullable=False),  # original | augmented
        pa.field("parent_file", pa.string(), nullable=True),  # the image a crop was cut from
        pa.field("transform", pa.string(), nullable=True),  # e.g. crop_to_medium
        pa.field("crop_box", pa.list_(pa.int32()), nullable=True),  # in the parent's pixels
        pa.field("shot_type", pa.string(), nullable=False),
        pa.field("face_box", pa.list_(pa.float64()), nullable=True),  # in this image's pixels
        pa.field("width", pa.int32(), nullable=False),
        pa.field("height", pa.int32(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),  # of this image's bytes
    ],
    metadata={"charfolio.table": "augmented"},
)

# The storyboard ablation (charfolio.story.ablation): one row per story and mode, from the
# storyboard's evaluation.json and storyboard.json. Face scores are None without faces.
ABLATION = pa.schema(
    [
        pa.field("character", pa.string(), nullable=False),
        pa.field("story", pa.string(), nullable=False),
        pa.field("mode", pa.string(), nullable=False),  # baseline | simple | reference_guided
        pa.field("n_frames", pa.int32(), nullable=False),
        pa.field("frames_with_face", pa.int32(), nullable=False),
        pa.field("face_first_vs_rest_mean", pa.float64(), nullable=True),  # cosine, frame 1
        pa.field("face_first_vs_rest_min", pa.float64(), nullable=True),
        pa.field("face_pairwise_mean", pa.float64(), nullable=True),  # cosine, all pairs
        pa.field("face_pairwise_min", pa.float64(), nullable=True),
        pa.field("face_backend", pa.string(), nullable=False),  # scores compare within one
        pa.field("prompt_adherence_mean", pa.float64(), nullable=False),  # CLIP on [0, 1]
        pa.field("prompt_adherence_min", pa.float64(), nullable=False),
        pa.field("frames_passed", pa.int32(), nullable=False),  # at or above the threshold
        pa.field("threshold", pa.float64(), nullable=False),
        pa.field("diversity", pa.float64(), nullable=True),  # mean pairwise CLIP distance
        pa.field("attempts", pa.int32(), nullable=False),  # renders, retries included
        pa.field("seconds_per_frame", pa.float64(), nullable=False),
        pa.field("loras", pa.string(), nullable=False),  # "name:weight, ..." or "" (baseline)
        pa.field("storyboard", pa.string(), nullable=False),  # folder, relative to results/{c}/
    ],
    metadata={"charfolio.table": "ablation"},
)


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


# Targeted refinement rounds (charfolio.refine.rounds). The pool a round measures its gaps
# on: a tier's images and the fill-ins accepted so far, with hashes for duplicate checks.
REFINE_POOL = pa.schema(
    [
        *BALANCE,
        pa.field("origin", pa.string(), nullable=False),  # tier | round_{r}
        pa.field("sha256", pa.string(), nullable=True),
        pa.field("phash", pa.string(), nullable=True),  # 16 hex digits; null: unreadable
    ],
    metadata={"charfolio.table": "refine_pool"},
)

# One row per image a round generated: the curation gates' measurements and one verdict.
REFINE_CURATED = pa.schema(
    [
        pa.field("file", pa.string(), nullable=False),  # relative to results/{character}/
        pa.field("round", pa.int32(), nullable=False),
        pa.field("aim", pa.string(), nullable=False),  # the shot type its modifier asked for
        pa.field("scenario", pa.string(), nullable=False),  # the targeted modifier
        pa.field("prompt", pa.string(), nullable=False),
        pa.field("generator_seed", pa.int64(), nullable=False),
        pa.field("face_verdict", pa.string(), nullable=False),
        pa.field("face_confidence", pa.float64(), nullable=True),
        pa.field("sharpness", pa.float64(), nullable=True),
        pa.field("contrast", pa.float64(), nullable=True),
        pa.field("quality_score", pa.float64(), nullable=True),
        pa.field("shot_type", pa.string(), nullable=False),  # measured; unknown without a face
        pa.field("complex_background", pa.bool_(), nullable=False),
        pa.field("sha256", pa.string(), nullable=True),
        pa.field("phash", pa.string(), nullable=True),
        pa.field("verdict", pa.string(), nullable=False),  # accepted | rejected
        # the first failed check: a face reason, a threshold reason, low_quality_score,
        # below_tier_floor, duplicate, off_target (its shot type is not needed) or surplus
        # (needed, but this round already filled that quota)
        pa.field("reject_reason", pa.string(), nullable=True),
        pa.field("duplicate_of", pa.string(), nullable=True),
    ],
    metadata={"charfolio.table": "refine_curated"},
)

# A refined tier's manifest: a tier manifest (readable wherever TIER_MANIFEST is) whose rows
# are the tier's images and the fill-ins the rounds accepted.
REFINED = pa.schema(
    [
        *TIER_MANIFEST,
        pa.field("origin", pa.string(), nullable=False),  # tier | refined
        pa.field("round", pa.int32(), nullable=True),  # the round that made a fill-in
        pa.field("aim", pa.string(), nullable=True),
        pa.field("scenario", pa.string(), nullable=True),
        pa.field("shot_type", pa.string(), nullable=False),
    ],
    metadata={"charfolio.table": "refined"},
)

_CAPTION_WARNING = pa.struct(
    [
        pa.field("code", pa.string(), nullable=False),  # identity_word | missing_token | ...
        pa.field("category", pa.string(), nullable=True),  # hair, eyes, age, ...
        pa.field("term", pa.string(), nullable=True),
        pa.field("message", pa.string(), nullable=False),
    ]
)

# Captions of ingested images from a captioner (charfolio.captions.captioning), linted.
CAPTIONS = pa.schema(
    [
        pa.field("file", pa.string(), nullable=False),  # relative to results/{character}/
        pa.field("caption", pa.string(), nullable=True),  # null: not captioned (see reason)
        pa.field("backend", pa.string(), nullable=False),  # template | transformers | llama_cpp
        pa.field("shot_type", pa.string(), nullable=False),  # from the main face box
        pa.field("warnings", pa.list_(_CAPTION_WARNING), nullable=False),  # caption lint
        pa.field("reason", pa.string(), nullable=True),  # why not captioned
    ],
    metadata={"charfolio.table": "captions"},
)
