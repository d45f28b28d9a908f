"""A reviewer's decisions on the demo: a rerun applies them to selection and what follows only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from charfolio.core.layout import Results, review_file
from charfolio.curate.decisions import Decision, read_decisions, update_decisions
from charfolio.curate.review_preview import tier_changes
from charfolio.curate.selection_io import read_selection

from .conftest import config_path, planned_jobs, snakemake

pytestmark = pytest.mark.slow

# What a changed review file may rerun: selection and everything built from the tiers.
DOWNSTREAM_OF_SELECTION = {
    "select_images", "build_tier", "build_catalog", "build_duckdb", "write_report",
    "analyze_balance", "curate_characters",
}  # fmt: skip


def _star_candidate(selection, tier: int) -> str:
    """A passing image outside `tier` whose cluster has a place in it: starred, it takes it."""
    members = set(selection.members[tier])
    clusters_in_tier = {r.cluster for r in selection.rows if r.file in members}
    outside = [
        r for r in selection.ranked() if r.file not in members and r.cluster in clusters_in_tier
    ]
    return outside[-1].file  # the lowest-ranked such image


def test_decisions_rerun_selection_only_and_change_tiers(workdir: Path, tmp_path: Path) -> None:
    reviews = tmp_path / "reviews"
    args = ("--configfile", config_path("demo.yaml"), "--config", f"review_dir={reviews}")
    snakemake(workdir, "curate_characters", *args)
    paths = Results(str(workdir / "results")).character("demo")
    before = read_selection(paths.selection)
    sha256 = {r.file: r.sha256 for r in before.rows}
    tier_10 = before.members[10]
    rejected, starred = tier_10[:2], _star_candidate(before, 10)

    path = Path(review_file(str(reviews), "demo"))
    update_decisions(
        path,
        {
            f: Decision(f, "reject", note="extra finger", reviewer="ana", sha256=sha256[f])
            for f in rejected
        }
        | {starred: Decision(starred, "star", reviewer="ana", sha256=sha256[starred])},
    )
    preview = tier_changes(paths.selection, read_decisions(path))
    assert set(preview["tier_10"].removed) >= set(rejected) and starred in preview["tier_10"].added

    plan = planned_jobs(snakemake(workdir, "-n", "curate_characters", *args).stdout)
    assert plan.get("select_images") == 1 and set(plan) <= DOWNSTREAM_OF_SELECTION, plan

    snakemake(workdir, "curate_characters", *args)
    after = read_selection(paths.selection)
    for n, members in after.members.items():
        expected = [f for f in before.members[n] if f not in preview[f"tier_{n}"].removed]
        assert set(members) == set(expected) | set(preview[f"tier_{n}"].added), n
    manifest = {
        r["file"] for r in pq.read_table(Path(paths.tier(10)) / "manifest.parquet").to_pylist()
    }
    assert manifest == set(after.members[10])
    assert starred in manifest and not manifest & set(rejected)

    catalog = {r["file"]: r for r in pq.read_table(paths.catalog).to_pylist()}
    for f in rejected:
        row = catalog[f]
        assert (row["verdict"], row["reject_reason"], row["reject_stage"]) == (
            "rejected",
            "reviewer",
            "review",
        )
        assert (row["pipeline_verdict"], row["review_note"], row["reviewer"]) == (
            "passed",
            "extra finger",
            "ana",
        )
    assert catalog[starred]["review_decision"] == "star" and "tier_10" in catalog[starred]["tiers"]
    report = json.loads(Path(paths.selection_report).read_text())
    assert report["review"]["applied"] == {"reject": 2, "star": 1}

    audit = subprocess.run(
        [sys.executable, "-m", "charfolio.cli", "audit", "reviews", "--json", "--db", "results/catalog.duckdb"],
        cwd=workdir, capture_output=True, text=True, check=True,
    )  # fmt: skip
    rows = {r["file"]: r for r in json.loads(audit.stdout)}
    assert set(rows) == {*rejected, starred}
    assert all(rows[f]["overruled"] and rows[f]["pipeline_verdict"] == "passed" for f in rejected)

    # Withdrawing every decision restores the funnel's own tiers.
    path.unlink()
    snakemake(workdir, "curate_characters", *args)
    assert read_selection(paths.selection).members == before.members


def test_a_malformed_review_file_fails_before_any_job(workdir: Path, tmp_path: Path) -> None:
    reviews = tmp_path / "reviews"
    reviews.mkdir()
    (reviews / "demo.csv").write_text(
        "file,decision,note,reviewer,reviewed_at,sha256\nimages/seed_1234/a.png,keep,,,,\n"
    )
    args = ("--configfile", config_path("demo.yaml"), "--config", f"review_dir={reviews}")
    dry = snakemake(workdir, "-n", "curate_characters", *args, check=False)
    assert dry.returncode != 0
    assert f"{reviews}/demo.csv line 2: decision 'keep' is not one of" in dry.stdout + dry.stderr
