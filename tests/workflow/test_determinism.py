"""The same config and seeds give the same files, in whatever folder the project is."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from .conftest import REPO, config_path, snakemake
from .determinism import differing_files, run_digests

# The demo's CPU curation: scenarios, images, faces, quality, embeddings, clusters, selection,
# tiers, the catalog and its report (not training or storyboards: they take minutes).
CURATION_TARGETS = (
    "results/demo/tier_10",
    "results/demo/tier_20",
    "results/demo/tier_40",
    "results/demo/catalog.parquet",
    "results/demo/report.html",
)


def _project(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config").symlink_to(REPO / "config")
    return folder


@pytest.mark.slow
def test_demo_curation_is_byte_identical_in_two_folders(tmp_path):
    # Different names and depths: no absolute path, folder name or length may reach a file.
    runs = [_project(tmp_path / "a"), _project(tmp_path / "elsewhere" / "project_b")]
    digests = []
    for workdir in runs:
        snakemake(workdir, *CURATION_TARGETS, "--configfile", config_path("demo.yaml"))
        digests.append(run_digests(workdir / "results" / "demo"))
    first, second = digests
    # Everything curation makes was compared, the tiers' image links included.
    assert {"scenarios.parquet", "faces.parquet", "quality.parquet", "selection.parquet",
            "selection_report.json", "catalog.parquet", "report.html",
            "tier_10/manifest.parquet"} <= first.keys()  # fmt: skip
    assert any(
        p.startswith("tier_40/images/") and d.startswith("symlink") for p, d in first.items()
    )
    assert differing_files(first, second) == []

    # And it sees a planted difference in a real artifact: one cell of 104 catalog rows.
    catalog = runs[1] / "results" / "demo" / "catalog.parquet"
    table = pq.read_table(catalog)
    rows = table.to_pylist()
    rows[-1]["sha256"] = "0" * 64
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), catalog)
    planted = run_digests(runs[1] / "results" / "demo")
    assert differing_files(first, planted) == ["catalog.parquet"]


# --- the comparison itself: it must see any difference but a time -------------------------


def _results(root: Path, *, seconds: float, timestamp: str, score: float) -> Path:
    """A small results folder with the kinds of files a run writes."""
    (root / "tier_10" / "images").mkdir(parents=True)
    (root / "images").mkdir()
    (root / "images" / "a.png").write_bytes(b"\x89PNG pixels")
    (root / "tier_10" / "images" / "a.png").symlink_to("../../images/a.png")
    summary = {"complete": True, "val_loss": {"1": score}, "seconds": seconds,
               "frames": [{"score": score, "seconds_per_frame": seconds / 6}]}  # fmt: skip
    (root / "summary.json").write_text(json.dumps(summary, indent=2))
    rows = [{"file": "images/a.png", "sha256": "ab" * 32, "timestamp": timestamp, "score": score}]
    pq.write_table(pa.Table.from_pylist(rows), root / "images.parquet")
    (root / "epochs.csv").write_text(f"epoch,val_loss,seconds\n1,{score},{seconds}\n")
    (root / "logs").mkdir()
    (root / "logs" / "job.log").write_text(f"[{timestamp}] done\n")
    return root


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, Path]:
    first = _results(tmp_path / "a", seconds=1.5, timestamp="2026-01-01T00:00:00", score=0.25)
    second = _results(tmp_path / "b", seconds=9.0, timestamp="2026-02-02T10:00:00", score=0.25)
    return first, second


def test_times_and_logs_are_the_only_fields_allowed_to_differ(two_runs):
    first, second = two_runs
    assert differing_files(run_digests(first), run_digests(second)) == []


@pytest.mark.parametrize(
    ("name", "plant"),
    [
        ("summary.json", lambda p: p.write_text(p.read_text().replace("0.25", "0.26"))),
        ("summary.json", lambda p: p.write_text(p.read_text().replace('"complete"', '"done"'))),
        ("images.parquet", lambda p: pq.write_table(
            pq.read_table(p).set_column(3, "score", pa.array([0.5])), p)),
        ("images.parquet", lambda p: pq.write_table(
            pq.read_table(p).replace_schema_metadata({"run": "/tmp/b"}), p)),
        ("epochs.csv", lambda p: p.write_text(p.read_text().replace("0.25", "0.3"))),
        ("images/a.png", lambda p: p.write_bytes(b"\x89PNG other pixels")),
        ("tier_10/images/a.png", lambda p: (t := p.resolve(), p.unlink(), p.symlink_to(t))),
        ("extra.json", lambda p: p.write_text("{}")),
        ("summary.json", lambda p: p.unlink()),
    ],
    ids=["json-value", "json-key", "parquet-column", "parquet-metadata", "csv-value", "png",
         "absolute-link", "extra-file", "missing-file"],
)  # fmt: skip
def test_any_other_difference_is_found(two_runs, name, plant):
    first, second = two_runs
    plant(second / name)
    assert differing_files(run_digests(first), run_digests(second)) == [name]
