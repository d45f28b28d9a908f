"""People's ratings in the workflow: the ratings file is an input of the two reports only."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from charfolio.core.digest import sha256_file
from charfolio.core.ratings import Rating, update_ratings

from .conftest import config_path, planned_jobs, snakemake

pytestmark = pytest.mark.slow

TARGETS = ("results/demo/ablation.html", "results/demo/checkpoint_report.html")
REPORTS = {"tabulate_ablation": 1, "write_checkpoint_report": 1}
RUN = "checkpoints/demo_tiny/tier_10"


def test_ratings_rerun_only_the_reports_and_show_their_means(workdir):
    reviews = workdir / "reviews"  # never the repo's config/reviews, which workdir links
    args = ("--configfile", config_path("demo.yaml"), "--config", f"review_dir={reviews}")
    snakemake(workdir, *TARGETS, *args)
    root = workdir / "results" / "demo"
    ablation = pq.read_table(root / "ablation.parquet").to_pylist()
    assert all(r["rating_mean"] is None and r["rating_count"] == 0 for r in ablation)

    board = json.loads((root / "story/launch/storyboard.json").read_text())
    frames = [f"story/launch/{frame['file']}" for frame in board["frames"]]
    renders = pq.read_table(root / RUN / "scores.parquet").to_pylist()
    first = [f"{RUN}/{r['file']}" for r in renders if r["checkpoint"] == "epoch-0001"]

    def rated(file: str, rating: int, sha256: str | None = None) -> Rating:
        return Rating(file, rating, "test", sha256=sha256 or sha256_file(root / file))

    ratings = reviews / "demo_ratings.csv"
    update_ratings(
        ratings,
        {
            frames[0]: rated(frames[0], 4),
            frames[1]: rated(frames[1], 2),
            frames[2]: rated(frames[2], 1, "0" * 64),  # of an earlier render: left out
            first[0]: rated(first[0], 5),
            first[1]: rated(first[1], 4),
        },
    )
    plan = snakemake(workdir, "-n", *TARGETS, *args).stdout
    assert planned_jobs(plan) == REPORTS, plan
    snakemake(workdir, *TARGETS, *args)

    rows = {r["storyboard"]: r for r in pq.read_table(root / "ablation.parquet").to_pylist()}
    assert (rows["story/launch"]["rating_mean"], rows["story/launch"]["rating_count"]) == (3.0, 2)
    assert rows["story/launch"]["rating_stale"] == 1
    assert rows["ablation/launch/baseline"]["rating_mean"] is None
    assert (
        'data-key="rating_mean" title="mean of 2 rating(s) 1-5; 1 rating(s) of an earlier '
        in (root / "ablation.html").read_text()
    )

    report = json.loads((root / "checkpoint_report.json").read_text())
    run = report["runs"]["demo_tiny/tier_10"]
    assert (run["rating_mean"], run["rating_count"], run["rating_stale"]) == (4.5, 2, 0)
    ranked = {r["checkpoint"]: r for r in report["ranking"]}
    assert ranked["epoch-0001"]["rating_mean"] == 4.5
    assert ranked["epoch-0002"]["rating_mean"] is None
    table = pq.read_table(root / "checkpoint_scores.parquet").to_pylist()
    assert {r["rating_count"] for r in table if r["checkpoint"] == "epoch-0001"} >= {2}
    assert "4.50 (2)" in (root / "checkpoint_report.html").read_text()
    assert planned_jobs(snakemake(workdir, "-n", *TARGETS, *args).stdout) == {}

    # a withdrawn ratings file reruns the reports again, and nothing else
    ratings.unlink()
    assert planned_jobs(snakemake(workdir, "-n", *TARGETS, *args).stdout) == REPORTS
