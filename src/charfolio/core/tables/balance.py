"""Schemas of dataset balance: shot types and scene flags, and the balanced (cropped) tier."""

from __future__ import annotations

import pyarrow as pa

from charfolio.core.tables.curation import TIER_MANIFEST

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
