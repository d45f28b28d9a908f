"""Storyboards on the real tiny renderer (LoRA, IP-Adapter, ControlNet), and the story config."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from charfolio.core.config import ConfigError, validate
from charfolio.demo.tiny import write_tiny_lora
from charfolio.story import check_story_config, story_entry
from charfolio.story.frames import Frame, StoryFrames, write_frames
from charfolio.story.run import run_storyboard
from charfolio.story.settings import storyboard_inputs, storyboard_params

CHARACTER = {"name": "demo", "token": "nova", "class_word": "woman", "negative_prompt": "blurry"}
STORY_TEXT = "Nova wakes up. She walks to the window. She smiles at the Earth."


def config(tmp_path: Path, **story) -> dict:
    return validate(
        {
            "characters": ["demo"],
            "model_cache": str(tmp_path / "models"),
            "generation": {"backend": "tiny", "model": {"architecture": "sd15"}, "steps": 2,
                           "width": 64, "height": 64, "sigmas": "default"},
            "training": {"backend": "tiny", "tiers": [4], "presets": ["EXP_FACIAL_UNET_FOCUS_HIGH"]},
            "prompt_adherence": {"model": "charfolio-tiny-vit", "pretrained": None},
            "render": {"loras_file": str(tmp_path / "loras.yaml")},
            "story": {"stories": {"walk": {"text": STORY_TEXT}}, "max_retries": 1, **story},
        },
        "config",
        "test config",
    )  # fmt: skip


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A trained-LoRA layout (tiny LoRA + training_config.json) and a 6-frame story."""
    root = tmp_path_factory.mktemp("story")
    tier = root / "results" / "demo" / "lora" / "EXP_FACIAL_UNET_FOCUS_HIGH" / "tier_4"
    write_tiny_lora(tier / "lora_diffusers.safetensors", seed=3)
    (tier / "training_config.json").write_text(json.dumps({"model": {"architecture": "sd15"}}))
    write_tiny_lora(root / "grain.safetensors", seed=4, scale=0.5)
    frames = tuple(Frame(i, f"nova in scene {i}, walking") for i in range(1, 7))
    write_frames(
        root / "results/demo/story/walk/frames.json",
        StoryFrames("walk", STORY_TEXT, frames, "deterministic", "deterministic"),
    )
    return root


def run(workspace: Path, mode: str, out: str, cfg: dict | None = None) -> dict:
    cfg = cfg or config(workspace)
    lora = storyboard_inputs(cfg, "demo", mode).get("lora")
    return run_storyboard(
        workspace / "results/demo/story/walk/frames.json",
        workspace / out,
        settings=storyboard_params(cfg, mode),
        character=CHARACTER,
        prompt_adherence=cfg["prompt_adherence"],
        backend=cfg["training"]["backend"],
        backend_options=cfg["training"]["tiny"],
        model_cache=cfg["model_cache"],
        lora_file=None if lora is None else workspace / lora,
        results_dir=workspace / "results",
        log=lambda _: None,
    )


def pixels(folder: Path, frame: int) -> np.ndarray:
    return np.asarray(Image.open(folder / f"frame_{frame:02d}.png"), dtype=np.int16)


@pytest.fixture(scope="module")
def simple(workspace: Path) -> dict:
    return run(workspace, "simple", "simple")


def test_simple_mode_renders_with_the_character_lora(workspace, simple):
    out = workspace / "simple"
    assert simple["n_frames"] == 6 and simple["mode"] == "simple"
    assert [lora["name"] for lora in simple["loras"]] == ["demo/EXP_FACIAL_UNET_FOCUS_HIGH/tier_4"]
    assert simple["renderer"]["backend"] == "tiny" and simple["renderer"]["fused"] is True
    assert simple["renderer"]["negative_prompt"] == "blurry" and simple["renderer"]["width"] == 64
    meta = json.loads((out / "frame_02.json").read_text())
    assert meta["prompt"] == "nova woman, nova in scene 2, walking"
    assert meta["negative_prompt"] == "blurry"
    # random weights score about 0.5 < 0.70: every frame retries once, the better one kept
    assert len(meta["attempts"]) == 2 and [a["seed"] for a in meta["attempts"]] == [7200, 7201]
    best = max(meta["attempts"], key=lambda a: a["score"])
    assert meta["seed"] == best["seed"] and meta["score"] == best["score"]
    assert Image.open(out / "frame_01.png").size == (64, 64)
    assert (out / "contact_sheet.png").is_file()


def test_same_config_same_pixels(workspace, simple):
    again = run(workspace, "simple", "simple_again")
    assert [f["sha256"] for f in again["frames"]] == [f["sha256"] for f in simple["frames"]]


def test_baseline_uses_the_same_seeds_without_the_lora(workspace, simple):
    baseline = run(workspace, "baseline", "baseline")
    assert baseline["loras"] == [] and baseline["renderer"]["loras"] == []
    first = json.loads((workspace / "baseline" / "frame_01.json").read_text())
    assert first["attempts"][0]["seed"] == 7100 and first["prompt"].startswith("nova woman, ")
    assert np.abs(pixels(workspace / "baseline", 1) - pixels(workspace / "simple", 1)).mean() > 1


def test_reference_guided_on_tiny_ip_adapter_and_controlnet(workspace, simple):
    cfg = config(workspace, controlnet={"type": "canny"})
    summary = run(workspace, "reference_guided", "guided", cfg)
    out = workspace / "guided"
    assert summary["renderer"]["ip_adapter"]["tiny"] is True
    assert summary["renderer"]["controlnet"]["type"] == "canny"
    assert summary["control_map"] == "control_map.png" and (out / "control_map.png").is_file()
    metas = [json.loads((out / f"frame_{i:02d}.json").read_text()) for i in range(1, 7)]
    assert metas[0]["reference"] is None and metas[0]["control"] is None
    assert all(m["reference"] == "frame_01.png" for m in metas[1:])
    assert all(m["control"] == "control_map.png" for m in metas[1:])
    # frame 1 has no reference: the same pixels as simple mode's frame 1 at the same seed
    # (IP-Adapter at scale 0, no ControlNet), so the same attempts and scores
    simple_1 = json.loads((workspace / "simple" / "frame_01.json").read_text())
    assert metas[0]["attempts"] == simple_1["attempts"]
    assert np.array_equal(pixels(out, 1), pixels(workspace / "simple", 1))
    # later frames follow the reference and the control map: not simple mode's pixels
    assert np.abs(pixels(out, 3) - pixels(workspace / "simple", 3)).mean() > 1


def test_extra_loras_compose_and_add_their_trigger_words(workspace):
    (workspace / "loras.yaml").write_text(
        f"- name: grain\n  path: {workspace / 'grain.safetensors'}\n"
        "  trigger_words: [film grain]\n  base_model: sd15\n"
    )
    cfg = config(workspace)
    cfg["render"]["extra_loras"] = [{"name": "grain", "weight": -0.5}]
    cfg["story"]["max_retries"] = 0
    summary = run(workspace, "simple", "extra", cfg)
    assert [(lora["name"], lora["weight"]) for lora in summary["loras"]] == [
        ("demo/EXP_FACIAL_UNET_FOCUS_HIGH/tier_4", 1.0),
        ("grain", -0.5),
    ]
    meta = json.loads((workspace / "extra" / "frame_01.json").read_text())
    assert meta["prompt"].startswith("nova woman, ") and meta["prompt"].endswith(", film grain")


# --- the story config -----------------------------------------------------------------


def test_reference_guided_without_ip_adapter_fails_naming_the_key(tmp_path):
    cfg = config(tmp_path, mode="reference_guided")
    check_story_config(cfg)  # tiny builds a tiny IP-Adapter
    cfg["training"]["backend"] = "diffusers"
    with pytest.raises(ConfigError, match=r"story\.mode includes reference_guided") as info:
        check_story_config(cfg)
    assert "story.ip_adapter is not set" in str(info.value)
    cfg["story"]["mode"] = "simple"  # still in the ablation's default modes
    with pytest.raises(ConfigError, match=r"story\.ablation\.modes includes reference_guided"):
        check_story_config(cfg)
    cfg["story"]["ablation"]["modes"] = ["baseline", "simple"]
    check_story_config(cfg)
    cfg["story"]["ip_adapter"] = {"path": "ip"}
    cfg["story"]["ablation"]["modes"] = ["reference_guided"]
    check_story_config(cfg)


def test_no_stories_no_checks(tmp_path):
    cfg = config(tmp_path)
    cfg["story"]["stories"] = {}
    cfg["training"]["backend"] = "diffusers"
    check_story_config(cfg)


def test_min_frames_above_max_frames_fails(tmp_path):
    cfg = config(tmp_path, splitter={"min_frames": 8, "max_frames": 6})
    with pytest.raises(ConfigError, match="min_frames \\(8\\) is above max_frames \\(6\\)"):
        check_story_config(cfg)


def test_unknown_story_lists_the_configured_ones(tmp_path):
    assert story_entry(config(tmp_path), "walk")["text"] == STORY_TEXT
    with pytest.raises(
        ConfigError, match=r"story 'swim' is not in story.stories \(configured: walk\)"
    ):
        story_entry(config(tmp_path), "swim")


@pytest.mark.parametrize("frames", [5, 11])
def test_frames_out_of_range_is_a_schema_error(tmp_path, frames):
    with pytest.raises(ConfigError, match=r"story\.stories\.walk\.frames: \d+ is (less|greater)"):
        config(tmp_path, stories={"walk": {"text": STORY_TEXT, "frames": frames}})


def test_empty_story_text_is_a_schema_error(tmp_path):
    with pytest.raises(ConfigError, match=r"story\.stories\.walk\.text"):
        config(tmp_path, stories={"walk": {"text": ""}})


def test_storyboard_params_hold_only_what_a_mode_uses(tmp_path):
    cfg = config(tmp_path, controlnet={"type": "canny"}, threshold=None)
    cfg["prompt_adherence"]["threshold"] = 0.6
    baseline, simple, guided = (storyboard_params(cfg, m) for m in ("baseline", "simple",
                                                                      "reference_guided"))  # fmt: skip
    assert "lora" not in baseline["render"] and simple["render"]["lora"]["weight"] == 1.0
    assert simple["ip_adapter"] is None and simple["controlnet"] is None
    assert guided["ip_adapter"] == {} and guided["controlnet"]["type"] == "canny"  # tiny
    assert simple["threshold"] == 0.6 and simple["generation"]["steps"] == 2
    assert "batch_size" not in simple["generation"]  # generation batching changes no pixel
    cfg["render"]["extra_loras"] = [{"name": "grain", "weight": 0.3}]
    assert storyboard_params(cfg, "baseline") == baseline
    assert storyboard_params(cfg, "simple") != simple


def test_storyboard_inputs_name_the_lora_of_render_lora(tmp_path):
    cfg = config(tmp_path)
    assert storyboard_inputs(cfg, "demo", "baseline") == {}
    run = "results/demo/lora/EXP_FACIAL_UNET_FOCUS_HIGH/tier_4"
    assert storyboard_inputs(cfg, "demo", "simple") == {
        "lora": f"{run}/lora_diffusers.safetensors",
        "lora_config": f"{run}/training_config.json",  # its base model and trigger word
        "tier": "results/demo/tier_4",  # the tier whose captions tell the trigger word
    }
    cfg["render"]["lora"] = {"preset": "mine", "tier": 20, "weight": 0.8}
    cfg["render"]["extra_loras"] = [{"name": "grain", "weight": None}]
    cfg["training"]["tier_variant"] = "balanced"
    assert storyboard_inputs(cfg, "demo", "reference_guided") == {
        "lora": "results/demo/lora/mine/tier_20/lora_diffusers.safetensors",
        "lora_config": "results/demo/lora/mine/tier_20/training_config.json",
        "tier": "results/demo/tier_20_balanced",
        "loras_file": str(tmp_path / "loras.yaml"),
    }
