"""The catalog's schema: one row per image, every stage's columns joined."""

from __future__ import annotations

import pyarrow as pa

from charfolio.core.tables.curation import DUPLICATE_EVIDENCE, REVIEW_DECISION
from charfolio.core.tables.generation import IMAGES
from charfolio.core.tables.measurements import QUALITY, QUALITY_DEFECT_MEASURES

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
        *REVIEW_DECISION,
        pa.field("tiers", pa.list_(pa.string()), nullable=False),
        pa.field("tier_entries", pa.list_(_TIER_ENTRY), nullable=False),
        pa.field("exists", pa.bool_(), nullable=False),
        pa.field("bytes_on_disk", pa.int64(), nullable=True),
    ],
    metadata={"charfolio.table": "catalog"},
)
