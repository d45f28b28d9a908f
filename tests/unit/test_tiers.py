"""Tier directories: links or copies, captions, manifest with a stratified split, report."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from charfolio.core import tables
from charfolio.curate import PRESETS, select, write_selection
from charfolio.curate.tiers import render_caption, split_assignments, write_tier


def _selection(root: Path, n: int = 40, clusters: int = 4):  # type: ignore[no-untyped-def]
    images, faces, quality, cluster_rows = [], [], [], []
    for i in range(n):
        seed = 100 + i % 5
        file = f"images/seed_{seed}/img_{i:03d}.png"
        (root / file).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (i * 5, 0, 0)).save(root / file)
        scenario = None if i % 7 == 0 else f", walking in the rain {i}"
        images.append(
            {
                "file": file,
                "seed": seed,
                "mode": "scenario",
                "scenario": scenario,
                "prompt": f"zxq man, freckles{scenario or ''}",
            }
        )
        faces.append({"file": file, "face_verdict": "ok", "face_confidence": 0.97})
        quality.append(
            {
                "file": file,
                "readable": True,
                "sharpness": 400.0 + i,
                "contrast": 80.0,
                "face_confidence": 0.97,
                "quality_score": 0.86 + 0.003 * i,
            }
        )
        cluster_rows.append({"file": file, "cluster": i % clusters})
    return select(
        images,
        faces,
        quality,
        cluster_rows,
        None,
        PRESETS["balanced"],
        tiers={20: 0.92, 30: 0.85, 300: None},
    )


@pytest.mark.parametrize("mode", ["symlink", "hardlink", "copy"])
def test_tier_directory_contents(tmp_path: Path, mode: str) -> None:
    root = tmp_path / "results" / "demo"
    result = _selection(root)
    out = root / "tier_30"
    summary = write_tier(
        result,
        root,
        30,
        out,
        "{token} {class_word}, {scenario}",
        "zxq",
        "man",
        link_mode=mode,
        log=lambda _: None,
    )

    assert sorted(p.name for p in out.iterdir()) == [
        "images",
        "manifest.parquet",
        "selection_report.json",
    ]
    assert [
        p.name for p in out.parent.iterdir() if p.name.startswith(".")
    ] == []  # no temp dirs left
    manifest = tables.read_table(out / "manifest.parquet", tables.TIER_MANIFEST).to_pylist()
    assert len(manifest) == 30 == summary["size"]
    assert [m["rank"] for m in manifest] == sorted(m["rank"] for m in manifest)
    assert {m["file"] for m in manifest} == set(result.members[30])
    for m in manifest:
        image = out / m["tier_file"]
        assert image.read_bytes() == (root / m["file"]).read_bytes()
        if mode == "symlink":
            assert image.is_symlink() and not os.path.isabs(os.readlink(image))
        elif mode == "hardlink":
            assert image.stat().st_ino == (root / m["file"]).stat().st_ino
        else:
            assert (
                not image.is_symlink() and image.stat().st_ino != (root / m["file"]).stat().st_ino
            )
        assert (out / m["caption_file"]).read_text() == m["caption"] + "\n"
        assert m["caption_file"] == m["tier_file"].rsplit(".", 1)[0] + ".txt"
        assert m["caption"].startswith("zxq man") and not m["caption"].endswith(",")
        assert m["sharpness"] >= 400.0 and m["quality_score"] >= 0.85

    splits = Counter(m["split"] for m in manifest)
    assert splits == {"train": 24, "val": 6} and (summary["train"], summary["val"]) == (24, 6)
    val_clusters = Counter(m["cluster"] for m in manifest if m["split"] == "val")
    assert len(val_clusters) >= 3  # stratified: val spreads over the clusters

    report = json.loads((out / "selection_report.json").read_text())
    assert {"funnel", "tiers", "scores", "per_seed", "per_cluster", "tier"} <= set(report)
    assert report["tier"]["size"] == 30 and report["tier"]["link_mode"] == mode


def test_moving_the_results_folder_keeps_symlinks_valid(tmp_path: Path) -> None:
    root = tmp_path / "results" / "demo"
    write_tier(
        _selection(root), root, 20, root / "tier_20", "{prompt}", "zxq", "man", log=lambda _: None
    )
    moved = tmp_path / "elsewhere"
    os.replace(tmp_path / "results", moved)
    images = sorted((moved / "demo/tier_20/images").glob("*.png"))
    assert len(images) > 0 and all(p.exists() for p in images)


def test_rewriting_replaces_the_old_tier_and_the_split_is_deterministic(tmp_path: Path) -> None:
    root = tmp_path / "r"
    result = _selection(root)
    write_selection(result, tmp_path / "selection.parquet")
    out = tmp_path / "tiers" / "tier_30"
    out.mkdir(parents=True)
    (out / "stale.txt").write_text("from an older run")
    write_tier(
        tmp_path / "selection.parquet",
        root,
        30,
        out,
        "{prompt}",
        "zxq",
        "man",
        seed=7,
        log=lambda _: None,
    )
    assert not (out / "stale.txt").exists()
    first = (out / "manifest.parquet").read_bytes()
    write_tier(result, root, 30, out, "{prompt}", "zxq", "man", seed=7, log=lambda _: None)
    assert (out / "manifest.parquet").read_bytes() == first
    manifest = tables.read_table(out / "manifest.parquet", tables.TIER_MANIFEST).to_pylist()
    prompts = {r.file: r.prompt for r in result.rows}
    assert all(m["caption"] == prompts[m["file"]] for m in manifest)  # template "{prompt}"


def test_split_counts_and_stability() -> None:
    rows = _selection_rows(53)
    assignment = split_assignments(rows, 0.2, seed=1)
    assert Counter(assignment.values()) == {"train": 43, "val": 10}
    assert split_assignments(list(reversed(rows)), 0.2, seed=1) == assignment
    assert split_assignments(rows, 0.2, seed=2) != assignment
    assert set(split_assignments(rows, 0.0, seed=1).values()) == {"train"}
    with pytest.raises(ValueError, match="val_fraction"):
        split_assignments(rows, 1.0, seed=1)


def _selection_rows(n: int):  # type: ignore[no-untyped-def]
    from charfolio.core import tables
    from charfolio.curate import SelectionRow

    return [
        SelectionRow(
            file=f"f{i}.png",
            seed=i % 4,
            mode="original",
            scenario=None,
            prompt="p",
            cluster=i % 5,
            quality_score=0.9,
            sharpness=1.0,
            contrast=1.0,
            face_confidence=0.9,
            face_verdict="ok",
            face_pass=True,
            unique_pass=True,
            thresholds_pass=True,
            score_pass=True,
            verdict="passed",
            reject_reason=None,
            **dict.fromkeys(tables.DUPLICATE_EVIDENCE_COLUMNS),
            rank=i + 1,
            tiers=("tier_300",),
        )
        for i in range(n)
    ]


def test_caption_template() -> None:
    assert (
        render_caption("{token} {class_word}, {scenario}, photo", "zxq", "man", "p", None)
        == "zxq man, photo"
    )
    assert render_caption(
        "{token} {class_word}{scenario}", "zxq", "man", "p", ", at the beach"
    ) == ("zxq man, at the beach")
    assert (
        render_caption("{prompt}", "zxq", "man", "zxq man, freckles", None) == "zxq man, freckles"
    )
    with pytest.raises(ValueError, match="unknown fields"):
        render_caption("{token} {hair}", "zxq", "man", "p", None)


def test_unknown_tier_and_missing_images_are_explained(tmp_path: Path) -> None:
    root = tmp_path / "r"
    result = _selection(root)
    with pytest.raises(ValueError, match="tier 70 was not selected"):
        write_tier(result, root, 70, tmp_path / "t", "{prompt}", "zxq", "man", log=lambda _: None)
    (root / result.members[20][0]).unlink()
    with pytest.raises(FileNotFoundError, match="rerun generation"):
        write_tier(result, root, 20, tmp_path / "t", "{prompt}", "zxq", "man", log=lambda _: None)
    assert not (tmp_path / "t").exists()


def test_a_killed_builds_leftovers_are_cleared_by_the_rerun(tmp_path: Path) -> None:
    """A job killed mid-build leaves its staging folder (and, mid-swap, the old tier moved
    aside); the rerun's build removes them, so they never pile up beside the tiers."""
    root = tmp_path / "r"
    result = _selection(root)
    tiers = tmp_path / "tiers"
    (tiers / ".tier_30.k1ll3d.tmp").mkdir(parents=True)
    (tiers / ".tier_30.k1ll3d.tmp" / "half.png").write_bytes(b"half")
    (tiers / ".tier_30.m1dswap.old" / "previous").mkdir(parents=True)
    (tiers / ".tier_300.other.tmp").mkdir()  # another tier's build: not this job's to remove
    write_tier(result, root, 30, tiers / "tier_30", "{prompt}", "zxq", "man", log=lambda _: None)
    assert sorted(p.name for p in tiers.iterdir()) == [".tier_300.other.tmp", "tier_30"]
