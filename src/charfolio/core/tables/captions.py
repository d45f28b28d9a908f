"""The schema of captions written for ingested images, with their lint warnings."""

from __future__ import annotations

import pyarrow as pa

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
