"""End-to-end runs of the workflow on the offline demo and on tiny diffusion models."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from charfolio.catalog.report.page import REVIEW_URL
from charfolio.core import tables

from .conftest import REPO, TINY_TARGETS, config_path, planned_jobs, snakemake

pytestmark = pytest.mark.slow


def _check_shards(root, seeds):
    scenarios = pq.read_table(root / "scenarios.parquet")
    assert scenarios.schema.names == tables.SCENARIOS.names
    rows = []
    for seed in seeds:
        table = pq.read_table(root / "images" / f"seed_{seed}.parquet")
        assert table.schema.names == tables.IMAGES.names
        for row in table.to_pylist():
            path = root / row["file"]
            assert path.is_file(), path
            assert hashlib.sha256(path.read_bytes()).hexdigest() == row["sha256"]
            assert row["seed"] == seed
        rows += table.to_pylist()
    return rows


def test_demo_run_from_scenarios_to_tiers(workdir):
    snakemake(workdir, "--configfile", config_path("demo.yaml"))
    root = workdir / "results" / "demo"
    rows = _check_shards(root, range(1234, 1238))
    # 4 groups x (2 originals + 10 scenarios x 2 + 4 multi-batch)
    assert len(rows) == 4 * 26
    assert {r["mode"] for r in rows} == {"original", "scenario", "multi_batch"}
    assert "ETA" in (root / "logs" / "generate_images" / "seed_1234.log").read_text()

    # Every curation stage rejected something, and the tiers are non-empty and nested.
    report = json.loads((root / "selection_report.json").read_text())
    for stage in report["funnel"]["stages"]:
        # the review stage rejects only what a person rejects (tests/workflow/test_review.py)
        assert stage["rejected"] > 0 or stage["stage"] == "review", stage
    faces = pq.read_table(root / "faces.parquet").column("face_verdict").to_pylist()
    assert {"ok", "no_face", "multiple_faces"} <= set(faces)
    tiers = {}
    for n in (10, 20, 40):
        manifest = pq.read_table(root / f"tier_{n}" / "manifest.parquet").to_pylist()
        assert manifest, n
        tiers[n] = {r["file"] for r in manifest}
        for r in manifest:
            image = root / f"tier_{n}" / r["tier_file"]
            assert image.exists() and (
                root / f"tier_{n}" / r["caption_file"]
            ).read_text().startswith("nova woman")
        assert (root / f"tier_{n}" / "selection_report.json").exists()
    assert tiers[10] <= tiers[20] <= tiers[40]

    # One catalog row per image, a DuckDB over it, a report.
    catalog = pq.read_table(root / "catalog.parquet")
    assert catalog.num_rows == 104
    assert set(catalog.column("file").to_pylist()) == {r["file"] for r in rows}
    with duckdb.connect(str(workdir / "results" / "catalog.duckdb"), read_only=True) as db:
        assert db.execute("SELECT count(*) FROM catalog").fetchone()[0] == 104
    html = (root / "report.html").read_text()
    # Self-contained: no address but the SVG namespace and the local review page's link.
    links = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert "Selection funnel" in html and links == {"http://www.w3.org/2000/svg", REVIEW_URL}

    # A LoRA trained on tier_10 with the tiny model, in both file formats.
    lora = root / "lora" / "demo_tiny" / "tier_10"
    summary = json.loads((lora / "summary.json").read_text())
    assert summary["complete"] and summary["epochs"] == 2
    assert {
        "lora_diffusers.safetensors",
        "lora_kohya.safetensors",
        "loss_log.csv",
        "training_config.json",
    } <= {p.name for p in lora.iterdir()}

    # The shot-type balance of every tier against the recommended ranges, gaps named.
    balance = json.loads((root / "balance" / "tier_10.json").read_text())
    assert balance["images"] == len(tiers[10]) and balance["gaps"]
    assert pq.read_table(root / "balance" / "tier_10.parquet").num_rows == len(tiers[10])

    # A balanced copy of a tier: crops toward the targets, with provenance, originals kept.
    snakemake(workdir, "results/demo/tier_20_balanced", "--configfile", config_path("demo.yaml"))
    balanced = pq.read_table(root / "tier_20_balanced" / "manifest.parquet").to_pylist()
    assert {r["file"] for r in balanced if r["origin"] == "original"} == tiers[20]
    assert all(r["parent_file"] in tiers[20] for r in balanced if r["origin"] == "augmented")

    # Nothing to do on a second run.
    again = snakemake(workdir, "-n", "--configfile", config_path("demo.yaml"))
    assert "Nothing to be done" in again.stdout + again.stderr

    # A threshold change reruns selection and tiers only.
    changed = workdir / "stricter.yaml"
    changed.write_text(
        Path(config_path("demo.yaml"))
        .read_text()
        .replace("{preset: aggressive,", "{preset: aggressive, min_sharpness: 200,")
    )
    assert changed.read_text() != Path(config_path("demo.yaml")).read_text()
    dry = snakemake(workdir, "-n", "--configfile", str(changed)).stdout
    assert planned_jobs(dry) == {
        "select_images": 1, "build_tier": 3, "build_catalog": 1, "build_duckdb": 1,
        "write_report": 1, "train_lora": 1, "analyze_balance": 1, "all": 1,
        # the tier's gaps may change, so its refinement rounds are planned again
        "start_refinement": 1, "plan_refinement": 2, "generate_refinement": 2,
        "curate_refinement": 2, "build_refined_tier": 1,
        # a retrained LoRA: the storyboards that use it (not the baseline board, which has none;
        # the storyboard is also the ablation's reference_guided board)
        "render_storyboard": 1, "render_ablation": 1, "evaluate_storyboard": 2,
        "tabulate_ablation": 1, "render_checkpoints": 1, "write_checkpoint_report": 1,
    }, dry  # fmt: skip

    # Training on the balanced copy instead (training.tier_variant) retrains the LoRA at the
    # same path and reruns what uses it, nothing upstream.
    variant = workdir / "balanced.yaml"
    variant.write_text("training:\n  tier_variant: balanced\n")
    dry = snakemake(workdir, "-n", "--configfile", config_path("demo.yaml"), str(variant)).stdout
    assert planned_jobs(dry) == {
        "augment_tier": 1, "train_lora": 1, "render_checkpoints": 1,
        "write_checkpoint_report": 1, "render_storyboard": 1, "render_ablation": 1,
        "evaluate_storyboard": 2, "tabulate_ablation": 1, "all": 1,
    }, dry  # fmt: skip


def test_tiny_diffusers_run_is_deterministic(tmp_path):
    hashes = []
    for name in ("a", "b"):
        workdir = tmp_path / name
        workdir.mkdir()
        (workdir / "config").symlink_to(REPO / "config")
        # Random weights draw no faces, so the tier is empty: everything up to the report.
        snakemake(workdir, *TINY_TARGETS, "--configfile", config_path("tiny.yaml"))
        rows = _check_shards(workdir / "results" / "demo", (1234, 1235))
        assert len(rows) == 2 * (2 + 3 * 1 + 1)  # originals + scenarios x 1 + multi-batch
        assert {r["backend"] for r in rows} == {"tiny"}
        hashes.append({r["file"]: r["sha256"] for r in rows})
    assert hashes[0] == hashes[1]
    assert len(set(hashes[0].values())) == len(hashes[0])  # no two images alike


def test_changing_generation_reruns_only_generation(workdir):
    target = "results/demo/images/seed_1234.parquet"
    snakemake(workdir, target, "--configfile", config_path("demo.yaml"))
    changed = workdir / "changed.yaml"
    changed.write_text(
        Path(config_path("demo.yaml")).read_text().replace("batch_size: 8", "batch_size: 4")
    )
    dry = snakemake(workdir, "-n", target, "--configfile", str(changed))
    assert (
        "generate_images" in dry.stdout
        and "make_scenarios " not in dry.stdout.split("Job stats:")[1]
    )
