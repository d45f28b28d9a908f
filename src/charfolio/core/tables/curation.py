"""Schemas of the curation: clusters, the selection funnel and the tiers it builds."""

from __future__ import annotations

import pyarrow as pa

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

# A reviewer's decision on the image (config/reviews/{character}.csv) and the funnel's own
# verdict it overruled; the same columns in SELECTION and CATALOG. All null without one.
REVIEW_DECISION = (
    pa.field("review_decision", pa.string(), nullable=True),  # accept | reject | star
    pa.field("review_note", pa.string(), nullable=True),
    pa.field("reviewer", pa.string(), nullable=True),
    pa.field("reviewed_at", pa.string(), nullable=True),  # ISO 8601, as the review file has it
    # applied | stale (the image changed since) | ignored (accept/star of an unreadable image)
    pa.field("review_status", pa.string(), nullable=True),
    pa.field("pipeline_verdict", pa.string(), nullable=False),  # before any decision
    pa.field("pipeline_reject_reason", pa.string(), nullable=True),
)
REVIEW_DECISION_COLUMNS = tuple(f.name for f in REVIEW_DECISION)

SELECTION = pa.schema(
    [
        pa.field("file", pa.string(), nullable=False),
        pa.field("sha256", pa.string(), nullable=True),  # of the image judged
        pa.field("seed", pa.int64(), nullable=False),
        pa.field("mode", pa.string(), nullable=False),
        pa.field("scenario", pa.string(), nullable=True),
        pa.field("prompt", pa.string(), nullable=False),
        pa.field("cluster", pa.int32(), nullable=True),  # null: not clustered (face not ok)
        # An unclustered image's nearest centroid: its cluster in the ranking if a reviewer
        # accepts it (charfolio.curate.nearest_cluster); null for clustered images.
        pa.field("nearest_cluster", pa.int32(), nullable=True),
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
        *REVIEW_DECISION,
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
