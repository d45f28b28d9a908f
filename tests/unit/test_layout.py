"""The results layout: patterns and paths agree, and every path is one the workflow makes."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from charfolio.core.layout import (
    LORA_DIFFUSERS,
    CharacterResults,
    Results,
    board_name,
    tier_folder,
)
from charfolio.lora.layout import OutputPaths

REPO = Path(__file__).resolve().parents[2]

# Real values for every parameter name a layout method takes.
VALUES = {
    "name": "make_scenarios",
    "seed": 1234,
    "model": "colour_layout",
    "k": 6,
    "n": 10,
    "variant": "balanced",
    "r": 2,
    "preset": "demo_tiny",
    "story": "launch",
    "board": "ablation/launch/simple",
}


def path_methods() -> list[str]:
    return [
        name
        for name, member in inspect.getmembers(CharacterResults)
        if not name.startswith("_") and inspect.isfunction(member) and name != "trained_runs"
    ]


@pytest.mark.parametrize("method", path_methods())
def test_a_pattern_formatted_with_real_values_is_the_real_path(method):
    """Rules use the pattern, input functions and scripts the path: they must name one file."""
    params = list(inspect.signature(getattr(CharacterResults, method)).parameters)[1:]
    values = {p: VALUES[p] for p in params}
    wildcards = {p: "{" + p + "}" for p in params if p not in ("variant", "name")}
    concrete = getattr(Results().character("demo"), method)(**values)
    pattern = getattr(Results().character("{character}"), method)(**(values | wildcards))
    assert pattern.format(character="demo", **values) == concrete


def test_every_path_is_under_its_root():
    """No method spells results/ itself: a layout with another root moves every path."""
    paths = Results("elsewhere").character("demo")
    for method in path_methods():
        params = list(inspect.signature(getattr(CharacterResults, method)).parameters)[1:]
        path = getattr(paths, method)(**{p: VALUES[p] for p in params})
        assert path.startswith("elsewhere/demo/"), (method, path)
    assert Results("elsewhere").duckdb == "elsewhere/catalog.duckdb"


def test_tier_variants():
    paths = Results().character("demo")
    assert paths.tier(70) == "results/demo/tier_70"
    assert paths.tier(70, "balanced") == "results/demo/tier_70_balanced"
    assert paths.tier("{n}", "refined") == "results/demo/tier_{n}_refined"
    with pytest.raises(ValueError, match="balanced, refined"):
        tier_folder(70, "_balanced")


def test_trained_runs_are_the_lora_runs_with_weights(tmp_path):
    paths = Results(str(tmp_path)).character("demo")
    for preset, n in (("fast", 20), ("fast", 70), ("slow", 20)):
        run = Path(paths.lora_run(preset, n))
        run.mkdir(parents=True)
        (run / LORA_DIFFUSERS).touch()
    Path(paths.lora_run("fast", 100)).mkdir()  # a run that wrote no weights (yet)
    stray = Path(paths.root) / "lora" / "fast" / "tier_old"
    stray.mkdir()
    (stray / LORA_DIFFUSERS).touch()
    runs = paths.trained_runs()
    assert [(r.preset, r.n) for r in runs] == [("fast", 20), ("fast", 70), ("slow", 20)]
    assert runs[0].weights == Path(paths.lora_diffusers("fast", 20))
    assert runs[0].training_config == Path(paths.lora_training_config("fast", 20))


def test_a_lora_run_writes_the_files_the_layout_names(tmp_path):
    paths = Results(str(tmp_path)).character("demo")
    run = OutputPaths(Path(paths.lora_run("fast", 20)), tmp_path / "state")
    assert str(run.lora_diffusers) == paths.lora_diffusers("fast", 20)
    assert str(run.lora_kohya) == paths.lora_kohya("fast", 20)
    assert str(run.summary) == paths.lora_summary("fast", 20)
    assert str(run.config) == paths.lora_training_config("fast", 20)


def demo_paths() -> list[str]:
    """Every path of the layout for config/demo.yaml (4 seeds, k 6, tiers 10/20/40, training
    demo_tiny on tier 10 refined in 2 rounds, the story launch in reference_guided mode)."""
    paths = Results().character("demo")
    boards = [board_name("launch"), *(board_name("launch", m) for m in ("baseline", "simple"))]
    return [
        Results().duckdb,
        paths.scenarios,
        *(
            p
            for seed in range(1234, 1238)
            for p in (paths.seed_images(seed), paths.seed_table(seed))
        ),
        paths.faces,
        paths.quality,
        paths.duplicates,
        paths.embeddings("colour_layout"),
        paths.embedding_index("colour_layout"),
        paths.clusters(6),
        paths.collapse(6),
        paths.selection,
        paths.selection_report,
        *(paths.tier(n) for n in (10, 20, 40)),
        paths.tier(10, "refined"),
        paths.catalog,
        paths.report,
        paths.balance_table(10),
        paths.balance_report(10),
        paths.refinement_report(10),
        paths.round_pool(10, 0),
        paths.round_report(10, 0),
        *(
            getattr(paths, f"round_{part}")(10, r)
            for r in (1, 2)
            for part in ("pool", "report", "scenarios", "plan", "images", "table", "curated")
        ),
        *(
            getattr(paths, f"lora_{part}")("demo_tiny", 10)
            for part in ("diffusers", "kohya", "summary", "training_config")
        ),
        paths.checkpoint_suite,
        paths.checkpoint_scores("demo_tiny", 10),
        paths.checkpoint_record("demo_tiny", 10),
        paths.checkpoint_images("demo_tiny", 10),
        paths.checkpoint_report,
        paths.checkpoint_report_json,
        paths.checkpoint_table,
        paths.frames("launch"),
        *(p for b in boards for p in (paths.storyboard(b), paths.contact_sheet(b))),
        *(paths.evaluation(b) for b in boards),
        paths.ablation_table,
        paths.ablation_page,
    ]


def test_every_demo_path_is_an_output_the_dry_run_plans(tmp_path):
    """What the library and the CLI read from the layout is what the rules write."""
    (tmp_path / "config").symlink_to(REPO / "config")
    snakemake = Path(sys.executable).parent / "snakemake"
    result = subprocess.run(
        [str(snakemake), "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--cores", "1",
         "-n", "--configfile", str(REPO / "config" / "demo.yaml")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    planned = {
        path.removesuffix(" (update)")
        for line in re.findall(r"^\s+output: (.*)$", result.stdout, re.MULTILINE)
        for path in line.split(", ")
    }
    missing = [path for path in demo_paths() if path not in planned]
    assert not missing
    # and the layout names every output the run plans, but the logs and benchmarks
    assert planned == set(demo_paths())
