"""The captions stage for ingested images: captioner, shot type, lint per row, tier captions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from charfolio.captions.captioning import caption_images, caption_rows, face_shot, log_lint
from charfolio.captions.registry import CaptionContext, TemplateCaptioner
from charfolio.core import tables
from charfolio.curate import PRESETS, select
from charfolio.curate.tiers import read_captions, write_tier
from charfolio.faces.shots import ShotRules

from .balance_support import faces_row, figure, save, write_faces


class _Describing:
    """A stand-in VLM that names the hair, as captioning models readily do."""

    name = "fake_vlm"

    def caption(self, image: np.ndarray, context: CaptionContext) -> str:
        assert image.ndim == 3
        return f"{context.token} {context.class_word}, blonde woman in a park"


def _folder(root: Path) -> list[Path]:
    """Three ingested images: a close-up, a medium shot, and one without a face."""
    files, faces = [], []
    for i, (fraction, centre) in enumerate(((0.33, (0.5, 0.45)), (0.16, (0.5, 0.3)))):
        rgb, boxes = figure(256, 256, fraction, centre)
        file = f"source/scene_0/img_{i}.png"
        save(root, file, rgb)
        files.append(file)
        faces.append(faces_row(file, boxes, 256, 256))
    save(root, "source/scene_0/empty.png", np.full((64, 64, 3), 128, np.uint8))
    files.append("source/scene_0/empty.png")
    faces.append(faces_row("source/scene_0/empty.png", [], 64, 64))
    write_faces(root / "faces.parquet", faces)
    images = [_image_row(f, i) for i, f in enumerate(files)]
    tables.write_table(root / "images" / "folder.parquet", images, tables.IMAGES)
    return [root / "images" / "folder.parquet"]


def _image_row(file: str, i: int) -> dict[str, Any]:
    return {
        "file": file, "character": "photos", "seed": 1, "seed_group": 1, "mode": "ingested",
        "mode_index": i + 1, "variant": 0, "generator_seed": 0, "prompt": "",
        "negative_prompt": "", "backend": "folder", "model_id": "scene", "architecture": "none",
        "sampler": "none", "sigmas": "none", "steps": 0, "guidance_scale": 0.0, "width": 256,
        "height": 256, "dtype": "none", "batch_size": 0, "settings_json": "{}",
        "sha256": f"{i:064x}", "bytes": 1, "timestamp": "2025-01-01T00:00:00+00:00",
    }  # fmt: skip


def test_template_captions_with_the_shot_type(tmp_path: Path) -> None:
    tables_ = _folder(tmp_path)
    messages: list[str] = []
    table = caption_images(
        tables_, tmp_path / "faces.parquet", tmp_path, tmp_path / "captions.parquet",
        {"backend": "template", "template": None}, "zed", "person", log=messages.append,
    )  # fmt: skip
    rows = table.to_pylist()
    assert [r["caption"] for r in rows] == [
        "zed person, close-up portrait",
        "zed person, upper body",
        None,
    ]
    assert [r["shot_type"] for r in rows] == ["close_up", "medium", "unknown"]
    assert rows[2]["reason"] == "face verdict no_face: never in a tier"
    assert all(r["warnings"] == [] for r in rows)
    assert pq.read_table(tmp_path / "captions.parquet").schema.names == tables.CAPTIONS.names
    assert "captions: 2 of 3 images captioned; 0 with lint warnings (none)" in messages[-1]


def test_identity_words_from_a_model_are_flagged_and_logged(tmp_path: Path) -> None:
    tables_ = _folder(tmp_path)
    rows = caption_rows(
        tables_, tmp_path / "faces.parquet", tmp_path, _Describing(), "zed", "person",
        log=lambda _: None,
    )  # fmt: skip
    flagged = [r for r in rows if r["caption"]]
    assert {r["backend"] for r in rows} == {"fake_vlm"}
    for r in flagged:
        found = {(w["code"], w["category"], w["term"]) for w in r["warnings"]}
        assert ("identity_word", "hair", "blonde") in found
        assert ("identity_word", "gender", "woman") in found
    messages: list[str] = []
    counts = log_lint(rows, messages.append)
    assert counts == {"gender": 2, "hair": 2}
    assert any(
        "WARNING caption of source/scene_0/img_0.png: 'blonde' (hair)" in m for m in messages
    )


def test_a_stale_faces_table_is_named(tmp_path: Path) -> None:
    tables_ = _folder(tmp_path)
    write_faces(tmp_path / "faces.parquet", [])
    with pytest.raises(ValueError, match="rerun the detect_faces rule"):
        caption_rows(tables_, tmp_path / "faces.parquet", tmp_path, TemplateCaptioner(), "z", "p")


def test_face_shot_needs_an_ok_face() -> None:
    row = faces_row("x", [(100, 60, 180, 140)], 256, 256)
    assert face_shot(row, ShotRules()) == "close_up"
    assert face_shot({**row, "face_verdict": "multiple_faces"}, ShotRules()) == "unknown"


def _selection(root: Path):  # type: ignore[no-untyped-def]
    images, faces, quality, clusters = [], [], [], []
    for i in range(4):
        file = f"source/img_{i}.png"
        (root / "source").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(root / file)
        images.append({"file": file, "seed": 0, "mode": "ingested", "scenario": None, "prompt": ""})
        faces.append({"file": file, "face_verdict": "ok", "face_confidence": 0.97})
        quality.append({"file": file, "readable": True, "sharpness": 400.0, "contrast": 80.0,
                        "face_confidence": 0.97, "quality_score": 0.9 + i / 100})  # fmt: skip
        clusters.append({"file": file, "cluster": 0})
    return select(images, faces, quality, clusters, None, PRESETS["balanced"], tiers={4: None})


def _captions(root: Path, files: list[str]) -> Path:
    rows = [
        {"file": f, "caption": f"zed person, shot {i}", "backend": "template",
         "shot_type": "medium", "warnings": [], "reason": None}
        for i, f in enumerate(files)
    ]  # fmt: skip
    tables.write_table(root / "captions.parquet", rows, tables.CAPTIONS)
    return root / "captions.parquet"


def test_a_tier_of_ingested_images_takes_their_captions(tmp_path: Path) -> None:
    result = _selection(tmp_path)
    files = [r.file for r in result.rows]
    captions = _captions(tmp_path, files)
    summary = write_tier(
        result, tmp_path, 4, tmp_path / "tier_4", "{token} {class_word}, photo", "zed", "person",
        captions=captions, log=lambda _: None,
    )  # fmt: skip
    assert summary["captions"] == str(captions) and summary["caption_template"] is None
    manifest = pq.read_table(tmp_path / "tier_4" / "manifest.parquet").to_pylist()
    given = read_captions(captions, files)
    for m in manifest:
        assert m["caption"] == given[m["file"]]
        assert (tmp_path / "tier_4" / m["caption_file"]).read_text().strip() == m["caption"]
    # without captions: the template, as for generated images
    plain = write_tier(
        result, tmp_path, 4, tmp_path / "tier_4b", "{token} {class_word}, photo", "zed",
        "person", log=lambda _: None,
    )  # fmt: skip
    assert "captions" not in plain
    plain_rows = pq.read_table(tmp_path / "tier_4b" / "manifest.parquet").to_pylist()
    assert {m["caption"] for m in plain_rows} == {"zed person, photo"}


def test_a_missing_caption_is_named_with_the_fix(tmp_path: Path) -> None:
    result = _selection(tmp_path)
    captions = _captions(tmp_path, [r.file for r in result.rows][:2])
    with pytest.raises(ValueError, match=r"no caption for source/img_.*rerun the caption_images"):
        write_tier(result, tmp_path, 4, tmp_path / "t", "{token}", "zed", "person",
                   captions=captions, log=lambda _: None)  # fmt: skip
    assert not (tmp_path / "t").exists()


def test_charfolio_models_lists_the_captioners_files() -> None:
    from charfolio.core.config import validate
    from charfolio.models.needs import config_entries

    config = validate(
        {"captions": {"backend": "llama_cpp",
                      "llama_cpp": {"model_path": "vlm.gguf", "mmproj_path": "proj.gguf"}}},
        "config", "test",
    )  # fmt: skip
    names = {e.key: e.name for e in config_entries(config)}
    assert names["captions.llama_cpp.model_path"] == "vlm.gguf"
    assert names["captions.llama_cpp.mmproj_path"] == "proj.gguf"
