"""Parquet schemas of every table charfolio writes, declared once, one module per stage group.

parquet_io.py    write_table / read_table (checked against a schema), rows_by_file
generation.py    SCENARIOS, IMAGES (and image_files)
measurements.py  FACES, QUALITY, DUPLICATES (hashes), EMBEDDING_INDEX
curation.py      CLUSTERS, SELECTION, TIER_MANIFEST; the duplicate evidence and review
                 decision columns SELECTION and CATALOG share
catalog.py       CATALOG: one row per image, every stage joined
balance.py       BALANCE, AUGMENTED (the balanced tier)
refine.py        REFINE_POOL, REFINE_CURATED, REFINED (the refined tier)
captions.py      CAPTIONS of ingested images
story.py         ABLATION of the storyboards

Every writer goes through `write_table`, so a table on disk always has exactly its schema's
columns and types. Callers use `from charfolio.core import tables` and `tables.X`.
"""

from charfolio.core.tables.balance import AUGMENTED, BALANCE
from charfolio.core.tables.captions import CAPTIONS
from charfolio.core.tables.catalog import CATALOG
from charfolio.core.tables.curation import (
    CLUSTERS,
    DUPLICATE_EVIDENCE,
    DUPLICATE_EVIDENCE_COLUMNS,
    REVIEW_DECISION,
    REVIEW_DECISION_COLUMNS,
    SELECTION,
    TIER_MANIFEST,
)
from charfolio.core.tables.generation import IMAGES, SCENARIOS, image_files
from charfolio.core.tables.measurements import (
    DUPLICATES,
    EMBEDDING_INDEX,
    FACES,
    QUALITY,
    QUALITY_DEFECT_MEASURES,
)
from charfolio.core.tables.parquet_io import read_table, rows_by_file, write_table
from charfolio.core.tables.refine import REFINE_CURATED, REFINE_POOL, REFINED
from charfolio.core.tables.story import ABLATION

__all__ = [
    "ABLATION",
    "AUGMENTED",
    "BALANCE",
    "CAPTIONS",
    "CATALOG",
    "CLUSTERS",
    "DUPLICATES",
    "DUPLICATE_EVIDENCE",
    "DUPLICATE_EVIDENCE_COLUMNS",
    "EMBEDDING_INDEX",
    "FACES",
    "IMAGES",
    "QUALITY",
    "QUALITY_DEFECT_MEASURES",
    "REFINED",
    "REFINE_CURATED",
    "REFINE_POOL",
    "REVIEW_DECISION",
    "REVIEW_DECISION_COLUMNS",
    "SCENARIOS",
    "SELECTION",
    "TIER_MANIFEST",
    "image_files",
    "read_table",
    "rows_by_file",
    "write_table",
]
