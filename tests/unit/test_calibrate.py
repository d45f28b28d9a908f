"""Calibration of thresholds from a folder of known-good images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from PIL import Image

from charfolio.curate import PRESETS, thresholds_from_config
from charfolio.faces.detector import Face
from charfolio.quality import measure
from charfolio.quality.calibrate import calibrate


def _textured(seed: int, blur: float, size: int = 128) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = cv2.resize(
        rng.uniform(0, 255, (16, 16, 3)).astype(np.float32),
        (size, size),
        interpolation=cv2.INTER_NEAREST,
    )
    if blur:
        base = cv2.GaussianBlur(base, (0, 0), blur)
    return np.clip(base, 0, 255).astype(np.uint8)


class FakeDetector:
    name, descriptor_model = "fake", None

    def detect(self, rgb: np.ndarray) -> list[Face]:
        # Two faces: the larger one is the main face; its confidence follows the mean brightness.
        confidence = float(rgb.mean()) / 255.0
        return [Face((0, 0, 4, 4), 0.99, 0.0), Face((0, 0, 40, 40), confidence, 0.0)]

    def describe(self, rgb: np.ndarray, face: Face) -> Face:
        return face


def test_thresholds_are_the_low_percentile_of_good_images(tmp_path: Path) -> None:
    images = [_textured(i, blur) for i, blur in enumerate([0, 0.5, 1, 1.5, 2, 3, 4, 6])]
    for i, img in enumerate(images):
        Image.fromarray(img).save(tmp_path / f"good_{i}.png")
    (tmp_path / "nested").mkdir()
    Image.fromarray(images[0]).save(tmp_path / "nested" / "again.jpg", quality=95)
    (tmp_path / "broken.png").write_bytes(b"nope")
    (tmp_path / "notes.txt").write_text("not an image")

    result, snippet = calibrate(tmp_path, detector=FakeDetector(), log=lambda _: None)

    assert (result["n_images"], result["n_unreadable"]) == (10, 1)
    measured = [
        measure(np.asarray(Image.open(p).convert("RGB")))
        for p in sorted(tmp_path.rglob("*.[pj][np]g"))
        if p.name != "broken.png"
    ]
    sharp = [m[0] for m in measured]
    assert result["thresholds"]["min_sharpness"] == round(float(np.percentile(sharp, 25)), 1)
    assert result["good"]["sharpness"] == round(float(np.percentile(sharp, 75)), 1)
    assert result["thresholds"]["min_contrast"] == round(
        float(np.percentile([m[1] for m in measured], 25)), 2
    )
    assert result["sharpness"]["p10"] <= result["sharpness"]["p25"] <= result["sharpness"]["p90"]
    assert 0 < result["thresholds"]["min_face_confidence"] < 1 and result["n_without_face"] == 0

    config = yaml.safe_load(snippet)
    thresholds = thresholds_from_config(config["curation"]["thresholds"])
    assert thresholds.min_sharpness == result["thresholds"]["min_sharpness"]
    assert thresholds.min_quality_score == PRESETS["balanced"].min_quality_score  # untouched
    # Every gate a measure sets, the maximums from the mirrored percentile.
    assert result["thresholds"]["max_noise"] == result["noise"]["p75"]
    assert result["thresholds"]["min_face_sharpness"] == result["face_sharpness"]["p25"]
    assert thresholds.max_blockiness == result["thresholds"]["max_blockiness"]
    assert thresholds.min_face_size == result["thresholds"]["min_face_size"] == 40
    assert snippet.startswith("# Calibrated from 9 known-good images")


def test_without_a_detector_face_confidence_is_left_to_the_preset(tmp_path: Path) -> None:
    for i in range(4):
        Image.fromarray(_textured(i, 1.0)).save(tmp_path / f"{i}.png")
    result, snippet = calibrate(tmp_path, low=10, high=90, preset="aggressive", log=lambda _: None)
    assert set(result["thresholds"]) == {
        "min_sharpness", "min_contrast", "max_noise", "max_blockiness", "max_highlights",
        "max_shadows", "min_short_side",
    }  # fmt: skip
    assert "face_confidence" not in result and "face_sharpness" not in result
    assert yaml.safe_load(snippet)["curation"]["thresholds"]["preset"] == "aggressive"


def test_empty_folder_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        calibrate(tmp_path, log=lambda _: None)


def test_calibration_walks_the_folder_as_ingest_does(tmp_path: Path) -> None:
    """A folder link loop, a FIFO and a .gif: calibrate lists what ingest would curate, never
    hangs on the FIFO, and measures the .gif (the old suffix walk skipped it)."""
    import os

    for i in range(4):
        Image.fromarray(_textured(i, 0)).save(tmp_path / f"{i}.png")
    Image.fromarray(_textured(9, 0)).save(tmp_path / "moving.gif")
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "again").symlink_to(tmp_path)  # a loop: the folder once more
    logged: list[str] = []
    result, _ = calibrate(tmp_path, log=logged.append)
    assert (result["n_images"], result["n_unreadable"]) == (6, 1)  # 4 png, the gif, the FIFO
    assert any("pipe.png" in line for line in logged)
