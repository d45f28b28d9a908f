"""The checkpoint report: results/{character}/checkpoint_report.html (+ .json, .parquet).

`write_checkpoint_report` reads each LoRA's checkpoint scores (`checkpoint_runs`), ranks
the checkpoints (`ranking`) and writes the page (`checkpoint_page`), the JSON and the
per-category table. Beside the metrics stand people's 1-5 ratings of the renders (the
ratings file): per checkpoint and category, and per LoRA run (all its renders).
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
from charfolio.core.ratings import RatedImages
from charfolio.evaluate.checkpoint_page import render_page
from charfolio.evaluate.checkpoint_runs import LoraRun, load_run
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
    ratings: PathLike | None = None,
    character_root: PathLike | None = None,
) -> dict[str, Any]:
    """Aggregate the LoRAs' checkpoint scores, rank them, write the page (and JSON, Parquet).

    `scores` are the scores.parquet files of the LoRAs to compare, in display order; the
    images are linked relative to `out_html`'s folder. `ratings` is the character's ratings
    file (None: not written yet), keyed relative to `character_root` (default: the page's
    folder). Returns what the JSON holds.
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
    out_html = Path(out_html)
    rated = RatedImages.load(ratings, out_html.parent if character_root is None else character_root)
    summary = _with_ratings(summarize(rows, categories), runs, rated)
    ranking = rank_checkpoints([r for r in summary if r["category"] == ALL], weights)
    character = character or out_html.parent.name
    run_ratings = {run.lora: _run_rating(run, rated) for run in runs}
    html = render_page(
        character, runs, prompts, summary, ranking, weights, out_html.parent, thumb_size,
        run_ratings=run_ratings,
    )  # fmt: skip
    write_text_atomic(out_html, html)
    result = {
        "character": character,
        "suite": [asdict(p) for p in prompts],
        "ranking_weights": weights,
        "ranking": ranking,
        "categories": summary,
        "runs": {run.lora: {**run.record, **run_ratings[run.lora]} for run in runs},
    }
    if out_json is not None:
        write_text_atomic(out_json, json.dumps(result, indent=2, default=str) + "\n")
    if out_table is not None:
        tables.write_table(out_table, summary, CATEGORY_SCORES)
    return result


def _image_keys(run: LoraRun, rated: RatedImages, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    return [rated.key(run.folder / row["file"]) for row in rows]


def _run_rating(run: LoraRun, rated: RatedImages) -> dict[str, Any]:
    """The mean rating of all the run's renders (every checkpoint)."""
    return rated.mean(_image_keys(run, rated, run.rows)).fields()


def _with_ratings(
    summary: Sequence[Mapping[str, Any]], runs: Sequence[LoraRun], rated: RatedImages
) -> list[dict[str, Any]]:
    """Each summary row with the mean rating of its renders (its category's, or all)."""
    by_lora = {run.lora: run for run in runs}
    out = []
    for row in summary:
        run = by_lora[row["lora"]]
        mine = [
            r
            for r in run.rows
            if r["checkpoint"] == row["checkpoint"] and row["category"] in (ALL, r["category"])
        ]
        out.append({**row, **rated.mean(_image_keys(run, rated, mine)).fields()})
    return out
