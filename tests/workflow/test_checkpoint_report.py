"""The offline demo up to results/demo/checkpoint_report.html, on the tiny trained LoRA."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image

from charfolio.evaluate import CHECKPOINT_REPORT_SECTIONS, CHECKPOINT_SCORES

from .conftest import config_path, planned_jobs, snakemake

pytestmark = pytest.mark.slow

TARGET = "results/demo/checkpoint_report.html"


def test_demo_checkpoint_report(workdir):
    demo = config_path("demo.yaml")
    snakemake(workdir, TARGET, "--configfile", demo)
    root = workdir / "results" / "demo"

    # the suite: 5 categories x 2 prompts (config/demo.yaml), trigger token first
    suite = pq.read_table(root / "checkpoints" / "suite.parquet").to_pylist()
    assert len(suite) == 10 and all(p["prompt"].startswith("nova woman, ") for p in suite)

    # one job for the one trained LoRA: both epochs (epoch 2 is the final LoRA), 64 px renders
    lora = root / "checkpoints" / "demo_tiny" / "tier_10"
    scores = pq.read_table(lora / "scores.parquet")
    assert scores.schema == CHECKPOINT_SCORES
    rows = scores.to_pylist()
    assert sorted({(r["checkpoint"], r["final"]) for r in rows}) == [
        ("epoch-0001", False),
        ("epoch-0002", True),
    ]
    assert len(rows) == 20
    for r in rows[:3]:
        with Image.open(lora / r["file"]) as image:
            assert image.size == (64, 64)
    record = json.loads((lora / "run.json").read_text())
    assert record["render"]["steps"] == 4 and record["render"]["backend"] == "tiny"
    assert record["references"]["n_descriptors"] > 0  # tier_10's faces are the astronaut's

    report = json.loads((root / "checkpoint_report.json").read_text())
    assert [r["rank"] for r in report["ranking"]] == [1, 2]
    html = (root / "checkpoint_report.html").read_text()
    for sid, _ in CHECKPOINT_REPORT_SECTIONS:
        assert f'<section id="{sid}">' in html
    assert 'href="checkpoints/demo_tiny/tier_10/images/epoch-0001/close_up_01.png"' in html
    assert (root / "logs" / "render_checkpoints" / "demo_tiny_tier_10.log").is_file()
    assert (root / "benchmarks" / "render_checkpoints" / "demo_tiny_tier_10.tsv").is_file()

    # new ranking weights rerun the report only, never the renders
    extra = workdir / "weights.yaml"
    extra.write_text(yaml.safe_dump({"evaluation": {"prompts_per_category": 2,
                                                    "ranking_weights": {"quality": 1.0}}}))  # fmt: skip
    plan = snakemake(workdir, "-n", TARGET, "--configfile", demo, str(extra)).stdout
    assert planned_jobs(plan) == {"write_checkpoint_report": 1}
    assert planned_jobs(snakemake(workdir, "-n", TARGET, "--configfile", demo).stdout) == {}
