"""Render + score a LoRA's checkpoints: the real tiny renderer, and a scripted one."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from charfolio.demo.tiny import write_tiny_lora
from charfolio.evaluate import (
    CHECKPOINT_SCORES,
    build_suite,
    evaluate_lora,
    read_scores,
    write_suite,
)
from charfolio.evaluate.run import evaluate_lora_checkpoints

from .evaluate_support import (
    FakeRenderer,
    FakeTextScorer,
    astronaut,
    lfw_face,
    make_lora_dir,
    make_reference_tier,
)

pytest.importorskip("dlib")

TINY_CLIP = {"model": "charfolio-tiny-vit", "pretrained": None}


@pytest.fixture(scope="module")
def detector():
    from charfolio.faces import create_face_detector

    return create_face_detector({"backend": "dlib"})


@pytest.fixture(scope="module")
def character(tmp_path_factory: pytest.TempPathFactory, detector) -> Path:
    """faces.parquet, tier_1 (the astronaut) and a two-category suite of one prompt each."""
    root = tmp_path_factory.mktemp("results") / "demo"
    make_reference_tier(root, [astronaut(), astronaut(mirror=True)], detector)
    write_suite(
        root / "checkpoints" / "suite.parquet",
        build_suite("nova", "woman", ["close_up", "full_body"], per_category=1, seed=3),
    )
    return root


@pytest.fixture(scope="module")
def tiny_lora(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two epoch checkpoints of random tiny LoRAs; the final LoRA is epoch 2's weights."""
    root = tmp_path_factory.mktemp("lora")
    first = write_tiny_lora(root / "src" / "one.safetensors", seed=1, scale=0.5)
    second = write_tiny_lora(root / "src" / "two.safetensors", seed=2, scale=0.5)
    return make_lora_dir(root / "p" / "tier_1", [first, second])


def _inputs(character: Path) -> tuple[Path, Path, Path]:
    return (
        character / "checkpoints" / "suite.parquet",
        character / "faces.parquet",
        character / "tier_1",
    )


def test_the_real_tiny_renderer_over_two_checkpoints(
    character: Path, tiny_lora: Path, tmp_path: Path
) -> None:
    suite, faces, tier = _inputs(character)
    cache = tmp_path.parent / "model_cache"  # shared by this module's tests
    kwargs = dict(
        preset="p", tier=1,
        render={"steps": 2, "width": 64, "height": 64, "device": "cpu", "lora": {"weight": 1.0}},
        generation={"model": {"architecture": "sd15"}, "guidance_scale": 5.0,
                    "sampler": "dpmpp_2m", "sigmas": "default"},
        training_backend="tiny", backend_options={"weights_seed": 0}, faces_cfg={"backend": "dlib"},
        prompt_adherence=TINY_CLIP, negative_prompt="blurry", model_cache=str(cache),
        log=lambda _: None,
    )  # fmt: skip
    out = tmp_path / "checkpoints" / "p" / "tier_1"
    table = evaluate_lora_checkpoints(tiny_lora, suite, faces, tier, out, **kwargs)
    rows = table.to_pylist()
    assert table.schema == CHECKPOINT_SCORES
    assert [(r["checkpoint"], r["prompt_id"]) for r in rows] == [
        ("epoch-0001", "close_up_01"), ("epoch-0001", "full_body_01"),
        ("epoch-0002", "close_up_01"), ("epoch-0002", "full_body_01"),
    ]  # fmt: skip
    assert [r["final"] for r in rows] == [False, False, True, True]
    for r in rows:
        image = out / r["file"]
        assert image.is_file() and (r["width"], r["height"]) == (64, 64)
        assert 0 <= r["adherence"] <= 1 and 0 <= r["quality_score"] <= 1
        # random weights draw no faces: counted, with the reason, not a crash
        assert (r["n_faces"], r["identity"], r["identity_reason"]) == (0, None, "no_face")
    # same prompt and seed in both columns, so only the weights differ, and they do
    assert rows[0]["seed"] == rows[2]["seed"] and rows[0]["prompt"] == rows[2]["prompt"]
    assert rows[0]["sha256"] != rows[2]["sha256"]
    assert read_scores(out / "scores.parquet").to_pylist() == rows
    record = json.loads((out / "run.json").read_text())
    assert record["render"]["negative_prompt"] == "blurry"
    assert record["render"]["width"] == 64 and "loras" not in record["render"]
    assert record["references"]["n_descriptors"] == 2
    assert record["adherence_model"].startswith("open_clip:charfolio-tiny-vit")

    # deterministic: a second run writes the same pixels
    again = evaluate_lora_checkpoints(tiny_lora, suite, faces, tier, tmp_path / "again", **kwargs)
    assert again.column("sha256").to_pylist() == table.column("sha256").to_pylist()


def test_scripted_renders_score_the_trained_face_higher(
    character: Path, tmp_path: Path, detector
) -> None:
    suite, faces, tier = _inputs(character)
    summary = make_lora_dir(tmp_path / "lora", [1.0, 2.0, 3.0])
    # epoch 1 draws noise, epoch 2 another person, epoch 3 the tier's person
    renderer = FakeRenderer(
        {"epoch-0002.safetensors": lfw_face(3), "epoch-0003.safetensors": astronaut(scale=0.8)}
    )
    out = tmp_path / "eval"
    table = evaluate_lora(
        summary, suite, faces, tier, out, preset="p", tier=1, renderer=renderer,
        detector=detector, text_scorer=FakeTextScorer(), log=lambda _: None,
    )  # fmt: skip
    by_checkpoint = {}
    for row in table.to_pylist():
        by_checkpoint.setdefault(row["checkpoint"], []).append(row)
    assert [r["n_faces"] for r in by_checkpoint["epoch-0001"]] == [0, 0]
    other = by_checkpoint["epoch-0002"][0]["identity"]
    own = by_checkpoint["epoch-0003"][0]["identity"]
    assert own > other
    # every checkpoint got every prompt at the prompt's seed
    seeds = {(name, seed) for name, _, seed in renderer.calls}
    assert len(seeds) == 6 and {s for _, s in seeds} == {3, 2003}
    assert sorted(p.name for p in (out / "images").iterdir()) == [
        "epoch-0001", "epoch-0002", "epoch-0003",
    ]  # fmt: skip
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left behind
    assert pq.read_table(out / "scores.parquet").num_rows == 6


def test_a_missing_checkpoint_fails_before_rendering(character: Path, tmp_path: Path) -> None:
    suite, faces, tier = _inputs(character)
    summary = make_lora_dir(tmp_path / "lora", [1.0, 2.0])
    (tmp_path / "lora" / "checkpoints" / "epoch-0002.safetensors").unlink()
    renderer = FakeRenderer()
    with pytest.raises(FileNotFoundError, match=r"epoch-0002\.safetensors, which does not exist"):
        evaluate_lora(
            summary, suite, faces, tier, tmp_path / "eval", preset="p", tier=1,
            renderer=renderer, detector=None, text_scorer=FakeTextScorer(),
        )  # fmt: skip
    assert renderer.calls == [] and not (tmp_path / "eval").exists()
