"""Selection: funnel reasons, ranking strategies, nested tiers with floors, the report."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from charfolio.core import tables
from charfolio.curate import (
    PRESETS,
    REJECT_REASONS,
    Thresholds,
    read_selection,
    select,
    select_files,
    selection_report,
    thresholds_from_config,
)
from charfolio.curate.near_duplicates import NearDuplicateRule, VectorSource
from charfolio.curate.tier_floors import check_tiers
from charfolio.embed import create_embedder
from charfolio.quality.duplicates import phash
from tests.unit.photo_support import MILD_EDITS, clean_portraits, face_descriptor

BALANCED = PRESETS["balanced"]
LOOSE = Thresholds(0.0, 0.0, 0.0, 0.0)
World = dict[str, list[dict[str, Any]]]


def _add(
    world: World,
    file: str,
    seed: int,
    cluster: int | None,
    score: float | None,
    *,
    verdict: str = "ok",
    sharpness: float = 400.0,
    contrast: float = 80.0,
    confidence: float | None = 0.97,
    phash: str | None = None,
) -> None:
    readable = verdict != "unreadable"
    world["images"].append(
        {
            "file": file,
            "sha256": hashlib.sha256(file.encode()).hexdigest(),
            "seed": seed,
            "mode": "scenario",
            "scenario": f"scene {seed}",
            "prompt": f"prompt {file}",
        }
    )
    world["faces"].append({"file": file, "face_verdict": verdict, "face_confidence": confidence})
    world["quality"].append(
        {
            "file": file,
            "readable": readable,
            "sharpness": sharpness if readable else None,
            "contrast": contrast if readable else None,
            "face_confidence": confidence,
            "quality_score": score if readable else None,
        }
    )
    if cluster is not None:
        world["clusters"].append({"file": file, "cluster": cluster})
    world["duplicates"].append(
        {"file": file, "sha256": f"sha-{file}", "phash": phash or f"{abs(hash(file)) % 2**64:016x}"}
    )


def _empty() -> World:
    return {"images": [], "faces": [], "quality": [], "clusters": [], "duplicates": []}


def _random_world(n: int, seeds: int, clusters: int, low: float = 0.86, seed: int = 0) -> World:
    rng = np.random.default_rng(seed)
    world = _empty()
    for i in range(n):
        s = int(rng.integers(seeds))
        # Two decimals: plenty of exact ties, which file names must break.
        _add(
            world,
            f"images/seed_{s}/img_{i:04d}.png",
            1000 + s,
            int(rng.integers(clusters)),
            round(float(rng.uniform(low, 1.0)), 2),
            phash=f"{i * 0x0F0F0F0F0F0F0F1 % 2**64:016x}",
        )
    return world


def _select(world: World, thresholds: Thresholds = BALANCED, **kw: Any):  # type: ignore[no-untyped-def]
    return select(
        world["images"],
        world["faces"],
        world["quality"],
        world["clusters"],
        world["duplicates"],
        thresholds,
        **{"duplicate_distance": 0, **kw},
    )


def _cluster_sequences(result) -> dict[int, list[Any]]:  # type: ignore[no-untyped-def]
    out: dict[int, list[Any]] = {}
    for row in result.ranked():
        out.setdefault(row.cluster, []).append(row)
    return out


def test_every_reject_reason_in_funnel_order() -> None:
    w = _empty()
    _add(w, "a_unreadable.png", 1, None, None, verdict="unreadable")
    _add(w, "b_no_face.png", 1, None, 0.2, verdict="no_face", confidence=None)
    _add(w, "c_multiple.png", 1, None, 0.9, verdict="multiple_faces")
    _add(w, "d_partial.png", 1, None, 0.9, verdict="partial_face")
    _add(w, "e_kept.png", 1, 0, 0.95, phash="00000000000000ff")
    _add(
        w, "e_copy.png", 2, 0, 0.93, phash="00000000000000ff", sharpness=10.0
    )  # dup wins over sharpness
    _add(w, "f_sharp.png", 1, 0, 0.9, sharpness=100.0)
    # Flat and soft: named for its flatness, which also lowers the measured sharpness.
    _add(w, "g_flat.png", 1, 0, 0.9, sharpness=100.0, contrast=30.0)
    _add(w, "h_harsh.png", 1, 0, 0.9, contrast=125.0)
    _add(w, "i_face.png", 1, 0, 0.9, confidence=0.5)
    _add(w, "j_score.png", 1, 0, 0.5)
    _add(w, "k_pass.png", 1, 0, 0.9)
    # A copy whose better-scored twin failed face validation is not a duplicate: it is kept.
    _add(w, "l_twin_no_face.png", 3, None, 0.99, verdict="no_face", phash="ff00000000000000")
    _add(w, "m_survivor.png", 3, 0, 0.9, phash="ff00000000000000")

    result = _select(w, thresholds=Thresholds(280, 55, 0.9, 0.85, max_contrast=120.0))
    rows = {r.file: r for r in result.rows}
    reasons = {f: r.reject_reason for f, r in rows.items()}
    assert reasons == {
        "a_unreadable.png": "unreadable",
        "b_no_face.png": "no_face",
        "c_multiple.png": "multiple_faces",
        "d_partial.png": "partial_face",
        "e_kept.png": None,
        "e_copy.png": "duplicate",
        "f_sharp.png": "low_sharpness",
        "g_flat.png": "low_contrast",
        "h_harsh.png": "high_contrast",
        "i_face.png": "low_face_confidence",
        "j_score.png": "low_quality_score",
        "k_pass.png": None,
        "l_twin_no_face.png": "no_face",
        "m_survivor.png": None,
    }
    # The rows carry only the methodology's measures; the other gates have their own test.
    assert set(REJECT_REASONS) - set(reasons.values()) == {
        "low_resolution",
        "face_too_small",
        "overexposed",
        "underexposed",
        "noisy",
        "compression_artifacts",
        "reviewer",  # only a person's decision gives it (tests/unit/test_reviews.py)
    }

    copy = rows["e_copy.png"]
    assert (copy.duplicate_of, copy.duplicate_distance) == ("e_kept.png", 0)
    assert (copy.face_pass, copy.unique_pass, copy.thresholds_pass, copy.score_pass) == (
        True,
        False,
        False,
        True,
    )
    assert (rows["a_unreadable.png"].unique_pass, rows["a_unreadable.png"].thresholds_pass) == (
        None,
        None,
    )
    assert rows["j_score.png"].thresholds_pass is True and rows["j_score.png"].score_pass is False
    # balanced: k_pass repeats e_kept's seed in cluster 0, so it waits for round 2
    assert [r.file for r in result.ranked()] == ["e_kept.png", "m_survivor.png", "k_pass.png"]
    assert all(r.rank is None and r.tiers == () for r in result.rows if r.verdict == "rejected")

    funnel = selection_report(result)["funnel"]
    assert [(s["stage"], s["in"], s["passed"]) for s in funnel["stages"]] == [
        ("face", 14, 9),
        ("duplicate", 9, 8),
        ("thresholds", 8, 4),
        ("quality_score", 4, 3),
        ("review", 3, 3),
    ]
    assert funnel["reasons"]["low_sharpness"] == 1 and funnel["reasons"]["low_contrast"] == 1
    assert funnel["passed"] == 3


def test_duplicate_stage_keeps_the_higher_scored_copy_whatever_the_order() -> None:
    w = _empty()
    _add(w, "a.png", 1, 0, 0.88, phash="0000000000000000")
    _add(w, "b.png", 2, 0, 0.97, phash="0000000000000003")  # 2 bits away
    assert {r.file: r.reject_reason for r in _select(w, duplicate_distance=2).rows} == {
        "a.png": "duplicate",
        "b.png": None,
    }
    assert all(r.reject_reason is None for r in _select(w, duplicate_distance=1).rows)
    assert all(r.unique_pass for r in _select(w, duplicate_distance=None).rows)


def _source(vectors: dict[str, tuple[Any, Any]]) -> VectorSource:
    """An in-memory VectorSource: file -> (descriptor or None, embedding)."""
    files = list(vectors)
    return VectorSource(
        {f: np.asarray(d, np.float32) for f, (d, _) in vectors.items() if d is not None},
        np.array([vectors[f][1] for f in files], np.float32),
        {f: i for i, f in enumerate(files)},
        "embeddings.parquet",
    )


def test_a_regenerated_copy_that_phash_misses_is_caught_by_face_and_embedding() -> None:
    """Real photos: the astronaut and a copy cropped by 4%, warmed and re-encoded (pHash 12
    bits away, past its threshold), and two people of the group photo in the same light."""
    photos = clean_portraits()
    images = {
        "a_photo.png": photos["astronaut"],
        "b_regenerated.png": MILD_EDITS["crop_warmer_jpeg"](photos["astronaut"]),
        "c_person.png": photos["group_0"],
        "d_other_person.png": photos["group_1"],
    }
    embedder = create_embedder({"backend": "colour_layout"})
    w = _empty()
    for i, (file, rgb) in enumerate(images.items()):
        _add(w, file, i, 0, (0.90, 0.95, 0.93, 0.92)[i], phash=f"{phash(rgb):016x}")
    vectors = _source(
        {f: (face_descriptor(rgb), embedder.embed([rgb])[0]) for f, rgb in images.items()}
    )
    result = _select(w, LOOSE, duplicate_distance=6, near_duplicates=NearDuplicateRule(),
                     vectors=vectors)  # fmt: skip
    rows = {r.file: r for r in result.rows}
    copy = rows["a_photo.png"]  # the lower-scored of the pair
    assert (copy.reject_reason, copy.duplicate_of, copy.duplicate_kind) == (
        "duplicate",
        "b_regenerated.png",
        "face_embedding",
    )
    assert copy.duplicate_distance is not None and copy.duplicate_distance > 6
    assert copy.duplicate_face_distance < 0.15 and copy.duplicate_embedding_similarity > 0.95
    assert all(rows[f].verdict == "passed" for f in images if f != "a_photo.png")
    assert selection_report(result)["funnel"]["duplicate_kinds"] == {
        "sha256": 0,
        "phash": 0,
        "face_embedding": 1,
    }
    # pHash alone misses it.
    alone = _select(w, LOOSE, duplicate_distance=6)
    assert all(r.verdict == "passed" for r in alone.rows)
    with pytest.raises(ValueError, match="needs the face descriptors"):
        _select(w, LOOSE, near_duplicates=NearDuplicateRule())


def test_hash_and_near_identical_pairs_join_one_group() -> None:
    """a=b by bytes, b~c by pHash, c~d by face and embedding, d~e likewise: one group, kept a."""
    w = _empty()
    _add(w, "a.png", 1, 0, 0.99, phash="0000000000000000")
    _add(w, "b.png", 2, 0, 0.90, phash="0000000000000000")
    _add(w, "c.png", 3, 0, 0.80, phash="000000000000000f")  # 4 bits from a and b
    _add(w, "d.png", 4, 0, 0.70, phash="ffffffff00000000")  # 32 bits from a: pHash misses it
    _add(w, "e.png", 5, 0, 0.60, phash="00000000ffffffff")
    _add(w, "f.png", 6, 0, 0.50, phash="ffff0000ffff0000")  # same picture, another face
    w["duplicates"][1]["sha256"] = w["duplicates"][0]["sha256"]
    unit = np.array([1.0, 0.0, 0.0])
    vectors = _source(
        {
            "a.png": ([0.0, 0.0], [0.0, 1.0, 0.0]),  # an unrelated embedding
            "b.png": ([0.0, 0.0], [0.0, 1.0, 0.0]),
            "c.png": ([0.5, 0.0], unit),
            "d.png": ([0.6, 0.0], unit * 0.98 + [0, 0, 0.2]),
            "e.png": ([0.7, 0.0], unit * 0.92 + [0, 0, 0.4]),
            "f.png": ([3.0, 0.0], unit),
        }
    )
    result = _select(w, LOOSE, duplicate_distance=6, near_duplicates=NearDuplicateRule(),
                     vectors=vectors)  # fmt: skip
    rows = {r.file: r for r in result.rows}
    evidence = {
        f: (r.duplicate_of, r.duplicate_kind, r.duplicate_distance) for f, r in rows.items()
    }
    assert evidence == {
        "a.png": (None, None, None),
        "b.png": ("a.png", "sha256", 0),
        "c.png": ("a.png", "phash", 4),
        "d.png": ("a.png", "face_embedding", 32),  # joined through c: its own match
        "e.png": ("a.png", "face_embedding", 32),
        "f.png": (None, None, None),
    }
    # Measures are to the kept copy, not to the copy it matched.
    assert rows["d.png"].duplicate_face_distance == pytest.approx(0.6)
    assert rows["d.png"].duplicate_embedding_similarity == pytest.approx(0.0)
    # Hashes off: the same bytes are the same vectors too (a, b); c, d, e keep c.
    near_only = _select(
        w, LOOSE, duplicate_distance=None, near_duplicates=NearDuplicateRule(), vectors=vectors
    )
    assert {r.file: r.duplicate_of for r in near_only.rows} == {
        "a.png": None,
        "b.png": "a.png",
        "c.png": None,
        "d.png": "c.png",
        "e.png": "c.png",
        "f.png": None,
    }


def test_balanced_never_repeats_a_seed_within_a_cluster_in_the_first_round() -> None:
    result = _select(_random_world(300, seeds=6, clusters=8), strategy="balanced")
    seeds_per_cluster = Counter()
    for cluster, rows in _cluster_sequences(result).items():
        distinct = len({r.seed for r in rows})
        first = rows[: min(3, distinct)]
        assert len({r.seed for r in first}) == len(first), cluster
        seeds_per_cluster[cluster] = distinct
    # quality_first clumps: on the same world some cluster's top 3 repeat a seed.
    quality = _select(_random_world(300, seeds=6, clusters=8), strategy="quality_first")
    assert any(len({r.seed for r in rows[:3]}) < 3 for rows in _cluster_sequences(quality).values())


def test_balanced_prefers_unseen_seeds_in_later_rounds() -> None:
    w = _empty()
    for i, score in enumerate([0.99, 0.98, 0.97, 0.96, 0.95]):
        _add(w, f"a{i}.png", 1, 0, score)
    for seed, score in [(2, 0.90), (3, 0.89), (4, 0.88), (5, 0.87)]:
        _add(w, f"s{seed}.png", seed, 0, score)
    ranking = [r.file for r in _select(w, LOOSE, strategy="balanced").ranked()]
    assert ranking == [
        "a0.png",
        "s2.png",
        "s3.png",  # round 1: three distinct seeds
        "a1.png",
        "s4.png",
        "s5.png",  # round 2: unseen seeds, then a repeat
        "a2.png",
        "a3.png",
        "a4.png",
    ]
    quality = [r.file for r in _select(w, LOOSE, strategy="quality_first").ranked()]
    assert quality[:3] == ["a0.png", "a1.png", "a2.png"]


def test_diversity_first_takes_every_seed_cluster_pair_first() -> None:
    world = _random_world(200, seeds=4, clusters=5)
    result = _select(world, strategy="diversity_first")
    pairs = {(r.seed, r.cluster) for r in result.ranked()}
    first = result.ranked()[: len(pairs)]
    assert {(r.seed, r.cluster) for r in first} == pairs
    best = {}
    for r in result.ranked():
        best.setdefault((r.seed, r.cluster), r)
    assert set(first) == set(best.values())


@pytest.mark.parametrize("strategy", ["quality_first", "balanced", "diversity_first"])
def test_tiers_are_nested_full_and_meet_their_floors(strategy: str) -> None:
    world = _random_world(900, seeds=10, clusters=8, low=0.75)
    result = _select(world, PRESETS["aggressive"], strategy=strategy)
    by_file = {r.file: r for r in result.rows}
    floors = {20: 0.92, 70: 0.85, 100: 0.78, 200: 0.70, 300: None}
    previous: set[str] = set()
    for n, floor in floors.items():
        members = result.members[n]
        assert len(members) == n
        assert previous <= set(members)
        assert all(floor is None or by_file[f].quality_score >= floor for f in members)
        assert [by_file[f].rank for f in members] == sorted(by_file[f].rank for f in members)
        assert all(f"tier_{n}" in by_file[f].tiers for f in members)
        previous = set(members)
    passing = result.ranked()
    assert [r.rank for r in passing] == list(range(1, len(passing) + 1))
    assert sum(1 for r in result.rows if "tier_300" in r.tiers) == 300


def test_short_tiers_say_why() -> None:
    world = _random_world(60, seeds=3, clusters=4, low=0.86)
    report = selection_report(_select(world))
    tiers = report["tiers"]
    eligible = sum(1 for q in world["quality"] if q["quality_score"] >= 0.92)
    assert tiers["tier_20"]["size"] == min(20, eligible)
    assert tiers["tier_70"] == {
        "requested": 70,
        "size": 60,
        "floor": 0.85,
        "short_by": 10,
        "why_short": "only 60 images passed curation",
    }
    small = _random_world(30, seeds=3, clusters=4, low=0.86, seed=5)
    t20 = selection_report(_select(small))["tiers"]["tier_20"]
    n92 = sum(1 for q in small["quality"] if q["quality_score"] >= 0.92)
    assert n92 < 20 and t20["why_short"] == f"only {n92} of the 30 passing images score >= 0.92"


def test_selection_is_deterministic_whatever_the_row_order() -> None:
    world = _random_world(250, seeds=5, clusters=6)
    first = _select(world)
    shuffled = {k: random.Random(3).sample(v, len(v)) for k, v in world.items()}
    assert _select(shuffled) == first
    assert json.dumps(selection_report(first)) == json.dumps(selection_report(_select(world)))


def test_report_contents() -> None:
    result = _select(_random_world(120, seeds=4, clusters=5, low=0.6))
    report = selection_report(result, collapse={"verdict": "ok"})
    assert set(report) == {
        "parameters",
        "funnel",
        "review",
        "tiers",
        "scores",
        "per_seed",
        "per_cluster",
        "per_mode",
        "collapse",
    }
    assert set(report["scores"]) == {
        "all",
        "passed",
        "tier_20",
        "tier_70",
        "tier_100",
        "tier_200",
        "tier_300",
    }
    assert set(report["scores"]["passed"]) == {
        "count",
        "mean",
        "median",
        "std",
        "min",
        "max",
        "p25",
        "p50",
        "p75",
        "p90",
    }
    assert report["scores"]["passed"]["min"] >= BALANCED.min_quality_score
    assert sum(report["per_seed"]["all"].values()) == 120
    assert sum(report["per_cluster"]["tier_70"].values()) == report["tiers"]["tier_70"]["size"]
    assert report["parameters"]["thresholds"]["min_sharpness"] == 280.0
    assert report["collapse"] == {"verdict": "ok"}
    json.dumps(report)


def test_threshold_presets_and_overrides() -> None:
    # The methodology's frame sharpness and face confidence stay; the rest is recalibrated.
    assert [PRESETS[p].min_sharpness for p in ("conservative", "balanced", "aggressive")] == [
        350,
        280,
        150,
    ]
    assert thresholds_from_config({}) == BALANCED
    custom = thresholds_from_config(
        {"preset": "aggressive", "min_sharpness": 200, "max_contrast": 120}
    )
    assert custom == dataclasses.replace(PRESETS["aggressive"], min_sharpness=200, max_contrast=120)
    # Every gate is stricter (or equal) from aggressive to balanced to conservative.
    for name in (f.name for f in dataclasses.fields(Thresholds)):
        loose, mid, strict = (
            getattr(PRESETS[p], name) for p in ("aggressive", "balanced", "conservative")
        )
        if name == "max_contrast":
            continue
        if name.startswith("min_"):
            assert loose <= mid <= strict, name
        else:
            assert loose >= mid >= strict, name
    # Pixel sizes follow the working resolution; explicit ones are kept as given.
    at_384 = thresholds_from_config({}, working_resolution=384)
    assert at_384.min_face_size == BALANCED.min_face_size / 2
    assert at_384.min_short_side == pytest.approx(BALANCED.min_short_side / 2, abs=0.1)
    assert thresholds_from_config({"min_face_size": 80}, 384).min_face_size == 80
    with pytest.raises(ValueError, match="unknown threshold preset"):
        thresholds_from_config({"preset": "lenient"})
    with pytest.raises(ValueError, match="min_sharpnes"):
        thresholds_from_config({"min_sharpnes": 3})
    with pytest.raises(ValueError, match="must not rise"):
        check_tiers({20: 0.8, 70: 0.9})


def test_missing_table_rows_name_the_rule_to_rerun() -> None:
    world = _random_world(5, 2, 2)
    world["quality"].pop()
    with pytest.raises(ValueError, match="rerun the quality rule"):
        _select(world)


def test_select_files_round_trip(tmp_path: Path) -> None:
    world = _random_world(80, seeds=4, clusters=4)
    # The quality table as the stage writes it: every measure, the face's sharpness deciding.
    world["quality"] = [dict.fromkeys(tables.QUALITY.names) | row for row in world["quality"]]
    soft_background, soft_face = world["quality"][0], world["quality"][1]
    for i in (0, 1):
        world["faces"][i].update(face_verdict="ok", face_confidence=0.99)
        world["quality"][i].update(readable=True, contrast=80.0, face_confidence=0.99)
    soft_background.update(sharpness=20.0, face_sharpness=0.6, quality_score=0.99)
    soft_face.update(sharpness=900.0, face_sharpness=0.2, quality_score=0.99)
    for name, rows in world.items():
        pq.write_table(pa.Table.from_pylist(rows), tmp_path / f"{name}.parquet")
    (tmp_path / "collapse.json").write_text(json.dumps({"verdict": "ok"}))
    result = select_files(
        images=[tmp_path / "images.parquet"],
        faces=tmp_path / "faces.parquet",
        quality=tmp_path / "quality.parquet",
        clusters=tmp_path / "clusters.parquet",
        duplicates=tmp_path / "duplicates.parquet",
        thresholds=BALANCED,
        strategy="balanced",
        per_cluster=3,
        tiers={20: 0.92, 70: 0.85},
        duplicate_distance=4,
        out_table=tmp_path / "selection.parquet",
        out_report=tmp_path / "report.json",
        collapse=tmp_path / "collapse.json",
        log=lambda _: None,
    )
    assert read_selection(tmp_path / "selection.parquet") == result
    verdicts = {r.file: r.reject_reason for r in result.rows}
    assert verdicts[soft_background["file"]] is None
    assert verdicts[soft_face["file"]] == "low_sharpness"
    # A quality table from before the face measures is refused, not read as "no defects".
    pq.write_table(
        pa.Table.from_pylist(world["quality"]).drop(["face_sharpness"]),
        tmp_path / "quality.parquet",
    )
    with pytest.raises(ValueError, match="rerun the quality rule"):
        select_files(
            images=[tmp_path / "images.parquet"], faces=tmp_path / "faces.parquet",
            quality=tmp_path / "quality.parquet", clusters=tmp_path / "clusters.parquet",
            duplicates=None, thresholds=BALANCED, strategy="balanced", per_cluster=3,
            tiers={20: 0.92}, duplicate_distance=None, out_table=tmp_path / "s.parquet",
            out_report=tmp_path / "r.json", collapse=tmp_path / "collapse.json",
            log=lambda _: None,
        )  # fmt: skip
    assert tables.read_table(tmp_path / "selection.parquet", tables.SELECTION).num_rows == 80
    report = json.loads((tmp_path / "report.json").read_text())
    assert report == json.loads(json.dumps(selection_report(result, {"verdict": "ok"})))


def test_select_files_compares_the_stored_descriptors_and_embeddings(tmp_path: Path) -> None:
    w = _empty()
    for i, name in enumerate(("a.png", "b.png", "c.png")):
        _add(w, name, i, 0, 0.9 - i / 100, phash=f"{(0xFF << (8 * i)):016x}")  # 16 bits apart
    faces = [dict.fromkeys(tables.FACES.names) | row for row in w["faces"]]
    for row, descriptor in zip(faces, ([0.0, 0.0], [0.1, 0.0], [1.0, 0.0]), strict=True):
        row["descriptor"] = descriptor  # c is someone else
    tables.write_table(tmp_path / "faces.parquet", faces, tables.FACES)
    np.save(tmp_path / "e.npy", np.array([[1, 0], [1, 0.1], [1, 0]], np.float32))
    index = [{"row": i, "file": r["file"], "ok": True, "model": "m", "reason": None}
             for i, r in enumerate(w["images"])]  # fmt: skip
    tables.write_table(tmp_path / "e.parquet", index, tables.EMBEDDING_INDEX)
    w["quality"] = [dict.fromkeys(tables.QUALITY.names) | row for row in w["quality"]]
    for name in ("images", "quality", "clusters", "duplicates"):
        pq.write_table(pa.Table.from_pylist(w[name]), tmp_path / f"{name}.parquet")

    def run(**kw: Any):  # type: ignore[no-untyped-def]
        return select_files(
            images=[tmp_path / "images.parquet"], faces=tmp_path / "faces.parquet",
            quality=tmp_path / "quality.parquet", clusters=tmp_path / "clusters.parquet",
            duplicates=tmp_path / "duplicates.parquet", thresholds=LOOSE, strategy="balanced",
            per_cluster=3, tiers={2: None}, duplicate_distance=6,
            out_table=tmp_path / "selection.parquet", out_report=tmp_path / "report.json",
            log=lambda _: None, **kw,
        )  # fmt: skip

    result = run(
        near_duplicates=NearDuplicateRule(),
        embeddings=(tmp_path / "e.npy", tmp_path / "e.parquet"),
    )
    assert {r.file: (r.duplicate_of, r.duplicate_kind) for r in result.rows} == {
        "a.png": (None, None),
        "b.png": ("a.png", "face_embedding"),
        "c.png": (None, None),
    }
    assert read_selection(tmp_path / "selection.parquet") == result
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["parameters"]["near_duplicates"] == {
        "face_distance": 0.3,
        "embedding_similarity": 0.9,
    }
    with pytest.raises(ValueError, match="no embeddings file"):
        run(near_duplicates=NearDuplicateRule())
    off = run(near_duplicates=NearDuplicateRule(None, None))
    assert all(r.verdict == "passed" for r in off.rows)


@pytest.mark.parametrize(
    ("measures", "reason"),
    [
        ({"short_side": 200}, "low_resolution"),
        ({"face_size": 100.0, "working_scale": 0.5}, "face_too_small"),  # 50 px at 768
        ({"face_highlights": 0.4}, "overexposed"),
        ({"highlights": 0.8}, "overexposed"),
        ({"face_brightness": 40.0}, "underexposed"),
        ({"face_shadows": 0.3}, "underexposed"),
        ({"noise": 12.0, "face_sharpness": 0.8}, "noisy"),
        ({"blockiness": 2.5}, "compression_artifacts"),
        ({"face_sharpness": 0.3, "sharpness": 5000.0}, "low_sharpness"),  # the face decides
        ({"face_sharpness": None, "sharpness": 100.0}, "low_sharpness"),  # no face: the frame
        ({"face_sharpness": 0.5, "sharpness": 10.0}, None),  # a soft background is no defect
        # A dark, noisy, blocky, soft image is named for the first defect in order.
        (
            {"face_brightness": 40.0, "noise": 12.0, "blockiness": 2.5, "face_sharpness": 0.2},
            "underexposed",
        ),
    ],
)
def test_defect_gates(measures: dict[str, Any], reason: str | None) -> None:
    from charfolio.curate.selection import threshold_reason

    clean = {
        "sharpness": 400.0, "contrast": 60.0, "face_confidence": 0.99, "face_sharpness": 0.6,
        "noise": 1.0, "blockiness": 1.1, "highlights": 0.01, "shadows": 0.01,
        "face_brightness": 150.0, "face_highlights": 0.0, "face_shadows": 0.0,
        "face_size": 200.0, "short_side": 768, "working_scale": 1.0,
    }  # fmt: skip
    assert threshold_reason(clean, BALANCED) is None
    assert threshold_reason({**clean, **measures}, BALANCED) == reason
