"""The balance table and report: real dlib faces on known images, gaps against the ranges."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from charfolio.balance.analyze import BalanceRules, analyze_balance, balance_report
from charfolio.balance.targets import (
    DOCUMENT_TARGETS,
    OVER,
    UNDER,
    WITHIN,
    Range,
    Targets,
    distance,
    gap,
    images_to_reach,
    images_to_remove,
    others_to_add,
)
from charfolio.core import tables
from charfolio.faces import analyze_faces, create_face_detector, write_faces

from .balance_support import figure, save

# file -> (width, height, face fraction, centre, background, second face)
IMAGES = {
    "images/seed_1/close_a.png": (512, 512, 0.42, (0.5, 0.45), "plain", None),
    "images/seed_1/close_b.png": (512, 512, 0.35, (0.45, 0.4), "coffee", None),
    "images/seed_1/medium.png": (512, 768, 0.20, (0.5, 0.25), "coffee", None),
    "images/seed_2/full.png": (512, 768, 0.08, (0.45, 0.12), "plain", None),
    "images/seed_2/pair.png": (768, 512, 0.2, (0.3, 0.3), "plain", (0.7, 0.3)),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """A character's results folder: images, an empty frame, a broken file, real faces."""
    root = tmp_path_factory.mktemp("demo")
    for file, (w, h, fraction, centre, bg, second) in IMAGES.items():
        save(root, file, figure(w, h, fraction, centre, bg, second)[0])
    save(root, "images/seed_2/empty.png", np.full((256, 256, 3), 90, np.uint8))
    (root / "images/seed_2/broken.png").write_bytes(b"not a png")
    files = [*IMAGES, "images/seed_2/empty.png", "images/seed_2/broken.png"]
    detector = create_face_detector({"backend": "dlib", "descriptors": False})
    write_faces(root / "faces.parquet", analyze_faces(files, root, detector, log=lambda _: None))
    return root


def test_table_and_report(results: Path, tmp_path: Path) -> None:
    report = analyze_balance(
        results / "faces.parquet",
        results,
        None,
        tmp_path / "b.parquet",
        tmp_path / "b.json",
        log=lambda _: None,
    )
    rows = {
        r["file"]: r for r in tables.read_table(tmp_path / "b.parquet", tables.BALANCE).to_pylist()
    }
    assert len(rows) == 7
    shots = {f: r["shot_type"] for f, r in rows.items()}
    assert shots == {
        "images/seed_1/close_a.png": "close_up",
        "images/seed_1/close_b.png": "close_up",
        "images/seed_1/medium.png": "medium",
        "images/seed_2/full.png": "full_body",
        "images/seed_2/pair.png": "medium",
        "images/seed_2/empty.png": "unknown",
        "images/seed_2/broken.png": "unknown",
    }
    assert rows["images/seed_2/pair.png"]["multi_character"]
    assert rows["images/seed_1/medium.png"]["complex_background"]
    assert not rows["images/seed_2/full.png"]["complex_background"]
    assert rows["images/seed_2/broken.png"]["reason"].startswith("unreadable")
    assert rows["images/seed_2/empty.png"]["reason"] == "no_face"

    assert report == json.loads((tmp_path / "b.json").read_text())
    assert report["classified"] == 5
    assert report["unclassified"] == {"no_face": 1, "unreadable": 1}
    assert report["shot_counts"] == {"close_up": 2, "medium": 2, "full_body": 1, "wide": 0}
    full = report["shot_types"]["full_body"]
    assert (full["count"], full["status"], full["images"]) == (1, UNDER, 1)  # 2 of 6 >= 25%
    assert full["impact"] == "poor body consistency"
    assert report["shot_types"]["medium"]["status"] == OVER  # 40% against 30%
    wide = report["shot_types"]["wide"]
    assert wide["images"] == 1 and wide["message"] == (
        "wide: 0% (0 of 5 images) against a 5% minimum -> need about 1 more image"
    )
    assert report["flags"]["multi_character"]["status"] == WITHIN  # 1 of 5: 20% of 15-20%
    assert report["needs"] == {"full_body": 1, "wide": 1, "occlusion": 1}
    assert report["gaps"][0].startswith("full_body") or report["gaps"][0].startswith("wide")
    assert "note" not in report["flags"]["occlusion"]  # pair.png did not pass the face gate


def test_files_from_a_manifest_and_gate_note(results: Path, tmp_path: Path) -> None:
    chosen = ["images/seed_1/close_a.png", "images/seed_2/full.png"]
    manifest = [
        {
            "file": f,
            "tier_file": f"images/{Path(f).name}",
            "caption_file": "c.txt",
            "caption": "c",
            "rank": i + 1,
            "cluster": 0,
            "seed": 1,
            "quality_score": 0.9,
            "split": "train",
        }
        for i, f in enumerate(chosen)
    ]
    tables.write_table(tmp_path / "manifest.parquet", manifest, tables.TIER_MANIFEST)
    report = analyze_balance(
        results / "faces.parquet",
        results,
        tmp_path / "manifest.parquet",
        tmp_path / "b.parquet",
        tmp_path / "b.json",
        log=lambda _: None,
    )
    assert report["images"] == 2 and report["shot_counts"]["full_body"] == 1
    # every image passed the one-face gate: the report says why multi-character is at 0
    assert "one-face gate" in report["flags"]["multi_character"]["note"]
    assert "one-face gate" in report["flags"]["occlusion"]["note"]
    assert "note" not in report["flags"]["complex_background"]


def test_missing_faces_row_names_the_fix(results: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rerun the faces rule"):
        analyze_balance(
            results / "faces.parquet",
            results,
            ["images/new.png"],
            tmp_path / "b.parquet",
            tmp_path / "b.json",
        )


def test_parallel_workers_give_the_same_rows(results: Path, tmp_path: Path) -> None:
    args = (results / "faces.parquet", results, None)
    analyze_balance(*args, tmp_path / "one.parquet", tmp_path / "one.json", log=lambda _: None)
    analyze_balance(
        *args, tmp_path / "two.parquet", tmp_path / "two.json", workers=2, log=lambda _: None
    )
    one = tables.read_table(tmp_path / "one.parquet", tables.BALANCE)
    two = tables.read_table(tmp_path / "two.parquet", tables.BALANCE)
    assert one.equals(two)


@pytest.mark.parametrize("share", [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4])
def test_gap_arithmetic_is_the_smallest_count(share: float) -> None:
    for total in range(0, 60, 7):
        for count in range(0, total + 1, 3):
            add = images_to_reach(count, total, share)
            assert (count + add) >= share * (total + add) - 1e-9
            assert add == 0 or (count + add - 1) < share * (total + add - 1) - 1e-9
            cut = images_to_remove(count, total, share)
            assert count - cut <= share * (total - cut) + 1e-9
            assert cut == 0 or count - cut + 1 > share * (total - cut + 1) + 1e-9
            more = others_to_add(count, total, share)
            assert count <= share * (total + more) + 1e-9
            assert more == 0 or count > share * (total + more - 1) + 1e-9


def test_gap_messages() -> None:
    under = gap("full_body", "shot_type", 2, 50, Range(0.25, 0.30))
    assert under.status == UNDER and under.images == 14  # 16 of 64 is 25%
    assert under.message == (
        "full_body: 4% (2 of 50 images) against a 25% minimum -> need about 14 more images"
    )
    over = gap("close_up", "shot_type", 30, 50, Range(0.30, 0.40))
    assert over.status == OVER and (over.images, over.others) == (17, 25)  # 13/33, 30/75
    assert over.message.endswith("about 17 fewer images, or about 25 more of the others")
    fine = gap("wide", "shot_type", 4, 50, Range(0.05, 0.10))
    assert fine.status == WITHIN and fine.images == 0
    assert gap("wide", "shot_type", 0, 0, Range(0.05, 0.1)).status == WITHIN
    assert gap("wide", "shot_type", 3, 10, Range(0.0, 0.0)).images == 3


def test_targets_are_the_documents_and_configurable() -> None:
    assert DOCUMENT_TARGETS.shot_types["close_up"] == Range(0.30, 0.40)
    assert DOCUMENT_TARGETS.shot_types["wide"] == Range(0.05, 0.10)
    assert DOCUMENT_TARGETS.flags["occlusion"] == Range(0.08, 0.12)
    custom = Targets.from_config({"full_body": [0.2, 0.35], "occlusion": [0.0, 0.05]})
    assert custom.shot_types["full_body"] == Range(0.2, 0.35)
    assert custom.flags["occlusion"] == Range(0.0, 0.05)
    assert custom.shot_types["medium"] == Range(0.25, 0.30)
    with pytest.raises(ValueError, match=r"unknown balance\.targets"):
        Targets.from_config({"portrait": [0.1, 0.2]})
    with pytest.raises(ValueError, match="not a range of shares"):
        Targets.from_config({"wide": [0.2, 0.1]})
    with pytest.raises(ValueError, match="minimums sum to"):
        Targets.from_config({"wide": [0.5, 0.6]})
    with pytest.raises(ValueError, match=r"expected \[min, max\]"):
        Targets.from_config({"wide": 0.1})


def test_distance_and_report_without_faces() -> None:
    ranges = DOCUMENT_TARGETS.shot_types
    counts = {"close_up": 35, "medium": 27, "full_body": 28, "wide": 10}
    assert distance(counts, 100, ranges) == 0.0
    assert distance({"close_up": 10}, 10, ranges) == pytest.approx(0.6 + 0.25 + 0.25 + 0.05)
    report = balance_report([], DOCUMENT_TARGETS, BalanceRules())
    assert report["classified"] == 0 and report["needs"] == {}
