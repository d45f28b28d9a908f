"""LoRA presets, their validation, and the pure pieces of training (no model needed)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from charfolio.lora import training_state
from charfolio.lora.data import (
    Example,
    TierRow,
    epoch_batches,
    fit_to_bucket,
    make_buckets,
    nearest_bucket,
    sampling_probabilities,
)
from charfolio.lora.export import KohyaExportError, kohya_state_dict, sgm_module_name
from charfolio.lora.preset_fields import TARGET_MODULE_SETS
from charfolio.lora.presets import (
    BUILTIN_PRESETS,
    DataMix,
    PresetError,
    resolve_preset,
    validate_preset,
)


@pytest.mark.parametrize(
    ("name", "epochs", "lr"),
    [
        ("EXP_FACIAL_UNET_FOCUS_LOW", 5, 1.0e-4),
        ("EXP_FACIAL_UNET_FOCUS_MID", 4, 1.2e-4),
        ("EXP_FACIAL_UNET_FOCUS_HIGH", 3, 1.4e-4),
    ],
)
def test_methodology_presets(name, epochs, lr):
    preset = validate_preset(resolve_preset(name))
    assert (preset.epochs, preset.learning_rate) == (epochs, lr)
    assert (preset.rank, preset.alpha, preset.batch_size) == (512, 512.0, 1)
    assert preset.gradient_accumulation_steps == 8
    assert preset.target_modules == TARGET_MODULE_SETS["ATTN_EXT_FF"]
    assert "ff.net.0.proj" in preset.target_modules and "attn2.to_out.0" in preset.target_modules
    assert not preset.train_text_encoder
    assert (preset.optimizer, preset.lr_scheduler) == ("adamw8bit", "cosine_with_restarts")
    assert [p.name for p in preset.phases] == ["main"] and preset.total_epochs == epochs


def test_user_presets_extend_builtin_ones():
    user = {
        "mine": {"extends": "EXP_FACIAL_UNET_FOCUS_MID", "rank": 64, "validation": {"steps": 5}},
        "mine_regularized": {"extends": "mine", "min_snr_gamma": 5.0, "noise_offset": 0.05},
    }
    preset = validate_preset(resolve_preset("mine_regularized", user))
    assert preset.name == "mine_regularized"
    assert (preset.rank, preset.epochs, preset.learning_rate) == (64, 4, 1.2e-4)
    assert (preset.min_snr_gamma, preset.noise_offset) == (5.0, 0.05)
    assert preset.validation.steps == 5 and preset.validation.seeds == (0,)
    # A mapping with `extends` is resolved by validate_preset itself.
    assert validate_preset({"extends": "mine", "epochs": 1}, user).rank == 64


def test_phases_inherit_top_level_values():
    preset = validate_preset(
        {
            "epochs": 6,
            "learning_rate": 1.0e-4,
            "phases": [
                {"name": "foundation", "data_mix": {"column": "shot"}},
                {"name": "refine", "learning_rate": 5.0e-5,
                 "data_mix": {"column": "shot", "shares": {"full": 0.35, "close": 0.2}}},
                {"name": "polish", "epochs": 4, "learning_rate": 2.0e-5},
            ],
        }
    )  # fmt: skip
    foundation, refine, polish = preset.phases
    assert (foundation.epochs, foundation.learning_rate) == (6, 1.0e-4)
    assert foundation.data_mix == DataMix("shot", None, 0.0)
    assert refine.data_mix is not None and refine.data_mix.shares == {"full": 0.35, "close": 0.2}
    assert (polish.epochs, polish.data_mix) == (4, None)
    assert preset.total_epochs == 16


@pytest.mark.parametrize(
    ("preset", "message"),
    [
        ({"learning_rte": 1.0e-4}, "unknown key 'learning_rte'; did you mean 'learning_rate'"),
        ({"learning_rate": "1e-4"}, "'learning_rate' must be a number, got '1e-4' (YAML reads"),
        ({"learning_rate": -1.0}, "'learning_rate' must be > 0"),
        ({"rank": 4.5}, "'rank' must be an integer"),
        ({"rank": True}, "'rank' must be an integer"),
        ({"optimizer": "sgd"}, "'optimizer' is 'sgd'; use one of adamw8bit, adamw"),
        ({"lr_scheduler": "cosine_restarts"}, "'lr_scheduler' is 'cosine_restarts'"),
        ({"mixed_precision": "fp8"}, "'mixed_precision' is 'fp8'"),
        ({"target_modules": "ATTN_FF"}, "'target_modules' is 'ATTN_FF'; use a set name"),
        ({"resolution": 500}, "'resolution' must be >= 64 and a multiple of 8"),
        ({"validation": {"steps": 0}}, "preset 'custom'.validation: key 'steps' must be > 0"),
        ({"validation": {"seed": 1}}, "unknown key 'seed'; did you mean 'seeds'"),
        ({"phases": [{"epochs": 2}]}, "phases[0]: key 'name' must be set"),
        ({"phases": [{"name": "a"}, {"name": "a"}]}, "phase names must be unique"),
        ({"phases": [{"name": "a", "data_mix": {"column": "shot", "shares": {"x": -1}}}]},
         "share of 'x' must be a number >= 0"),
        ({"extends": "NOPE"}, "no preset named 'NOPE'"),
    ],
)  # fmt: skip
def test_bad_preset_fails_naming_the_key(preset, message):
    with pytest.raises(PresetError) as error:
        validate_preset(preset)
    assert message in str(error.value)


def test_extends_loop_is_reported():
    with pytest.raises(PresetError, match="'extends' loops: a -> b -> a"):
        resolve_preset("a", {"a": {"extends": "b"}, "b": {"extends": "a"}})


def test_builtin_presets_are_data():
    assert set(BUILTIN_PRESETS) == {
        "EXP_FACIAL_UNET_FOCUS_LOW", "EXP_FACIAL_UNET_FOCUS_MID", "EXP_FACIAL_UNET_FOCUS_HIGH",
    }  # fmt: skip


def test_buckets_cover_aspect_ratios_within_the_pixel_budget():
    buckets = make_buckets(512, 64, 2.0)
    assert (512, 512) in buckets and (384, 640) in buckets and (640, 384) in buckets
    assert all(w * h <= 512 * 512 and max(w / h, h / w) <= 2.0 for w, h in buckets)
    assert nearest_bucket(1200, 800, buckets) == (640, 384)
    assert nearest_bucket(800, 800, buckets) == (512, 512)
    assert make_buckets(512, 64, 2.0, enabled=False) == ((512, 512),)
    with pytest.raises(ValueError, match="multiple of bucket_step"):
        make_buckets(500, 64, 2.0)


def test_fit_to_bucket_centre_crops_and_reports_the_crop():
    pixels = np.zeros((100, 200, 3), dtype=np.uint8)
    cropped, (top, left) = fit_to_bucket(pixels, (64, 64))
    assert cropped.shape == (64, 64, 3) and (top, left) == (0, 32)


def _examples(groups: list[str], buckets: list[tuple[int, int]] | None = None) -> list[Example]:
    buckets = buckets or [(64, 64)] * len(groups)
    return [
        Example(TierRow(f"img{i}.png", Path(f"img{i}.png"), "c", "train", {"shot": g}), b, (64, 64),
                (0, 0))
        for i, (g, b) in enumerate(zip(groups, buckets, strict=True))
    ]  # fmt: skip


def test_epoch_order_is_a_function_of_seed_phase_and_epoch():
    examples = _examples(["a"] * 5, [(64, 64)] * 3 + [(80, 48)] * 2)
    first = epoch_batches(examples, 2, (42, 0, 0))
    assert first == epoch_batches(examples, 2, (42, 0, 0))
    assert first != epoch_batches(examples, 2, (42, 0, 1))
    assert sorted(i for batch in first for i in batch) == list(range(5))
    for batch in first:  # a batch never mixes buckets
        assert len({examples[i].bucket for i in batch}) == 1


def test_data_mix_shares_decide_the_draws():
    examples = _examples(["close"] * 6 + ["full"] * 2)
    rows = [e.row for e in examples]
    balanced = sampling_probabilities(rows, DataMix("shot", None, 0.0))
    assert balanced[:6].sum() == pytest.approx(0.5) and balanced[6:].sum() == pytest.approx(0.5)
    only_full = sampling_probabilities(rows, DataMix("shot", {"full": 1.0}, 0.0))
    batches = epoch_batches(examples, 1, (0, 1, 0), only_full)
    assert len(batches) == 8 and {i for (i,) in batches} <= {6, 7}
    with pytest.raises(ValueError, match="column 'mode' is not in the tier manifest"):
        sampling_probabilities(rows, DataMix("mode", None, 0.0))
    with pytest.raises(ValueError, match="has share 0"):
        sampling_probabilities(rows, DataMix("shot", {"wide": 1.0}, 0.0))


def test_training_state_round_trips_without_pickle(tmp_path):
    random.seed(3)
    np.random.seed(3)
    torch.manual_seed(3)
    rng = training_state.capture_rng()
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    optimizer = {
        "state": {0: {"step": 3, "exp_avg": torch.ones(2), "q": {"absmax": torch.zeros(1)}}},
        "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.999), "params": [0]}],
    }
    state = training_state.SavedState(
        position=training_state.Position(1, 2, 4, 40, 7),
        fingerprint="abc",
        lora={"unet/a.lora_A.default.weight": torch.arange(6.0).reshape(2, 3)},
        optimizer=optimizer,
        scheduler={"last_epoch": 5, "lr_lambdas": [None]},
        rng=rng,
    )
    training_state.save_state(tmp_path, state)
    training_state.save_state(tmp_path, state)  # the same position again replaces it
    loaded = training_state.load_state(tmp_path)
    assert loaded is not None and loaded.position == state.position
    assert torch.equal(loaded.lora["unet/a.lora_A.default.weight"], torch.arange(6.0).reshape(2, 3))
    assert loaded.optimizer["state"][0]["step"] == 3  # int keys and values survive JSON
    assert loaded.optimizer["param_groups"][0]["betas"] == (0.9, 0.999)
    assert torch.equal(loaded.optimizer["state"][0]["q"]["absmax"], torch.zeros(1))
    training_state.restore_rng(loaded.rng)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected
    assert not list(tmp_path.glob("**/*.pt")) and not list(tmp_path.glob("**/*.pkl"))


def test_a_kill_while_saving_the_same_position_again_keeps_a_loadable_state(tmp_path, monkeypatch):
    state = training_state.SavedState(
        position=training_state.Position(0, 1, 0, 8, 1), fingerprint="abc",
        lora={"unet/a.lora_A.default.weight": torch.ones(2, 3)},
        optimizer={}, scheduler={}, rng=training_state.capture_rng(),
    )  # fmt: skip
    training_state.save_state(tmp_path, state)

    def killed(source, target):  # the process dies as the new step folder moves in
        raise SystemExit("SIGKILL")

    monkeypatch.setattr(training_state.os, "replace", killed)
    with pytest.raises(SystemExit):
        training_state.save_state(tmp_path, state)  # a rerun saves the position latest.json names
    monkeypatch.undo()
    loaded = training_state.load_state(tmp_path)  # what the next (resumed) run reads
    assert loaded is not None and loaded.position == state.position
    assert torch.equal(loaded.lora["unet/a.lora_A.default.weight"], torch.ones(2, 3))


def test_sdxl_kohya_names_follow_the_sgm_unet():
    assert sgm_module_name("down_blocks.1.attentions.0.proj_in", 2) == "input_blocks.4.1.proj_in"
    assert sgm_module_name("down_blocks.2.attentions.1.transformer_blocks.3.attn1.to_q", 2) == (
        "input_blocks.8.1.transformer_blocks.3.attn1.to_q"
    )
    assert sgm_module_name("mid_block.attentions.0.proj_out", 2) == "middle_block.1.proj_out"
    assert sgm_module_name("mid_block.resnets.1.conv1", 2) == "middle_block.2.in_layers.2"
    assert sgm_module_name("up_blocks.0.attentions.2.ff.net.2", 2) == "output_blocks.2.1.ff.net.2"
    assert sgm_module_name("up_blocks.1.resnets.0.time_emb_proj", 2) == (
        "output_blocks.3.0.emb_layers.1"
    )
    with pytest.raises(KohyaExportError, match="downsamplers"):
        sgm_module_name("down_blocks.0.downsamplers.0.conv", 2)


def test_kohya_keys_and_alpha():
    attn = "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_out.0"
    q_proj = "text_model.encoder.layers.0.self_attn.q_proj"
    layers = {
        "unet": {
            f"{attn}.lora_A.weight": torch.ones(4, 32),
            f"{attn}.lora_B.weight": torch.zeros(32, 4),
        },
        "text_encoder": {
            f"{q_proj}.lora_A.weight": torch.ones(4, 32),
            f"{q_proj}.lora_B.weight": torch.ones(32, 4),
        },
    }
    keys = kohya_state_dict(layers, "sd15", 2.0, 2)
    stem = "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_out_0"
    assert keys[f"{stem}.lora_down.weight"].shape == (4, 32)
    assert keys[f"{stem}.lora_up.weight"].shape == (32, 4)
    assert keys[f"{stem}.alpha"].item() == 2.0
    assert "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight" in keys


def test_an_empty_tier_is_a_clear_error(tmp_path: Path):
    from charfolio.core import tables
    from charfolio.lora.data import read_tier

    tables.write_table(tmp_path / "manifest.parquet", [], tables.TIER_MANIFEST)
    with pytest.raises(ValueError, match="the tier is empty, so there is nothing to train on"):
        read_tier(tmp_path)
