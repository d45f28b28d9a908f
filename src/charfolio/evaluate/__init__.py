"""The checkpoint report: every checkpoint of every trained LoRA on a standard prompt suite.

suite.py              the prompt suite by category (deterministic, trigger token first)
checkpoints.py        a LoRA's epoch checkpoints and final weights, from its summary.json
references.py         the trained tier's reference face descriptors
scoring.py            identity, prompt adherence and quality of one rendered image
run.py                render + score one LoRA's checkpoints (the GPU job)
ranking.py            per-category aggregates and the ranking of checkpoints
checkpoint_runs.py    a LoRA's scores.parquet and run.json, as the report reads them
checkpoint_page.py    the report's HTML page
checkpoint_report.py  checkpoint_report.html, .json and .parquet
"""

from charfolio.evaluate.checkpoint_page import CHECKPOINT_REPORT_SECTIONS
from charfolio.evaluate.checkpoint_report import write_checkpoint_report
from charfolio.evaluate.checkpoints import LoraCheckpoint, list_checkpoints
from charfolio.evaluate.ranking import (
    DEFAULT_RANKING_WEIGHTS,
    RANKING_METRICS,
    rank_checkpoints,
    rank_scores,
    summarize,
)
from charfolio.evaluate.references import References, load_references
from charfolio.evaluate.run import (
    CheckpointRenderer,
    evaluate_lora,
    evaluate_lora_checkpoints,
    render_and_score,
)
from charfolio.evaluate.scoring import CHECKPOINT_SCORES, ImageScore, ImageScorer, read_scores
from charfolio.evaluate.suite import (
    SUITE,
    SUITE_CATEGORIES,
    SuitePrompt,
    build_suite,
    make_suite,
    read_suite,
    write_suite,
)

__all__ = [
    "CHECKPOINT_REPORT_SECTIONS",
    "CHECKPOINT_SCORES",
    "DEFAULT_RANKING_WEIGHTS",
    "RANKING_METRICS",
    "SUITE",
    "SUITE_CATEGORIES",
    "CheckpointRenderer",
    "ImageScore",
    "ImageScorer",
    "LoraCheckpoint",
    "References",
    "SuitePrompt",
    "build_suite",
    "evaluate_lora",
    "evaluate_lora_checkpoints",
    "list_checkpoints",
    "load_references",
    "make_suite",
    "rank_checkpoints",
    "rank_scores",
    "read_scores",
    "read_suite",
    "render_and_score",
    "summarize",
    "write_checkpoint_report",
    "write_suite",
]
