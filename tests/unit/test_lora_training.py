"""LoRA training on the tiny SD1.5 model (CPU, offline): outputs, fit, exports, resume, phases."""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from PIL import Image

from charfolio.lora import NonFiniteLossError, PresetError, training_state

from .lora_support import (
    adapter_tensors,
    fresh_pipeline,
    make_fixed_batch_tier,
    make_tier,
    run,
    scalings,
    tiny_preset,
)

SHOTS = ["close", "close", "close", "full", "full", "close", "close", "full"]
# 5 square train images (3 batches of <= 2) + 1 wide one (its own bucket) = 4 batches, and
# accumulation 2: 2 optimizer steps per epoch.
SIZES = [(64, 64)] * 5 + [(96, 64)] + [(64, 64)] * 2


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def tier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tier(tmp_path_factory.mktemp("tier") / "tier_8", sizes=SIZES, shots=SHOTS)


@pytest.fixture(scope="module")
def finished(
    tier: Path, cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict]:
    """One uninterrupted 2-epoch run (AdamW8bit, the methodology's optimizer)."""
    out = tmp_path_factory.mktemp("runs") / "lora" / "tiny"
    return out, run(tier, out, cache, tiny_preset())


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_run_writes_every_output(finished, tier):
    out, summary = finished
    assert summary["complete"] and summary["epochs"] == 2 and summary["global_steps"] == 4
    for name in ("lora_diffusers.safetensors", "lora_kohya.safetensors", "loss_curve.png",
                 "training_config.json", "summary.json", "worst_images.json"):  # fmt: skip
        assert (out / name).is_file(), name
    assert [p.name for p in sorted((out / "checkpoints").iterdir())] == [
        "epoch-0001.safetensors", "epoch-0002.safetensors",
    ]  # fmt: skip
    steps = read_csv(out / "loss_log.csv")
    assert [int(r["step"]) for r in steps] == [1, 2, 3, 4]
    assert [int(r["epoch"]) for r in steps] == [1, 1, 2, 2]
    assert all(float(r["lr"]) == pytest.approx(1.0e-3) for r in steps)
    epochs = read_csv(out / "epochs.csv")
    assert [r["epoch"] for r in epochs] == ["0", "1", "2"]  # epoch 0: the base model
    assert all(float(r["val_loss"]) > 0 for r in epochs)
    samples = sorted((out / "samples" / "epoch-0002").glob("*.png"))
    assert len(samples) == 1 and max(Image.open(samples[0]).size) <= 256
    scan = read_csv(out / "image_losses.csv")
    assert len(scan) == 8 and {r["split"] for r in scan} == {"train", "val"}
    losses = [float(r["loss"]) for r in scan]
    assert losses == sorted(losses, reverse=True)  # worst first
    worst = json.loads((out / "worst_images.json").read_text())["worst"]
    assert [w["file"] for w in worst] == [r["file"] for r in scan if r["split"] == "train"]


def test_training_config_has_everything_to_reproduce(finished, tier):
    out, _ = finished
    config = json.loads((out / "training_config.json").read_text())
    assert config["preset"]["learning_rate"] == 1.0e-3  # as given
    assert config["resolved"]["optimizer"] == "adamw8bit"  # with defaults filled
    assert config["resolved"]["target_modules"][-2:] == ["ff.net.0.proj", "ff.net.2"]
    manifest_sha = hashlib.sha256((tier / "manifest.parquet").read_bytes()).hexdigest()
    assert config["data"]["manifest_sha256"] == manifest_sha
    assert config["data"]["train_buckets"] == {"64x64": 5, "80x48": 1}
    assert config["model"]["backend"] == "tiny" and config["model"]["architecture"] == "sd15"
    assert Path(config["model"]["path"]).is_dir()
    assert config["derived"]["effective_batch_size"] == 4 and config["derived"]["total_steps"] == 4
    assert config["seeds"]["seed"] == 42 and config["versions"]["diffusers"]


def test_loss_falls_when_fitting_a_fixed_batch(cache, tmp_path):
    tier = make_fixed_batch_tier(tmp_path / "tier")
    preset = tiny_preset(
        epochs=10, learning_rate=1.0e-2, alpha=4, optimizer="adamw",
        gradient_accumulation_steps=1, validation={"images": False},
    )  # fmt: skip
    summary = run(tier, tmp_path / "out", cache, preset)
    # The val images are copies of the two train images, measured at fixed noise.
    fit = [summary["val_loss"][str(e)] for e in range(11)]
    assert all(b < a for a, b in itertools.pairwise(fit[1:])), fit  # from the first step on
    assert fit[-1] < fit[0] - 0.01, fit


def test_saved_weights_load_into_a_fresh_pipeline_and_change_its_output(finished, cache):
    out, _ = finished
    pipe = fresh_pipeline(cache)

    def render() -> np.ndarray:
        generator = torch.Generator().manual_seed(0)
        prompt = "photo of zqx person"
        return pipe(prompt, num_inference_steps=2, width=64, height=64, generator=generator,
                    output_type="np").images[0]  # fmt: skip

    before = render()
    pipe.load_lora_weights(out, weight_name="lora_diffusers.safetensors", adapter_name="trained")
    assert np.abs(render() - before).max() > 1e-3
    assert scalings(pipe.unet, "trained") == {0.5}  # alpha 2 / rank 4, from the file's metadata
    state = training_state.load_state(out / "state")
    assert state is not None
    trained = {
        k.removeprefix("unet/").replace(".default.", "."): v
        for k, v in state.lora.items()
    }  # fmt: skip
    loaded = adapter_tensors(pipe.unet, "trained")
    assert set(loaded) == set(trained)
    assert all(torch.equal(loaded[k], trained[k]) for k in trained)


def test_kohya_file_converts_back_to_the_same_tensors(finished, cache):
    out, _ = finished
    kohya = safetensors.torch.load_file(out / "lora_kohya.safetensors")
    assert all(k.startswith("lora_unet_down_blocks_") or k.startswith("lora_unet_up_blocks_")
               or k.startswith("lora_unet_mid_block_") for k in kohya)  # fmt: skip
    assert {k.rsplit(".", 2)[-2] if k.endswith(".weight") else "alpha" for k in kohya} == {
        "lora_down", "lora_up", "alpha",
    }  # fmt: skip
    pipe = fresh_pipeline(cache)
    pipe.load_lora_weights(out, weight_name="lora_diffusers.safetensors", adapter_name="diffusers")
    # diffusers detects the kohya keys and converts them (its A1111/kohya loader path).
    pipe.load_lora_weights(out, weight_name="lora_kohya.safetensors", adapter_name="kohya")
    reference = adapter_tensors(pipe.unet, "diffusers")
    converted = adapter_tensors(pipe.unet, "kohya")
    assert set(converted) == set(reference) and len(reference) == 2 * len(kohya) // 3
    assert all(torch.equal(converted[k], reference[k]) for k in reference)
    assert scalings(pipe.unet, "kohya") == scalings(pipe.unet, "diffusers") == {0.5}


def final_weights(out: Path) -> dict[str, torch.Tensor]:
    return safetensors.torch.load_file(out / "lora_diffusers.safetensors")


@pytest.mark.parametrize(
    ("stop", "extra"),
    [({"stop_after_epoch": 1}, {}), ({"stop_after_step": 1}, {"save_every_steps": 1})],
    ids=["killed-after-epoch-1", "killed-mid-epoch"],
)
def test_resume_after_a_kill_ends_with_the_same_weights(
    finished, tier, cache, tmp_path, stop, extra
):
    reference_out, reference = finished
    out = tmp_path / "out"
    preset = tiny_preset(**extra)
    stopped = run(tier, out, cache, preset, **stop)
    assert not stopped["complete"] and not (out / "lora_diffusers.safetensors").exists()
    resumed = run(tier, out, cache, preset)
    assert resumed["complete"] and resumed["resumed"]
    assert resumed["global_steps"] == reference["global_steps"]
    expected, actual = final_weights(reference_out), final_weights(out)
    assert set(actual) == set(expected)
    # Every draw depends only on its position and the optimizer state is restored exactly:
    # on CPU the weights match bit for bit (the stated tolerance, 1e-6, allows GPU kernels).
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], rtol=0, atol=1e-6)
    assert read_csv(out / "loss_log.csv") == read_csv(reference_out / "loss_log.csv")


def test_resume_after_moving_the_project_folder_is_recognised(
    finished, tier, cache, tmp_path, monkeypatch
):
    """A project moved (or cloned elsewhere) between a kill and the rerun continues its run.

    The paths are absolute and inside the project, the harder case: the fingerprint must not
    depend on where the project folder is.
    """
    before, after = tmp_path / "before", tmp_path / "after"
    shutil.copytree(tier, before / "tier")
    shutil.copytree(cache, before / "models")  # the tiny model, built by `finished`
    monkeypatch.chdir(before)
    stopped = run(before / "tier", before / "out", before / "models", tiny_preset(),
                  stop_after_epoch=1)  # fmt: skip
    assert not stopped["complete"]
    before.rename(after)
    monkeypatch.chdir(after)
    lines: list[str] = []
    resumed = run(after / "tier", after / "out", after / "models", tiny_preset(),
                  log=lines.append)  # fmt: skip
    assert not any("holds the state of another configuration" in line for line in lines)
    assert resumed["complete"] and resumed["resumed"]
    config = json.loads((after / "out" / "training_config.json").read_text())
    assert config["model"]["path"] == "models/tiny/tiny-sd15-seed0"
    assert config["data"]["tier_dir"] == "tier"
    expected, actual = final_weights(finished[0]), final_weights(after / "out")
    assert all(torch.equal(actual[k], expected[k]) for k in expected)


def test_a_changed_preset_trains_from_scratch(finished, tier, cache, tmp_path):
    """Snakemake reruns the rule when a preset changes; the old state must not be continued."""
    out = tmp_path / "out"
    run(tier, out, cache, tiny_preset(epochs=3, validation={"images": False}))
    assert (out / "checkpoints" / "epoch-0003.safetensors").is_file()
    lines: list[str] = []
    summary = run(tier, out, cache, tiny_preset(), log=lines.append)
    assert any("holds the state of another configuration" in line for line in lines)
    assert not summary["resumed"] and summary["global_steps"] == 4
    assert [Path(p).name for p in summary["checkpoints"]] == [
        "epoch-0001.safetensors", "epoch-0002.safetensors",
    ]  # fmt: skip
    expected, actual = final_weights(finished[0]), final_weights(out)
    assert all(torch.equal(actual[k], expected[k]) for k in expected)
    assert len(read_csv(out / "loss_log.csv")) == 4


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tier, cache, tmp_path):
    out = tmp_path / "out"
    preset = tiny_preset(
        optimizer="adamw",
        validation={"images": False},
        phases=[
            {"name": "ok", "epochs": 1},
            {"name": "diverge", "epochs": 1, "learning_rate": 1e30},
        ],
    )
    with pytest.raises(NonFiniteLossError) as error:
        run(tier, out, cache, preset)
    message = str(error.value)
    assert "at step 4 (epoch 2, phase 'diverge') on images/img_" in message
    assert "lower learning_rate (now 1e+30)" in message and "mixed_precision: no" in message
    state = training_state.load_state(out / "state")
    assert state is not None and state.position.global_epoch == 1
    assert all(torch.isfinite(t).all() for t in state.lora.values())
    assert (out / "checkpoints" / "epoch-0001.safetensors").is_file()
    assert not (out / "summary.json").exists() and not (out / "lora_diffusers.safetensors").exists()


def test_multi_stage_runs_phases_from_the_previous_weights(tier, cache, tmp_path):
    out = tmp_path / "out"
    lines: list[str] = []
    preset = tiny_preset(
        optimizer="adamw",
        validation={"images": False},
        phases=[
            {"name": "foundation", "epochs": 1, "data_mix": {"column": "shot"}},
            # A negligible learning rate: the final weights must be phase 1's, not a fresh start.
            {"name": "refine", "epochs": 1, "learning_rate": 1.0e-12,
             "data_mix": {"column": "shot", "shares": {"full": 1.0}}},
        ],
    )  # fmt: skip
    summary = run(tier, out, cache, preset, log=lines.append)
    assert summary["complete"] and summary["epochs"] == 2
    assert any("phase foundation: sampling by shot (close: 50%, full: 50%)" in x for x in lines)
    assert any("phase refine: sampling by shot (close: 0%, full: 100%)" in x for x in lines)
    epochs = read_csv(out / "epochs.csv")
    assert [r["phase"] for r in epochs] == ["foundation", "foundation", "refine"]
    rates = {r["phase"]: float(r["lr"]) for r in read_csv(out / "loss_log.csv")}
    assert rates == {"foundation": pytest.approx(1.0e-3), "refine": pytest.approx(1.0e-12)}
    phase1 = safetensors.torch.load_file(out / "checkpoints" / "epoch-0001.safetensors")
    final = final_weights(out)
    assert any(k.endswith("lora_B.weight") and t.abs().max() > 0 for k, t in phase1.items())
    for key in phase1:
        torch.testing.assert_close(final[key], phase1[key], rtol=0, atol=1e-8)


def test_bad_preset_or_target_fails_with_the_key(tier, cache, tmp_path):
    with pytest.raises(PresetError, match="key 'rank' must be an integer, got 'big'"):
        run(tier, tmp_path / "a", cache, tiny_preset(rank="big"))
    with pytest.raises(PresetError, match=r"target modules \['attn9.to_k'\] match no layer"):
        run(tier, tmp_path / "b", cache, tiny_preset(target_modules=["attn1.to_q", "attn9.to_k"]))


def test_exports_write_their_metadata_in_one_order(finished):
    """The same weights give the same bytes: safetensors writes metadata in hash order, and
    PEFT's target_modules is a set."""
    out, _ = finished
    files = [out / "lora_diffusers.safetensors", out / "lora_kohya.safetensors",
             *sorted((out / "checkpoints").iterdir())]  # fmt: skip
    for path in files:
        data = path.read_bytes()
        (size,) = struct.unpack("<Q", data[:8])
        metadata = json.loads(data[8 : 8 + size])["__metadata__"]
        assert list(metadata) == sorted(metadata), path.name
        if "lora_adapter_metadata" in metadata:
            targets = json.loads(metadata["lora_adapter_metadata"])["unet.target_modules"]
            assert targets == sorted(targets), path.name
