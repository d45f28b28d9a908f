"""The checkpoint report: results/{character}/checkpoint_report.html (+ .json, .parquet).

`write_checkpoint_report` reads each LoRA's checkpoint scores (`checkpoint_runs`), ranks
the checkpoints (`ranking`) and writes the page (`checkpoint_page`), the JSON and the
per-category table.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from charfolio.core import tables
from charfolio.core.atomic import write_text_atomic
from charfolio.evaluate.checkpoint_page import render_page
from charfolio.evaluate.checkpoint_runs import load_run
from charfolio.evaluate.ranking import (
    ALL,
    CATEGORY_SCORES,
    check_ranking_weights,
    rank_checkpoints,
    summarize,
)
from charfolio.evaluate.suite import read_suite

PathLike = str | os.PathLike[str]


def write_checkpoint_report(
    scores: Sequence[PathLike],
    suite: PathLike,
    out_html: PathLike,
    *,
    out_json: PathLike | None = None,
    out_table: PathLike | None = None,
    character: str | None = None,
    ranking_weights: Mapping[str, float] | None = None,
    thumb_size: int = 96,
) -> dict[str, Any]:
    """Aggregate the LoRAs' checkpoint scores, rank them, write the page (and JSON, Parquet).

    `scores` are the scores.parquet files of the LoRAs to compare, in display order; the
    images are linked relative to `out_html`'s folder. Returns what the JSON holds.
    """
    if not scores:
        raise ValueError("no checkpoint scores to report; train a LoRA (training.presets)")
    weights = check_ranking_weights(ranking_weights)
    prompts = read_suite(suite)
    runs = [load_run(path, prompts) for path in scores]
    names = [r.lora for r in runs]
    if len(set(names)) != len(names):
        raise ValueError(f"the same LoRA is listed twice in {[str(s) for s in scores]}")
    categories = list(dict.fromkeys(p.category for p in prompts))
    rows = [row for run in runs for row in run.rows]
    summary = summarize(rows, categories)
    ranking = rank_checkpoints([r for r in summary if r["category"] == ALL], weights)
    out_html = Path(out_html)
    character = character or out_html.parent.name
    html = render_page(
        character, runs, prompts, summary, ranking, weights, out_html.parent, thumb_size
    )
    write_text_atomic(out_html, html)
    result = {
        "character": character,
        "suite": [asdict(p) for p in prompts],
        "ranking_weights": weights,
        "ranking": ranking,
        "categories": summary,
        "runs": {run.lora: run.record for run in runs},
    }
    if out_json is not None:
        write_text_atomic(out_json, json.dumps(result, indent=2, default=str) + "\n")
    if out_table is not None:
        tables.write_table(out_table, summary, CATEGORY_SCORES)
    return result
