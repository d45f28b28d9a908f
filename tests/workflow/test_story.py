"""Storyboards in the workflow: the demo's storyboard and ablation end to end, and the DAG."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import yaml

from charfolio.core import tables

from .conftest import REPO, config_path, planned_jobs, snakemake

STORY = "results/demo/story/launch"
TARGETS = (f"{STORY}/evaluation.json", "results/demo/ablation.html")
MODES = ("baseline", "simple", "reference_guided")
OTHERS = MODES[:2]  # the ablation's modes besides story.mode (the demo's: reference_guided)


# The demo sets neither story.threshold nor story.max_retries: the schema's defaults apply
# (prompt_adherence.threshold, the methodology's 0.70).
THRESHOLD, MAX_RETRIES = 0.70, 2


def assert_retries_follow_the_scores(meta: dict) -> None:
    """A frame is re-rendered while its CLIP score is below the threshold, at most
    MAX_RETRIES times, and the best-scoring render is kept; whatever the model scores."""
    scores = [a["score"] for a in meta["attempts"]]
    assert [a["attempt"] for a in meta["attempts"]] == list(range(1, len(scores) + 1))
    first_pass = next((n for n, score in enumerate(scores, 1) if score >= THRESHOLD), None)
    assert len(scores) == (first_pass or MAX_RETRIES + 1), scores
    assert meta["kept_attempt"] == 1 + scores.index(max(scores)), scores
    assert meta["score"] == max(scores) and meta["threshold"] == THRESHOLD
    assert meta["passed"] == (max(scores) >= THRESHOLD)


def extra_config(workdir, name: str, text: str) -> str:
    path = workdir / name
    path.write_text(text)
    return str(path)


def test_demo_dry_run_plans_the_storyboard_and_the_ablation(workdir):
    out = snakemake(workdir, "-n", "--configfile", config_path("demo.yaml")).stdout
    jobs = planned_jobs(out)
    # story.mode (reference_guided) is the storyboard itself: rendered once, not per table
    assert {k: jobs[k] for k in ("split_story", "render_storyboard", "render_ablation",
                                 "evaluate_storyboard", "tabulate_ablation")} == {
        "split_story": 1, "render_storyboard": 1, "render_ablation": 2,
        "evaluate_storyboard": 3, "tabulate_ablation": 1,
    }  # fmt: skip
    boards = [f"results/demo/ablation/launch/{mode}/storyboard.json" for mode in OTHERS]
    for target in (*TARGETS, *boards):
        assert target in out, target
    assert "ablation/launch/reference_guided" not in out
    # the production config configures no story: no storyboard jobs
    production = planned_jobs(snakemake(workdir, "-n").stdout)
    assert "split_story" not in production and "tabulate_ablation" not in production


def test_storyboard_rules_ask_for_a_gpu_on_slurm(workdir):
    out = snakemake(
        workdir, "-n", "--profile", str(REPO / "profiles" / "slurm"), f"{STORY}/storyboard.json",
        "--configfile", config_path("demo.yaml"),
    ).stdout  # fmt: skip
    block = out.split("rule render_storyboard:")[1].split("rule ")[0]
    assert "gpu=1" in block and "mem_mb=16000" in block


def test_unknown_story_fails_naming_the_configured_ones(workdir):
    result = snakemake(workdir, "-n", "results/demo/story/swim/storyboard.json",
                       "--configfile", config_path("demo.yaml"), check=False)  # fmt: skip
    assert result.returncode != 0
    assert "story 'swim' is not in story.stories (configured: launch)" in (
        result.stdout + result.stderr
    )


def test_reference_guided_without_ip_adapter_fails_before_any_job(workdir):
    bad = extra_config(workdir, "bad.yaml", "story:\n  stories: {a: {text: Nova runs.}}\n")
    result = snakemake(workdir, "-n", "--configfile", config_path("config.yaml"), bad, check=False)
    assert result.returncode != 0
    err = result.stdout + result.stderr
    assert "story.ablation.modes includes reference_guided" in err
    assert "story.ip_adapter is not set" in err
    assert not (workdir / "results").exists()


def test_frames_out_of_range_is_a_schema_error(workdir):
    bad = extra_config(
        workdir, "bad.yaml", "story:\n  stories: {a: {text: Nova runs., frames: 12}}\n"
    )
    result = snakemake(workdir, "-n", "--configfile", config_path("demo.yaml"), bad, check=False)
    assert result.returncode != 0
    err = result.stdout + result.stderr
    assert "story.stories.a.frames: 12 is greater than the maximum of 10" in err


@pytest.mark.slow
def test_demo_storyboard_and_ablation(workdir):
    demo = config_path("demo.yaml")
    snakemake(workdir, *TARGETS, "--configfile", demo)
    root = workdir / "results" / "demo"

    frames = json.loads((workdir / STORY / "frames.json").read_text())
    assert frames["n_frames"] == 6 and frames["backend"] == "deterministic"
    assert "front-facing, face clearly visible" in frames["frames"][0]["description"]

    # the storyboard in story.mode (reference_guided) on the tiny model, with the tiny LoRA
    board = json.loads((workdir / STORY / "storyboard.json").read_text())
    assert board["mode"] == "reference_guided" and board["n_frames"] == 6
    assert [lora["name"] for lora in board["loras"]] == ["demo/demo_tiny/tier_10"]
    assert board["renderer"]["ip_adapter"]["tiny"] and board["renderer"]["width"] == 64
    for i in range(1, 7):
        meta = json.loads((workdir / STORY / f"frame_{i:02d}.json").read_text())
        assert meta["prompt"].startswith("nova woman, ")
        assert (meta["reference"] is None) == (i == 1)
        assert_retries_follow_the_scores(meta)
    assert (workdir / STORY / "contact_sheet.png").is_file()
    evaluation = json.loads((workdir / STORY / "evaluation.json").read_text())
    assert evaluation["identity"]["face_backend"] == "dlib"
    assert len(evaluation["frames"]) == 6 and evaluation["prompt_adherence"]["mean"] > 0

    # the ablation: three modes, the same frames and seeds; baseline without the LoRA;
    # story.mode's row is the storyboard
    seeds = {}
    for mode in MODES:
        folder = workdir / STORY if mode == "reference_guided" else root / "ablation/launch" / mode
        summary = json.loads((folder / "storyboard.json").read_text())
        assert summary["mode"] == mode and (folder / "evaluation.json").is_file()
        assert (summary["loras"] == []) == (mode == "baseline")
        metas = [json.loads((folder / f"frame_{i:02d}.json").read_text()) for i in range(1, 7)]
        for meta in metas:
            assert_retries_follow_the_scores(meta)
        seeds[mode] = [[a["seed"] for a in meta["attempts"]] for meta in metas]
    # attempt k of a frame has one seed in every mode (modes may stop after different attempts)
    for attempts in zip(*seeds.values(), strict=True):
        longest = max(attempts, key=len)
        assert all(mine == longest[: len(mine)] for mine in attempts), attempts
    assert not (root / "ablation/launch/reference_guided").exists()

    table = pq.read_table(root / "ablation.parquet")
    assert table.schema.equals(tables.ABLATION)
    rows = table.to_pylist()
    assert [r["mode"] for r in rows] == list(MODES)
    assert [r["storyboard"] for r in rows] == [
        "ablation/launch/baseline", "ablation/launch/simple", "story/launch",
    ]  # fmt: skip
    html = (root / "ablation.html").read_text()
    assert html.count("data:image/jpeg;base64,") == 3 and "launch" in html
    assert (root / "logs" / "render_ablation" / "launch_baseline.log").is_file()

    # a ControlNet setting reruns only the reference_guided board (the storyboard, which is also
    # the ablation's reference_guided row), never baseline or simple
    changed = extra_config(
        workdir, "stronger.yaml",
        yaml.safe_dump({"story": {"controlnet": {"type": "canny", "conditioning_scale": 1.2}}}),
    )  # fmt: skip
    plan = snakemake(workdir, "-n", *TARGETS, "--configfile", demo, changed).stdout
    assert planned_jobs(plan) == {
        "render_storyboard": 1, "evaluate_storyboard": 1, "tabulate_ablation": 1,
    }, plan  # fmt: skip
    assert planned_jobs(snakemake(workdir, "-n", *TARGETS, "--configfile", demo).stdout) == {}
