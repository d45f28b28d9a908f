"""Exact and near duplicates: threshold-free hashes, grouping with a threshold."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from charfolio.core import tables
from charfolio.quality.duplicates import (
    find_duplicates,
    hamming,
    hash_images,
    phash,
    write_duplicates,
)


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dups")
    astronaut = data.astronaut()
    Image.fromarray(astronaut).save(root / "a.png")
    shutil.copyfile(root / "a.png", root / "a_copy.png")
    Image.fromarray(astronaut).save(root / "a_q80.jpg", quality=80)
    small = cv2.resize(astronaut, (384, 384), interpolation=cv2.INTER_AREA)
    Image.fromarray(small).save(root / "a_small.jpg", quality=90)
    Image.fromarray(np.ascontiguousarray(astronaut[:-12, 12:])).save(
        root / "a_trim.jpg", quality=85
    )
    distinct = {
        "coffee.png": data.coffee(),
        "chelsea.png": data.chelsea(),
        "rocket.png": data.rocket(),
        "camera.png": data.camera(),
        "brick.png": data.brick(),
        "astronaut_flipped.png": astronaut[:, ::-1],
    }
    for name, pixels in distinct.items():
        Image.fromarray(np.ascontiguousarray(pixels)).save(root / name)
    (root / "junk.png").write_text("not an image")
    shutil.copyfile(root / "junk.png", root / "junk_copy.png")
    return root


@pytest.fixture(scope="module")
def rows(images: Path) -> list[dict]:
    files = sorted(p.name for p in images.iterdir())
    return hash_images(files, images, workers=1, log=lambda _: None)


def _by_file(rows):
    return {r["file"]: r for r in rows}


def test_hash_table_is_threshold_free_and_typed(rows, tmp_path: Path) -> None:
    by = _by_file(rows)
    assert set(rows[0]) == set(tables.DUPLICATES.names)
    assert len(by["a.png"]["phash"]) == 16 and len(by["a.png"]["sha256"]) == 64
    assert by["junk.png"]["phash"] is None and by["junk.png"]["sha256"] is not None
    write_duplicates(tmp_path / "d.parquet", rows)
    assert tables.read_table(tmp_path / "d.parquet", tables.DUPLICATES).to_pylist() == rows


def test_recompressed_and_resized_copies_are_near(rows) -> None:
    by = _by_file(rows)
    base = int(by["a.png"]["phash"], 16)
    assert by["a.png"]["sha256"] == by["a_copy.png"]["sha256"]
    for near in ("a_q80.jpg", "a_small.jpg"):
        assert hamming(base, int(by[near]["phash"], 16)) <= 2, near
    assert 0 < hamming(base, int(by["a_trim.jpg"]["phash"], 16)) <= 6  # 12 px trimmed off
    readable = [r for r in rows if r["phash"] and not r["file"].startswith("a")]
    for r in readable:
        assert hamming(base, int(r["phash"], 16)) > 12, r["file"]


def test_groups_keep_the_best_scored_copy(rows) -> None:
    scores = {
        "a.png": 0.7,
        "a_copy.png": 0.7,
        "a_q80.jpg": 0.9,
        "a_small.jpg": 0.5,
        "coffee.png": 0.8,
    }
    found = find_duplicates(rows, scores, max_distance=6)
    assert found["a.png"] == ("a_q80.jpg", found["a.png"][1])
    assert found["a_copy.png"][0] == "a_q80.jpg" and found["a_small.jpg"][0] == "a_q80.jpg"
    assert "a_q80.jpg" not in found
    assert found["a_trim.jpg"][0] == "a_q80.jpg" and 0 < found["a_trim.jpg"][1] <= 6
    # Distinct pictures, including a mirror image, are never duplicates.
    for name in (
        "coffee.png",
        "chelsea.png",
        "rocket.png",
        "camera.png",
        "brick.png",
        "astronaut_flipped.png",
    ):
        assert name not in found
    # Byte-identical unreadable files still group through sha256; no scores: lexicographic.
    assert found["junk_copy.png"] == ("junk.png", 0)


def test_ties_threshold_and_exact_copy_distance(rows) -> None:
    by = _by_file(rows)
    trim = hamming(int(by["a.png"]["phash"], 16), int(by["a_trim.jpg"]["phash"], 16))
    found = find_duplicates(rows, {"a.png": 0.5, "a_copy.png": 0.5, "a_trim.jpg": 0.5}, trim - 1)
    assert found["a_copy.png"] == ("a.png", 0)  # tie: the first name is kept
    assert "a_trim.jpg" not in found  # just beyond the threshold
    assert find_duplicates(rows, {}, trim)["a_trim.jpg"][0] == "a.png"


def test_grouping_is_transitive_and_reports_distance_to_the_kept_image() -> None:
    rows = [
        {"file": "x", "sha256": "1", "phash": f"{0:016x}"},
        {"file": "y", "sha256": "2", "phash": f"{0b11111:016x}"},  # 5 from x
        {"file": "z", "sha256": "3", "phash": f"{0b1111111111:016x}"},  # 5 from y, 10 from x
        {"file": "w", "sha256": "4", "phash": f"{(1 << 64) - 1:016x}"},  # far from all
    ]
    found = find_duplicates(rows, {"x": 1.0, "y": 0.5, "z": 0.2, "w": 0.9}, max_distance=5)
    assert found == {"y": ("x", 5), "z": ("x", 10)}
    assert find_duplicates(rows, {}, max_distance=4) == {}


def test_phash_is_stable_and_two_workers_match(rows, images: Path) -> None:
    rgb = data.astronaut()
    assert phash(rgb) == phash(rgb.copy())
    files = [r["file"] for r in rows]
    assert hash_images(files, images, workers=2, log=lambda _: None) == rows
