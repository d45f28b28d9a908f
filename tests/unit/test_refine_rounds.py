"""Targeted refinement rounds: the fill plan, round 0, planning, curation and the refined tier."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from charfolio.balance.analyze import analyze_balance
from charfolio.balance.targets import DOCUMENT_SHOT_TARGETS, Range
from charfolio.core import tables
from charfolio.core.config import CharacterPrompt
from charfolio.curate.thresholds import PRESETS
from charfolio.curate.tiers import place_file
from charfolio.demo.variation_recipe import prompt_framing, recipe_for
from charfolio.faces.shots import shot_type
from charfolio.generation.backends import RenderRequest
from charfolio.generation.modifiers import default_multi_batch_modifiers
from charfolio.refine.planning import fill_plan, needs_at_size
from charfolio.refine.refined_tier import refinement_report, write_refined_tier
from charfolio.refine.round_curation import curate_round, gate_reason, judge
from charfolio.refine.rounds import (
    fill_in_seed,
    generate_round,
    plan_round,
    read_json,
    round_specs,
    start_refinement,
)
from charfolio.scenarios.grammar import template_lines
from charfolio.scenarios.lexicon import SCENARIO_CATEGORIES

from .balance_support import faces_row, figure, save, write_faces

CHARACTER = CharacterPrompt("demo", "woman", "woman astronaut, orange flight suit", "", 1234)
GENERATION = {
    "backend": "reference_variation", "width": 256, "height": 256, "batch_size": 8,
    "sampler": "none", "sigmas": "none", "steps": 1, "guidance_scale": 0.0,
}  # fmt: skip
FACES = {"backend": "dlib", "min_confidence": 0.5, "descriptors": False}


# --- the fill plan ---------------------------------------------------------------------------


def test_fill_plan_is_the_smallest_size_that_meets_every_minimum() -> None:
    counts = {"close_up": 4, "medium": 6}
    size, needs = fill_plan(counts, 10, DOCUMENT_SHOT_TARGETS)
    assert (size, needs) == (16, {"close_up": 1, "medium": 0, "full_body": 4, "wide": 1})
    assert sum(needs.values()) == size - 10
    assert needs == needs_at_size(counts, size, DOCUMENT_SHOT_TARGETS)
    # one image fewer cannot meet them all
    assert sum(needs_at_size(counts, size - 1, DOCUMENT_SHOT_TARGETS).values()) > size - 1 - 10
    balanced = {"close_up": 3, "medium": 3, "full_body": 3, "wide": 1}
    assert fill_plan(balanced, 10, DOCUMENT_SHOT_TARGETS) == (10, dict.fromkeys(balanced, 0))
    assert fill_plan({}, 0, DOCUMENT_SHOT_TARGETS)[0] == 0


def test_fill_plan_refuses_minimums_no_size_meets() -> None:
    ranges = {"close_up": Range(0.6, 1.0), "medium": Range(0.6, 1.0)}
    with pytest.raises(ValueError, match=r"lower a minimum in balance\.targets"):
        fill_plan({"close_up": 1}, 4, ranges)


# --- the demo backend follows framing words -----------------------------------------------------


def test_only_framing_words_change_the_demo_backends_framing() -> None:
    # The main images' scenarios and modifiers name no framing: their images are unchanged.
    texts = [
        line for c in SCENARIO_CATEGORIES for line in itertools.islice(template_lines(c, 0), 500)
    ]
    texts += default_multi_batch_modifiers()
    assert [t for t in texts if prompt_framing(t)] == []
    assert prompt_framing("a, full body shot, walking") == "full_figure"
    assert prompt_framing("x, wide shot, small figure in the distance") == "wide"
    assert prompt_framing("x, close-up portrait, smiling") == "close_up"
    assert prompt_framing("x, waist up view") == "medium"


def test_a_full_body_prompt_gets_full_body_geometry() -> None:
    shots = Counter()
    for seed in range(60):
        request = RenderRequest("woman, full body shot, standing", "", seed, 384, 384, "casual")
        recipe = recipe_for(request)
        if recipe.issue == "none":
            shots[shot_type(recipe.face_boxes[0], 384, 384)] += 1
    assert shots["full_body"] >= 0.7 * sum(shots.values()), shots


# --- round 0 and planning ---------------------------------------------------------------------


def _tier(root: Path, shots: list[str]) -> Path:
    """A tier of drawn figures of the given shot types, analysed, hashed: what round 0 reads."""
    placement = {"close_up": (0.33, (0.5, 0.45)), "medium": (0.16, (0.5, 0.3))}
    rows, faces, hashes = [], [], []
    for i, shot in enumerate(shots):
        fraction, centre = placement[shot]
        rgb, boxes = figure(256, 256, fraction, centre, bg="plain")
        file = f"images/seed_1/img_{i:02d}.png"
        save(root, file, rgb)
        faces.append(faces_row(file, boxes, 256, 256))
        hashes.append({"file": file, "sha256": f"{i:064x}", "phash": f"{i:016x}"})
        rows.append(_manifest_row(file, i))
    write_faces(root / "faces.parquet", faces)
    tables.write_table(root / "duplicates.parquet", hashes, tables.DUPLICATES)
    tier = root / "tier_4"
    (tier / "images").mkdir(parents=True)
    for r in rows:
        place_file(root / r["file"], tier / r["tier_file"], "copy")
        (tier / r["caption_file"]).write_text(r["caption"] + "\n")
    tables.write_table(tier / "manifest.parquet", rows, tables.TIER_MANIFEST)
    analyze_balance(
        root / "faces.parquet", root, tier / "manifest.parquet",
        root / "balance.parquet", root / "balance.json", log=lambda _: None,
    )  # fmt: skip
    return tier


def _manifest_row(file: str, i: int) -> dict[str, Any]:
    return {
        "file": file, "tier_file": f"images/img_{i:02d}.png",
        "caption_file": f"images/img_{i:02d}.txt", "caption": "nova woman, photo", "rank": i + 1,
        "cluster": 0, "seed": 1, "quality_score": 0.9, "sharpness": 300.0, "contrast": 60.0,
        "face_confidence": 0.97, "split": "val" if i == 0 else "train",
    }  # fmt: skip


def _start(root: Path, shots: list[str]) -> dict[str, Any]:
    tier = _tier(root, shots)
    return start_refinement(
        tier, root / "balance.parquet", root / "duplicates.parquet",
        root / "r0" / "pool.parquet", root / "r0" / "round.json", log=lambda _: None,
    )  # fmt: skip


def test_round_zero_fixes_the_target(tmp_path: Path) -> None:
    report = _start(tmp_path, ["close_up", "close_up", "medium", "medium"])
    assert report["round"] == 0 and report["after"]["shot_counts"]["full_body"] == 0
    assert report["target"] == report["final_size"] - 4 == sum(report["quotas"].values()) > 0
    assert report["quotas"]["full_body"] > 0 and report["quotas"]["wide"] > 0
    pool = pq.read_table(tmp_path / "r0" / "pool.parquet").to_pylist()
    assert [r["origin"] for r in pool] == ["tier"] * 4 and pool[0]["phash"] == f"{0:016x}"


def _previous(tmp_path: Path, **changes: Any) -> Path:
    base = {
        "round": 0, "target": 6, "final_size": 16, "curated_total": 0, "generated_total": 0,
        "quotas": {"close_up": 1, "medium": 0, "full_body": 4, "wide": 1},
        "accepted_total_by_shot": {"close_up": 0, "medium": 0, "full_body": 0, "wide": 0},
        "modifiers_seen": [], "after": {"gaps": ["full_body: 0% ..."]},
    }  # fmt: skip
    path = tmp_path / "previous.json"
    path.write_text(json.dumps({**base, **changes}))
    return path


def test_plan_sizes_the_round_from_the_pass_rate(tmp_path: Path) -> None:
    plan = plan_round(
        _previous(tmp_path), 1, tmp_path / "s.parquet", tmp_path / "p.json",
        images_per_round=40, pass_rate_prior=0.5, log=lambda _: None,
    )  # fmt: skip
    assert plan["size"] == 12 and not plan["stopped_early"]  # 6 / 0.5
    assert Counter(m["aim"] for m in plan["modifiers"]) == {
        "full_body": 8,
        "close_up": 2,
        "wide": 2,
    }
    rows = pq.read_table(tmp_path / "s.parquet").to_pylist()
    assert [r["model"] for r in rows] == [f"targeted:{m['aim']}" for m in plan["modifiers"]]
    capped = plan_round(
        _previous(tmp_path), 1, tmp_path / "s.parquet", tmp_path / "p.json",
        images_per_round=5, log=lambda _: None,
    )  # fmt: skip
    assert capped["size"] == 5 and capped["rounds_expected"] >= 3


def test_a_round_after_the_target_plans_nothing(tmp_path: Path) -> None:
    done = {"close_up": 1, "medium": 0, "full_body": 4, "wide": 1}
    previous = _previous(
        tmp_path, round=2, curated_total=6, generated_total=20, accepted_total_by_shot=done
    )
    plan = plan_round(previous, 3, tmp_path / "s.parquet", tmp_path / "p.json", 40, log=print)
    assert plan["size"] == 0 and plan["modifiers"] == [] and plan["stopped_early"]
    assert plan["stop_reason"].startswith("target reached: 6 of 6")
    assert pq.read_table(tmp_path / "s.parquet").num_rows == 0
    no_gap = _previous(tmp_path, target=0, quotas=dict.fromkeys(done, 0))
    plan = plan_round(no_gap, 1, tmp_path / "s.parquet", tmp_path / "p.json", 40, log=print)
    assert plan["stop_reason"].startswith("no gap")
    with pytest.raises(ValueError, match="not 4"):
        plan_round(previous, 5, tmp_path / "s.parquet", tmp_path / "p.json", 40)


def test_fill_in_seeds_are_stable_and_distinct(tmp_path: Path) -> None:
    seeds = {fill_in_seed(1234, 10, r, i) for r in (1, 2) for i in range(50)}
    assert len(seeds) == 100 and fill_in_seed(1234, 10, 1, 0) == fill_in_seed(1234, 10, 1, 0)
    plan_round(_previous(tmp_path), 1, tmp_path / "s.parquet", tmp_path / "p.json", 4, log=print)
    specs = round_specs(CHARACTER, tmp_path / "s.parquet", 10, 1)
    assert [s.mode for s in specs] == ["refine"] * 4
    assert all(s.prompt.startswith(CHARACTER.base_prompt + ", ") for s in specs)
    assert specs[0].file_name.startswith("fill_r01_001_")


# --- curation --------------------------------------------------------------------------------


def _candidate(file: str, shot: str, score: float, phash: str) -> dict[str, Any]:
    return {"file": file, "shot_type": shot, "quality_score": score, "sha256": file,
            "phash": phash, "verdict": None}  # fmt: skip


def test_judge_fills_quotas_best_first_and_rejects_copies() -> None:
    pool = [{"file": "tier.png", "sha256": "t", "phash": "ffffffffffffffff"}]
    rows = [
        _candidate("a.png", "full_body", 0.80, "0000000000000000"),
        _candidate("b.png", "full_body", 0.90, "00000000ffffffff"),
        _candidate("c.png", "full_body", 0.85, "0000000000000001"),  # 1 bit from a.png
        _candidate("d.png", "medium", 0.95, "ff00ff00ff00ff00"),
        _candidate("e.png", "close_up", 0.70, "fffffffffffffffe"),  # 1 bit from the tier's
    ]
    judge(rows, pool, {"full_body": 2, "close_up": 1, "medium": 0}, duplicate_distance=6)
    verdicts = {r["file"]: (r["verdict"], r["reject_reason"]) for r in rows}
    assert verdicts == {
        "b.png": ("accepted", None),
        "c.png": ("accepted", None),
        "a.png": ("rejected", "duplicate"),  # of c.png, accepted first (better score)
        "d.png": ("rejected", "off_target"),
        "e.png": ("rejected", "duplicate"),
    }
    again = [_candidate(f"{i}.png", "full_body", 0.9 - i / 100, f"{i:016x}") for i in range(3)]
    judge(again, [], {"full_body": 1}, duplicate_distance=None)
    assert [r["reject_reason"] for r in again] == [None, "surplus", "surplus"]


def test_gates_are_the_selection_gates() -> None:
    face = {"file": "x", "face_verdict": "ok"}
    good = {"readable": True, "sharpness": 400.0, "contrast": 60.0, "face_confidence": 0.95,
            "quality_score": 0.9}  # fmt: skip
    balanced = PRESETS["balanced"]
    assert gate_reason(face, good, balanced, None) is None
    assert gate_reason(face, good, balanced, 0.95) == "below_tier_floor"
    assert gate_reason(face, {**good, "sharpness": 10.0}, balanced, None) == "low_sharpness"
    assert gate_reason(face, {**good, "quality_score": 0.5}, balanced, None) == "low_quality_score"
    assert gate_reason({**face, "face_verdict": "multiple_faces"}, good, balanced, None) == (
        "multiple_faces"
    )


def test_a_round_end_to_end_and_the_refined_tier(tmp_path: Path) -> None:
    root = tmp_path
    start = _start(root, ["close_up", "close_up", "medium", "medium"])
    rnd = root / "refine" / "round_1"
    plan = plan_round(
        root / "r0" / "round.json", 1, rnd / "scenarios.parquet", rnd / "plan.json",
        images_per_round=12, pass_rate_prior=0.5, log=lambda _: None,
    )  # fmt: skip
    generate_round(
        CHARACTER, rnd / "scenarios.parquet", 4, 1, GENERATION, rnd / "images",
        rnd / "images.parquet", root, log=lambda _: None,
    )  # fmt: skip
    report = curate_round(
        rnd / "images.parquet", rnd / "plan.json", root / "r0" / "pool.parquet",
        root / "r0" / "round.json", root, rnd / "curated.parquet", rnd / "pool.parquet",
        rnd / "round.json", faces_cfg=FACES, thresholds={"preset": "aggressive"},
        log=lambda _: None,
    )  # fmt: skip
    curated = pq.read_table(rnd / "curated.parquet").to_pylist()
    assert len(curated) == plan["size"] == report["generated"] == 2 * start["target"] > 0
    accepted = [r for r in curated if r["verdict"] == "accepted"]
    assert report["accepted"] == len(accepted) == report["curated_total"]
    assert all(r["reject_reason"] for r in curated if r["verdict"] == "rejected")
    for r in accepted:  # every accepted fill-in fills a quota that was open
        assert plan["quotas_remaining"][r["shot_type"]] > 0
    pool = pq.read_table(rnd / "pool.parquet").to_pylist()
    assert len(pool) == 4 + len(accepted)
    assert sum(report["after"]["shot_counts"].values()) == len(pool)
    assert report["needs_after"] == {
        k: start["quotas"][k] - report["accepted_by_shot"][k] for k in start["quotas"]
    }
    assert report["gaps_before"] == start["after"]["gaps"]

    summary = write_refined_tier(
        root / "tier_4", rnd / "pool.parquet", [rnd / "curated.parquet"],
        [root / "r0" / "round.json", rnd / "round.json"], root, root / "tier_4_refined",
        root / "report.json", "{token} {class_word}, {scenario}", "nova", "woman",
        link_mode="copy", log=lambda _: None,
    )  # fmt: skip
    manifest = pq.read_table(root / "tier_4_refined" / "manifest.parquet").to_pylist()
    assert [r["origin"] for r in manifest] == ["tier"] * 4 + ["refined"] * len(accepted)
    assert [r["split"] for r in manifest[:4]] == ["val", "train", "train", "train"]
    for r in manifest:
        assert (root / "tier_4_refined" / r["tier_file"]).is_file()
        caption = (root / "tier_4_refined" / r["caption_file"]).read_text().strip()
        assert caption == r["caption"]
        if r["origin"] == "refined":
            assert caption.startswith("nova woman, ") and r["scenario"].strip(" ,") in caption
    assert summary["images"] == {"tier": 4, "added": len(accepted), "total": len(manifest)}
    assert read_json(root / "report.json")["rounds"][0]["accepted"] == len(accepted)
    assert json.loads((root / "tier_4_refined" / "refine_report.json").read_text()) == summary


def test_refinement_report_names_the_round_that_stopped() -> None:
    def report(r: int, stopped: bool, reached: bool) -> dict[str, Any]:
        after = {"classified": 4, "shot_counts": {}, "gaps": [], "needs": {}}
        base = dict.fromkeys(
            ("planned", "generated", "accepted", "rejected", "accepted_by_shot", "accepted_by_aim",
             "needs_before", "needs_after", "gaps_before", "gaps_after", "pass_rate",
             "modifiers"), 0,
        )  # fmt: skip
        return {
            **base, "round": r, "stopped_early": stopped, "target_reached": reached,
            "stop_reason": "target reached" if stopped else None, "curated_total": 2,
            "generated_total": 5, "target": 2, "final_size": 6, "quotas": {}, "after": after,
        }  # fmt: skip

    rounds = [report(0, False, False), report(1, False, True), report(2, True, True)]
    summary = refinement_report(rounds, "tier_4", None)
    assert summary["stopped_early_at"] == 2 and summary["target_reached"]
    assert [r["round"] for r in summary["rounds"]] == [1, 2]
    with pytest.raises(ValueError, match=r"rounds 0\.\.n in order"):
        refinement_report(rounds[1:], "tier_4", None)


def test_an_empty_round_loads_no_backend(tmp_path: Path) -> None:
    done = {"close_up": 1, "medium": 0, "full_body": 4, "wide": 1}
    previous = _previous(tmp_path, curated_total=6, generated_total=12, accepted_total_by_shot=done)
    plan_round(previous, 1, tmp_path / "s.parquet", tmp_path / "p.json", 40, log=print)
    table = generate_round(
        CHARACTER, tmp_path / "s.parquet", 10, 1, {"backend": "no_such_backend"},
        tmp_path / "images", tmp_path / "images.parquet", tmp_path, log=print,
    )  # fmt: skip
    assert table.num_rows == 0 and (tmp_path / "images").is_dir()
