"""Schemas of targeted refinement: a round's pool and curated fill-ins, the refined tier."""

from __future__ import annotations

import pyarrow as pa

from charfolio.core.tables.balance import BALANCE
from charfolio.core.tables.curation import TIER_MANIFEST

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
