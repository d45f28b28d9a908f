"""`charfolio curate` and `charfolio calibrate` on a folder of images the test makes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from charfolio.generation.backends import RenderRequest, create_image_backend

from .conftest import config_path, planned_jobs, snakemake
from .determinism import differing_files, file_digest, run_digests

CHARFOLIO = str(Path(sys.executable).parent / "charfolio")


def _photos(folder: Path, numbers: range, scene: Callable[[int], str]) -> None:
    """Photos img_{i}.png, i in `numbers`, each in the folder `scene(i)` under `folder`."""
    backend = create_image_backend({"backend": "reference_variation"})
    requests = [RenderRequest(f"shot {i}", "", 500 + i, 256, 256, "casual") for i in numbers]
    for i, image in zip(numbers, backend.render(requests), strict=True):
        (folder / scene(i)).mkdir(exist_ok=True)
        image.save(folder / scene(i) / f"img_{i:02d}.png")


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory) -> Path:
    """24 photos in two 'scenes', plus a file that is not an image."""
    folder = tmp_path_factory.mktemp("photos")
    _photos(folder, range(24), lambda i: f"scene_{i % 2}")
    (folder / "scene_0" / "broken.jpg").write_text("not an image")
    return folder


def _curate(folder: Path, out: Path) -> Path:
    """`charfolio curate` of `folder` into `out`, tier 8; the character's results folder."""
    result = subprocess.run(
        [CHARFOLIO, "curate", str(folder), "--out", str(out), "--tier", "8",
         "--preset", "aggressive", "--token", "zed", "--cores", "2"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out / "results" / folder.name


@pytest.mark.slow
def test_curate_a_folder_into_a_tier(photo_folder, tmp_path):
    root = _curate(photo_folder, tmp_path / "out")
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
    # The review page runs in --out, as curate says, and shows the folder's own photos.
    out = tmp_path / "out"
    server = subprocess.Popen(
        [CHARFOLIO, "review", "--config", "config/curate.yaml", "--character", photo_folder.name,
         "--no-browser", "--port", "0"],
        cwd=out, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = urllib.parse.urlsplit(server.stdout.readline().strip())
        token = urllib.parse.parse_qs(url.query)["token"][0]
        query = urllib.parse.urlencode({"file": "source/scene_0/img_00.png", "token": token})
        with urllib.request.urlopen(f"http://{url.netloc}/api/image?{query}", timeout=30) as r:
            assert r.read() == (photo_folder / "scene_0" / "img_00.png").read_bytes()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert not (out / "config" / "reviews").exists()  # looking writes nothing


@pytest.mark.slow
def test_curating_a_changed_folder_again_equals_curating_it_from_scratch(tmp_path):
    folder = tmp_path / "shoot"
    folder.mkdir()
    _photos(folder, range(20), lambda i: f"scene_{i % 2}")
    incremental = _curate(folder, tmp_path / "incremental")
    for i in range(0, 20, 4):  # 5 deleted, from both scenes
        (folder / f"scene_{i % 2}" / f"img_{i:02d}.png").unlink()
    _photos(folder, range(20, 30), lambda i: "scene_2" if i < 25 else "scene_1")  # 10 added
    _curate(folder, tmp_path / "incremental")
    scratch = _curate(folder, tmp_path / "scratch")

    tier = run_digests(incremental / "tier_8")
    assert any(path.startswith("images/") for path in tier)  # the links are compared too
    assert differing_files(tier, run_digests(scratch / "tier_8")) == []
    catalog = pq.read_table(incremental / "catalog.parquet").column("file").to_pylist()
    assert len(catalog) == 25 and "source/scene_0/img_00.png" not in catalog
    assert file_digest(incremental / "catalog.parquet") == file_digest(scratch / "catalog.parquet")


def test_curate_refuses_a_folder_without_images(tmp_path):
    (tmp_path / "empty").mkdir()
    result = subprocess.run([CHARFOLIO, "curate", str(tmp_path / "empty"), "--out", str(tmp_path / "o")],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2 and "holds no images" in result.stderr
    result = subprocess.run([CHARFOLIO, "curate", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2 and "nowhere cannot be listed" in result.stderr


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


def test_curate_plans_curation_only_unless_train(photo_folder, tmp_path):
    out = tmp_path / "out"
    curate = [CHARFOLIO, "curate", str(photo_folder), "--out", str(out), "--dry-run"]
    result = subprocess.run(curate, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    jobs = planned_jobs(result.stdout)
    assert "train_lora" not in jobs
    assert jobs["build_tier"] == 5 and jobs["caption_images"] == 1  # curation.tiers, captions
    for rule in ("build_catalog", "write_report", "analyze_balance", "build_duckdb"):
        assert jobs[rule] >= 1, rule
    # --train adds the LoRA (the tiny model: training.backend tiny needs no model file)
    tiny = tmp_path / "tiny_training.yaml"
    tiny.write_text("training: {backend: tiny}\n")
    result = subprocess.run([*curate, "--tier", "8", "--train", "--config", str(tiny)],
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    jobs = planned_jobs(result.stdout)
    assert jobs["train_lora"] == 1 and jobs["build_tier"] == 1


def test_a_second_curate_into_the_same_out_changes_nothing(photo_folder, tmp_path):
    """Two real processes: the first holds --out (its Snakemake blocks reading a FIFO config,
    so it is still running however slow the machine); the second must fail at once."""
    out = tmp_path / "out"
    fifo = tmp_path / "held.yaml"
    os.mkfifo(fifo)
    first = subprocess.Popen(
        [CHARFOLIO, "curate", str(photo_folder), "--out", str(out), "--name", "first",
         "--config", str(fifo)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        fifo.write_text("{}\n")  # curate's own check reads it once; Snakemake waits for more
        lines = []
        while not (line := first.stdout.readline()).startswith("running:"):
            assert line, "".join(lines)  # the first curate ended before running Snakemake
            lines.append(line)
        config = out / "config"
        before = {p: p.read_bytes() for p in config.rglob("*") if p.is_file()}
        second = subprocess.run(
            [CHARFOLIO, "curate", str(photo_folder), "--out", str(out), "--name", "second",
             "--tier", "8"],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert second.returncode == 2, second.stdout + second.stderr
        assert f"{out} is in use by another charfolio curate (pid {first.pid}" in second.stderr
        assert {p: p.read_bytes() for p in config.rglob("*") if p.is_file()} == before
        assert not (config / "characters" / "second.yaml").exists()
        assert first.poll() is None  # the first one was running throughout
        # Killed, curate leaves its Snakemake running in --out; the lock stays with it.
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=60)
        third = subprocess.run(
            [CHARFOLIO, "curate", str(photo_folder), "--out", str(out), "--name", "third"],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert third.returncode == 2 and "is in use by another charfolio curate" in third.stderr
    finally:
        os.killpg(first.pid, signal.SIGTERM)
        first.wait(timeout=60)


def _folder_character(workdir: Path, folder: Path) -> str:
    """A config (in `workdir`) whose one character curates `folder`; returns its path."""
    characters = workdir / "characters"
    characters.mkdir()
    character = {"name": "shoot", "token": "zed", "class_word": "person",
                 "base_prompt": "photos", "base_seed": 0, "image_folder": str(folder)}  # fmt: skip
    (characters / "shoot.yaml").write_text(yaml.safe_dump(character))
    config = workdir / "shoot.yaml"
    config.write_text(yaml.safe_dump({"characters": ["shoot"], "character_dir": str(characters)}))
    return str(config)


def test_ingest_reruns_when_a_file_is_added_changed_or_deleted_and_only_then(workdir, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.png").write_bytes(b"not decoded by ingest %d" % i)
    config = _folder_character(workdir, folder)
    table = "results/shoot/images/folder.parquet"

    def planned() -> dict[str, int]:
        return planned_jobs(snakemake(workdir, "-n", table, "--configfile", config).stdout)

    snakemake(workdir, table, "--configfile", config)
    assert planned() == {}
    changes = {
        "changed": lambda: os.utime(folder / "1.png", ns=(0, 10**18)),
        "added": lambda: (folder / "3.png").write_bytes(b"new"),
        "deleted": lambda: (folder / "0.png").unlink(),
    }
    for change, make in changes.items():
        make()
        assert planned() == {"ingest_folder": 1}, change
        snakemake(workdir, table, "--configfile", config)
        assert planned() == {}, f"after the {change} file was ingested"
    files = [r["file"] for r in pq.read_table(workdir / table).to_pylist()]
    assert files == ["source/1.png", "source/2.png", "source/3.png"]


def test_a_missing_image_folder_is_a_config_error_naming_the_character_file(workdir, tmp_path):
    folder = tmp_path / "moved_away"
    config = _folder_character(workdir, folder)
    result = snakemake(workdir, "-n", "--configfile", config, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "NameError" not in output
    assert f"image_folder {folder} cannot be listed" in output
    assert str(workdir / "characters" / "shoot.yaml") in output
