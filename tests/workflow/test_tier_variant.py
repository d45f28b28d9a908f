"""training.tier_variant: train_lora reads tier_{n}, tier_{n}_balanced or tier_{n}_refined."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from .conftest import config_path, snakemake

DEMO = config_path("demo.yaml")
LORA = "results/demo/lora/demo_tiny/tier_10"
TARGET = f"{LORA}/summary.json"


def _variant(workdir: Path, variant: str, extra: str = "") -> str:
    path = workdir / f"{variant}.yaml"
    path.write_text(f"training:\n  tier_variant: {variant}\n{extra}")
    return str(path)


def _train_input(dry_run: str) -> str:
    match = re.search(r"rule train_lora:\s*\n\s*input: ([^\n]+)", dry_run)
    assert match, dry_run
    return match.group(1).strip()


@pytest.mark.parametrize(
    ("variant", "folder", "builder"),
    [
        ("tier", "results/demo/tier_10", "build_tier"),
        ("balanced", "results/demo/tier_10_balanced", "augment_tier"),
        ("refined", "results/demo/tier_10_refined", "build_refined_tier"),
    ],
)
def test_train_lora_reads_the_configured_variant(
    workdir: Path, variant: str, folder: str, builder: str
) -> None:
    dry = snakemake(workdir, "-n", TARGET, "--configfile", DEMO, _variant(workdir, variant))
    assert _train_input(dry.stdout) == folder
    assert f"output: {LORA}/lora_diffusers.safetensors" in dry.stdout  # the LoRA path stays
    assert re.search(rf"\b{builder}\s+1\b", dry.stdout.split("Job stats:")[1]), dry.stdout


def test_refined_variant_without_rounds_fails_before_any_job(workdir: Path) -> None:
    bad = _variant(workdir, "refined", "balance:\n  refine: {rounds: 0}\n")
    result = snakemake(workdir, "-n", "--configfile", DEMO, bad, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Job stats" not in output
    assert "training.tier_variant is refined but balance.refine.rounds is 0" in output


@pytest.mark.slow
def test_lora_trains_on_the_balanced_tier_and_retrains_when_the_variant_changes(
    workdir: Path,
) -> None:
    # The demo's tier_10 holds 4 close-ups of 10 (within the default 30-40%): ask for more
    # close-ups than it has, so that the balanced tier must crop some from medium shots.
    wants_close_ups = "balance:\n  targets: {close_up: [0.45, 0.6], medium: [0.15, 0.3]}\n"
    balanced = _variant(workdir, "balanced", wants_close_ups)
    snakemake(workdir, TARGET, "--configfile", DEMO, balanced)
    root = workdir / "results" / "demo"
    manifest = pq.read_table(root / "tier_10_balanced" / "manifest.parquet").to_pylist()
    crops = [r for r in manifest if r["origin"] == "augmented"]
    assert crops, "a tier_10 short of close-ups should get at least one crop"

    lora = workdir / LORA
    summary = json.loads((lora / "summary.json").read_text())
    assert summary["complete"] and summary["epochs"] == 2
    assert (lora / "lora_diffusers.safetensors").is_file()
    data = json.loads((lora / "training_config.json").read_text())["data"]
    assert data["tier_dir"] == "results/demo/tier_10_balanced"  # the variant, recorded
    assert data["train"] == sum(r["split"] == "train" for r in manifest)
    assert data["val"] == sum(r["split"] == "val" for r in manifest)
    assert {"origin", "parent_file", "shot_type"} <= set(data["columns"])

    # Back to the curated tier: Snakemake sees the changed input and retrains.
    dry = snakemake(workdir, "-n", TARGET, "--configfile", DEMO, _variant(workdir, "tier")).stdout
    assert _train_input(dry) == "results/demo/tier_10"
    assert "Set of input files has changed" in dry
    again = snakemake(workdir, "-n", TARGET, "--configfile", DEMO, balanced)
    assert "Nothing to be done" in again.stdout + again.stderr
