"""Schemas of the per-image measurements: faces, quality, hashes and embedding rows.

Raw measurements are stored unthresholded; the curation applies thresholds to them.
"""

from __future__ import annotations

import pyarrow as pa

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
