"""A reviewer's decisions on the demo: a rerun applies them to selection and what follows only."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from charfolio.core.layout import Results, review_file
from charfolio.curate.decisions import read_decisions, update_decisions
from charfolio.curate.review_preview import tier_changes
from charfolio.curate.selection_io import read_selection
from tests.unit.chromium_support import chromium

from .conftest import config_path, planned_jobs, snakemake

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip

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


@contextmanager
def review_server(workdir: Path, *args: str) -> Iterator[str]:
    """`charfolio review` as a user starts it, in the workflow's folder; yields its URL."""
    server = subprocess.Popen(
        [sys.executable, "-m", "charfolio.cli", "review", "--no-browser", "--port", "0", *args],
        cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = server.stdout.readline().strip()  # its first line is the tokened URL
        assert url.startswith("http://127.0.0.1:") and "?token=" in url, server.stderr.read()
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def review_in_chromium(
    url: str,
    rejected: list[str],
    starred: str,
    cluster: int,
    review: Path,
    preview: Callable[[], str],
) -> None:
    """Reject two tier_10 images and star one in the page, with the keys; then wait for the
    page's preview panel to show `preview()` (called once the review file holds all three)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        page = browser.new_context(
            viewport={"width": 1280, "height": 900}, bypass_csp=True
        ).new_page()
        page.goto(url)
        page.wait_for_selector("#spacer .tile")
        page.select_option("#f-tier", "tier_10")
        for file in rejected:
            page.click(f'#spacer .tile[data-file="{file}"]')
            page.keyboard.press("r")
        page.select_option("#f-tier", "")  # any tier: the starred image is outside tier_10
        page.select_option("#f-cluster", str(cluster))
        page.select_option("#f-verdict", "passed")
        page.click(f'#spacer .tile[data-file="{starred}"]')
        page.keyboard.press("s")
        deadline = time.monotonic() + 30
        while len(read_decisions(review)) < 3:  # each key is written at once
            assert time.monotonic() < deadline, "the page did not write three decisions"
            time.sleep(0.1)
        expected = preview()
        try:
            page.wait_for_function(
                "t => document.getElementById('preview-body').innerText.includes(t)", arg=expected
            )
        finally:
            shown = page.inner_text("#preview-body")
            browser.close()
        assert expected in shown, shown


def test_decisions_rerun_selection_only_and_change_tiers(workdir: Path, tmp_path: Path) -> None:
    """The issue's done-when: from the demo, review in the page (reject two images, star one),
    rerun, and the tiers, the catalog and the audit follow the decisions."""
    reviews = tmp_path / "reviews"
    override = tmp_path / "review_dir.yaml"
    override.write_text(f"review_dir: {reviews}\n")
    args = ("--configfile", config_path("demo.yaml"), str(override))
    snakemake(workdir, "curate_characters", *args)
    paths = Results(str(workdir / "results")).character("demo")
    before = read_selection(paths.selection)
    sha256 = {r.file: r.sha256 for r in before.rows}
    tier_10 = before.members[10]
    rejected, starred = list(tier_10[:2]), _star_candidate(before, 10)
    cluster = next(r.cluster for r in before.rows if r.file == starred)

    config = ("--config", config_path("demo.yaml"), str(override))
    path = Path(review_file(str(reviews), "demo"))

    def preview_line() -> str:  # the page's line for tier_10, from the file it wrote
        return (
            f"tier_10: {tier_changes(paths.selection, read_decisions(path))['tier_10'].summary()}"
        )

    with review_server(workdir, *config, "--character", "demo", "--reviewer", "ana") as url:
        review_in_chromium(url, rejected, starred, cluster, path, preview_line)
    decisions = read_decisions(path)
    assert {f: d.decision for f, d in decisions.items()} == dict.fromkeys(rejected, "reject") | {
        starred: "star"
    }
    assert all(d.reviewer == "ana" and d.sha256 == sha256[d.file] for d in decisions.values())
    assert [p.name for p in reviews.iterdir()] == ["demo.csv"]  # it wrote nothing else there
    # A note typed into the file by hand, as users edit a committed file.
    notes = {f: dataclasses.replace(decisions[f], note="extra finger") for f in rejected}
    decisions = update_decisions(path, notes)
    preview = tier_changes(paths.selection, decisions)
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
    for f in rejected:  # a note added by hand in the file is kept too
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
