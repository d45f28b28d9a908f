"""`charfolio curate` and `charfolio calibrate` on a folder of images the test makes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from charfolio.generation.backends import RenderRequest, create_image_backend

from .conftest import config_path, snakemake

CHARFOLIO = str(Path(sys.executable).parent / "charfolio")


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory) -> Path:
    """24 photos in two 'scenes', plus a file that is not an image."""
    folder = tmp_path_factory.mktemp("photos")
    backend = create_image_backend({"backend": "reference_variation"})
    requests = [RenderRequest(f"shot {i}", "", 500 + i, 256, 256, "casual") for i in range(24)]
    for i, image in enumerate(backend.render(requests)):
        (folder / f"scene_{i % 2}").mkdir(exist_ok=True)
        image.save(folder / f"scene_{i % 2}" / f"img_{i:02d}.png")
    (folder / "scene_0" / "broken.jpg").write_text("not an image")
    return folder


@pytest.mark.slow
def test_curate_a_folder_into_a_tier(photo_folder, tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(
        [CHARFOLIO, "curate", str(photo_folder), "--out", str(out), "--tier", "8",
         "--preset", "aggressive", "--token", "zed", "--cores", "2"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    name = photo_folder.name
    root = out / "results" / name
    manifest = pq.read_table(root / "tier_8" / "manifest.parquet").to_pylist()
    assert 0 < len(manifest) <= 8
    assert all(r["caption"].startswith("zed person") for r in manifest)
    faces = {
        r["file"]: r["face_verdict"] for r in pq.read_table(root / "faces.parquet").to_pylist()
    }
    assert faces["source/scene_0/broken.jpg"] == "unreadable"
    assert len(faces) == 25
    # The photos were never copied or moved.
    assert len(list(photo_folder.rglob("*.png"))) == 24


def test_curate_refuses_a_folder_without_images(tmp_path):
    (tmp_path / "empty").mkdir()
    result = subprocess.run([CHARFOLIO, "curate", str(tmp_path / "empty"), "--out", str(tmp_path / "o")],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2 and "is not a folder of images" in result.stderr


def test_calibrate_prints_a_config_snippet(photo_folder):
    result = subprocess.run([CHARFOLIO, "calibrate", str(photo_folder / "scene_1")],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    snippet = yaml.safe_load(result.stdout)
    thresholds = snippet["curation"]["thresholds"]
    assert thresholds["min_sharpness"] > 0 and thresholds["min_contrast"] > 0


def test_unconfigured_tier_fails_before_any_job(workdir):
    result = snakemake(
        workdir, "-n", "results/demo/tier_50", "--configfile", config_path("demo.yaml"), check=False
    )
    assert result.returncode != 0
    assert "tier_50 is not configured" in result.stdout + result.stderr
