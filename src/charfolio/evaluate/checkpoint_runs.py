"""A LoRA's checkpoint job as the report reads it: its scores.parquet rows and run.json."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charfolio.core.layout import CHECKPOINT_RECORD
from charfolio.evaluate.scoring import read_scores
from charfolio.evaluate.suite import SuitePrompt

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class LoraRun:
    """One LoRA's checkpoint job: scores.parquet and run.json in `folder`."""

    folder: Path
    rows: list[dict[str, Any]]
    record: dict[str, Any]

    @property
    def lora(self) -> str:
        return str(self.record["lora"])


def load_run(scores: PathLike, suite: Sequence[SuitePrompt]) -> LoraRun:
    scores = Path(scores)
    if not scores.is_file():
        raise FileNotFoundError(f"{scores} not found; run the render_checkpoints rule")
    record_path = scores.parent / CHECKPOINT_RECORD  # the run folder holds both
    if not record_path.is_file():
        raise FileNotFoundError(f"{record_path} not found; rerun the render_checkpoints rule")
    rows = read_scores(scores).to_pylist()
    expected = {(p.prompt_id, p.prompt, p.seed) for p in suite}
    for checkpoint in {r["checkpoint"] for r in rows}:
        got = {
            (r["prompt_id"], r["prompt"], r["seed"]) for r in rows if r["checkpoint"] == checkpoint
        }
        if got != expected:
            raise ValueError(
                f"{scores}: checkpoint {checkpoint} was rendered from another prompt suite "
                f"than the current one; rerun the render_checkpoints rule"
            )
    record = json.loads(record_path.read_text(encoding="utf-8"))
    return LoraRun(scores.parent, rows, record)
