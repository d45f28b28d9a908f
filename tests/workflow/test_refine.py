"""Refinement rounds and folder captions, run by Snakemake on the offline demo backends."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from charfolio.generation.backends import RenderRequest, create_image_backend

from .conftest import config_path, snakemake

DEMO = config_path("demo.yaml")
TARGET = "results/demo/tier_10_refined"


def _config(workdir: Path, name: str, text: str) -> str:
    path = workdir / name
    path.write_text(text)
    return str(path)


@pytest.mark.slow
def test_rounds_shrink_a_gap_then_stop_generating(workdir: Path) -> None:
    # Only shot-type gaps the demo backend can fill (its photo is too small in frame for dlib
    # at the wide targets' face sizes), three rounds: the target is met before the last one.
    early = _config(
        workdir, "early.yaml",
        "balance:\n  augment: {min_crop_side: 160}\n  targets: {wide: [0.0, 0.10]}\n"
        "  refine: {rounds: 3, images_per_round: 24, pass_rate_prior: 0.3}\n",
    )  # fmt: skip
    snakemake(workdir, TARGET, "--configfile", DEMO, early)
    root = workdir / "results" / "demo"
    report = json.loads((root / "refine" / "tier_10" / "report.json").read_text())
    rounds = report["rounds"]
    assert [r["round"] for r in rounds] == [1, 2, 3]

    # The full-body gap: open in the tier, smaller after round 1, closed by the end.
    full = [report["before"]["shot_counts"]["full_body"]]
    full += [json.loads((root / f"refine/tier_10/round_{r}/round.json").read_text())[
        "after"]["shot_counts"]["full_body"] for r in (1, 2, 3)]  # fmt: skip
    assert full[0] == 0 and report["quotas"]["full_body"] > 0
    assert full[1] > full[0] and full[-1] == full[0] + report["quotas"]["full_body"]
    assert any(g.startswith("full_body") for g in report["before"]["gaps"])
    assert not any(g.startswith("full_body") for g in report["after"]["gaps"])
    assert rounds[0]["needs_after"]["full_body"] < rounds[0]["needs_before"]["full_body"]

    # Early termination: once the target is reached, a round plans and generates nothing.
    assert report["target_reached"] and report["curated"] == report["target"]
    stop = report["stopped_early_at"]
    assert stop is not None and report["stop_reason"].startswith("target reached")
    for r in rounds[stop - 1 :]:
        assert r["planned"] == r["generated"] == 0 and r["stopped_early"]
        assert (
            pq.read_table(root / f"refine/tier_10/round_{r['round']}/images.parquet").num_rows == 0
        )
    assert all(r["generated"] > 0 for r in rounds[: stop - 1])

    # Every generated image has one verdict; the accepted ones are in the refined tier.
    accepted = set()
    for r in (1, 2, 3):
        curated = pq.read_table(root / f"refine/tier_10/round_{r}/curated.parquet").to_pylist()
        assert len(curated) == rounds[r - 1]["generated"]
        accepted |= {c["file"] for c in curated if c["verdict"] == "accepted"}
    manifest = pq.read_table(root / "tier_10_refined" / "manifest.parquet").to_pylist()
    tier = {r["file"] for r in pq.read_table(root / "tier_10" / "manifest.parquet").to_pylist()}
    assert {r["file"] for r in manifest if r["origin"] == "tier"} == tier
    assert {r["file"] for r in manifest if r["origin"] == "refined"} == accepted
    for r in manifest:
        assert (root / "tier_10_refined" / r["tier_file"]).is_file()
        assert (root / "tier_10_refined" / r["caption_file"]).read_text().startswith("nova woman")

    # Declarative and incremental: one more round plans only that round and the tier.
    more = _config(workdir, "more.yaml", Path(early).read_text().replace("rounds: 3", "rounds: 4"))
    dry = snakemake(workdir, "-n", TARGET, "--configfile", DEMO, more).stdout
    stats = dry.split("Job stats:")[1]
    for rule in ("plan_refinement", "generate_refinement", "curate_refinement"):
        assert re.search(rf"{rule}\s+1\b", stats), stats
    assert "start_refinement" not in stats and "generate_images" not in stats


def test_negative_rounds_fail_before_any_job(workdir: Path) -> None:
    bad = _config(workdir, "bad.yaml", "balance:\n  refine: {rounds: -1}\n")
    result = snakemake(workdir, "-n", "--configfile", DEMO, bad, check=False)
    assert result.returncode != 0
    assert (
        "balance.refine.rounds: -1 is less than the minimum of 0" in result.stdout + result.stderr
    )


def test_zero_rounds_mean_no_refined_tier(workdir: Path) -> None:
    off = _config(workdir, "off.yaml", "balance:\n  refine: {rounds: 0}\n")
    plan = snakemake(workdir, "-n", "--configfile", DEMO, off).stdout
    assert "refinement" not in plan.split("Job stats:")[1]
    asked = snakemake(workdir, "-n", TARGET, "--configfile", DEMO, off, check=False)
    assert asked.returncode != 0
    assert "balance.refine.rounds is 0" in asked.stdout + asked.stderr


@pytest.fixture
def folder_config(tmp_path: Path, workdir: Path) -> str:
    """A character curated from a folder of 12 demo photos, captioned by a template that names
    the hair (an identity word the lint must flag)."""
    photos = tmp_path / "photos"
    backend = create_image_backend({"backend": "reference_variation"})
    requests = [RenderRequest(f"photo {i}", "", 700 + i, 256, 256, "casual") for i in range(12)]
    for i, image in enumerate(backend.render(requests)):
        (photos / f"scene_{i % 2}").mkdir(parents=True, exist_ok=True)
        image.save(photos / f"scene_{i % 2}" / f"img_{i:02d}.png")
    characters = workdir / "characters"
    characters.mkdir()
    character = {"name": "photos", "token": "zed", "class_word": "person",
                 "base_prompt": "a folder of photos", "base_seed": 0, "image_folder": str(photos)}  # fmt: skip
    (characters / "photos.yaml").write_text(yaml.safe_dump(character))
    config = {
        "characters": ["photos"], "character_dir": str(characters),
        "faces": {"backend": "dlib"}, "embeddings": {"backend": "colour_layout"},
        "curation": {"k": 2, "thresholds": {"preset": "aggressive"},
                     "tiers": [{"size": 4, "floor": None}]},
        "training": {"tiers": [4]},  # a training tier must be a curation tier
        "captions": {"template": "{token} {class_word}, {shot_type}, short brown hair"},
    }  # fmt: skip
    return _config(workdir, "folder.yaml", yaml.safe_dump(config))


@pytest.mark.slow
def test_folder_images_are_captioned_linted_and_used_by_tiers(
    workdir: Path, folder_config: str
) -> None:
    snakemake(workdir, "results/photos/tier_4", "--configfile", folder_config)
    root = workdir / "results" / "photos"
    rows = pq.read_table(root / "captions.parquet").to_pylist()
    assert len(rows) == 12 and {r["backend"] for r in rows} == {"template"}
    captioned = [r for r in rows if r["caption"] is not None]
    assert captioned and all(r["reason"] for r in rows if r["caption"] is None)
    for r in captioned:
        assert r["caption"].startswith("zed person, ") and r["caption"].endswith("short brown hair")
        assert [w["category"] for w in r["warnings"]] == ["hair"]
    log = (root / "logs" / "caption_images.log").read_text()
    assert "WARNING caption of source/" in log and "'short brown hair' (hair)" in log
    assert f"{len(captioned)} with lint warnings (hair {len(captioned)})" in log

    by_file = {r["file"]: r["caption"] for r in rows}
    manifest = pq.read_table(root / "tier_4" / "manifest.parquet").to_pylist()
    assert manifest
    for m in manifest:
        assert m["caption"] == by_file[m["file"]]
        assert (root / "tier_4" / m["caption_file"]).read_text().strip() == m["caption"]
