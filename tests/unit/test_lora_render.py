"""Rendering with LoRAs on the tiny model: settings, determinism, LoRA swaps, fusing, errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from charfolio.core.config import ModelFileError
from charfolio.demo.tiny import write_tiny_lora
from charfolio.generation.pipelines import LoraSpec
from charfolio.lora.base_model import create_base_model
from charfolio.lora.render import (
    LoraRenderer,
    RenderError,
    RenderSettings,
    open_renderer,
)

from .render_support import SETTINGS, open_tiny, picture, pixels

GENERATION = {
    "steps": 50,
    "guidance_scale": 7.5,
    "width": 768,
    "height": 512,
    "sampler": "dpmpp_2m",
    "sigmas": "exponential",
    "dtype": "float16",
    "device": "cuda",
}
PROMPT = "photo of zqx person, smiling"


def test_settings_take_nulls_from_generation() -> None:
    render = {"steps": 20, "guidance_scale": None, "width": None, "height": 640,
              "sampler": None, "sigmas": "karras", "negative_prompt": None,
              "dtype": "auto", "device": "auto"}  # fmt: skip
    settings = RenderSettings.from_config(render, GENERATION, negative_prompt="lowres")
    assert settings == RenderSettings(
        steps=20, guidance_scale=7.5, width=768, height=640, sampler="dpmpp_2m",
        sigmas="karras", negative_prompt="lowres", dtype="auto", device="auto",
    )  # fmt: skip
    explicit = RenderSettings.from_config({**render, "negative_prompt": "blurry"}, GENERATION)
    assert explicit.negative_prompt == "blurry"
    assert RenderSettings.from_config(render, GENERATION).negative_prompt == ""


def test_settings_fail_when_both_sections_are_null() -> None:
    with pytest.raises(RenderError, match=r"render\.steps is null and generation\.steps is not"):
        RenderSettings.from_config({"steps": None}, {**GENERATION, "steps": None})


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model_cache")


@pytest.fixture(scope="module")
def loras(cache: Path) -> dict[str, Path]:
    return {name: write_tiny_lora(cache / f"{name}.safetensors", seed=seed)
            for name, seed in (("a", 1), ("b", 2))}  # fmt: skip


@pytest.fixture(scope="module")
def renderer(cache: Path) -> LoraRenderer:
    return open_tiny(cache)


def spec(loras: dict[str, Path], name: str, weight: float = 1.0) -> LoraSpec:
    return LoraSpec(loras[name], weight, name)


def test_same_seed_gives_the_same_pixels(renderer: LoraRenderer) -> None:
    renderer.set_loras([])
    first = renderer.render(PROMPT, 7)
    assert first.size == (SETTINGS.width, SETTINGS.height)
    np.testing.assert_array_equal(pixels(renderer.render(PROMPT, 7)), pixels(first))
    assert np.abs(pixels(renderer.render(PROMPT, 8)) - pixels(first)).max() > 20


def test_lora_and_its_weight_change_the_image(
    renderer: LoraRenderer, loras: dict[str, Path]
) -> None:
    renderer.set_loras([])
    base = pixels(renderer.render(PROMPT, 1))
    renderer.set_loras([spec(loras, "a", 1.0)])
    full = pixels(renderer.render(PROMPT, 1))
    renderer.set_loras([spec(loras, "a", 0.3)])
    weak = pixels(renderer.render(PROMPT, 1))
    assert np.abs(full - base).max() > 10
    assert np.abs(weak - full).max() > 5
    # a weaker LoRA moves the image less far from the base model's
    assert np.abs(weak - base).mean() < np.abs(full - base).mean()


def test_set_loras_swaps_checkpoints_and_back(
    renderer: LoraRenderer, loras: dict[str, Path]
) -> None:
    renderer.set_loras([spec(loras, "a")])
    a = pixels(renderer.render(PROMPT, 3))
    renderer.set_loras([spec(loras, "b")])
    assert renderer.pipe.get_list_adapters()["unet"] == ["b"]  # a was unloaded
    b = pixels(renderer.render(PROMPT, 3))
    assert np.abs(a - b).max() > 10
    renderer.set_loras([spec(loras, "a")])
    np.testing.assert_array_equal(pixels(renderer.render(PROMPT, 3)), a)
    # the checkpoint report reuses one adapter name for every checkpoint
    renderer.set_loras([LoraSpec(loras["b"], 1.0, "checkpoint")])
    np.testing.assert_array_equal(pixels(renderer.render(PROMPT, 3)), b)
    renderer.set_loras([LoraSpec(loras["a"], 1.0, "checkpoint")])
    np.testing.assert_array_equal(pixels(renderer.render(PROMPT, 3)), a)
    renderer.set_loras([])
    assert renderer.pipe.get_list_adapters() == {}


def test_fused_loras_render_as_unfused_and_unfuse_cleanly(
    renderer: LoraRenderer, loras: dict[str, Path]
) -> None:
    renderer.set_loras([])
    base = pixels(renderer.render(PROMPT, 4))
    composed = [spec(loras, "a", 0.7), spec(loras, "b", -0.7)]  # negative weights allowed
    renderer.set_loras(composed)
    unfused = pixels(renderer.render(PROMPT, 4))
    renderer.set_loras(composed, fuse=True)
    assert renderer.fused
    assert np.abs(pixels(renderer.render(PROMPT, 4)) - unfused).max() <= 1  # float rounding
    renderer.set_loras([])  # unfuse: the base weights again
    assert not renderer.fused
    assert np.abs(pixels(renderer.render(PROMPT, 4)) - base).max() <= 1


def test_settings_record_names_model_loras_and_sampler(
    renderer: LoraRenderer, loras: dict[str, Path]
) -> None:
    renderer.set_loras([spec(loras, "a", 0.8)], fuse=True)
    record = renderer.settings_record()
    assert record["backend"] == "tiny"
    assert record["model"]["architecture"] == "sd15"
    assert Path(record["model"]["path"]).name == "tiny-sd15-seed0"
    assert record["loras"] == [{"path": str(loras["a"]), "weight": 0.8, "adapter": "a"}]
    assert record["fused"] is True
    assert (record["steps"], record["sampler"]) == (2, "dpmpp_2m")
    assert record["negative_prompt"] == "blurry"
    assert record["scheduler"]["class"] == "DPMSolverMultistepScheduler"
    assert (record["dtype"], record["device"]) == ("float32", "cpu")
    assert record["ip_adapter"] is None and record["controlnet"] is None
    assert not renderer.has_ip_adapter and not renderer.has_controlnet
    renderer.set_loras([])


def test_reference_and_control_need_their_models(renderer: LoraRenderer) -> None:
    with pytest.raises(
        RenderError, match=r"reference image needs an IP-Adapter; configure story\.ip_adapter"
    ):
        renderer.render(PROMPT, 0, reference=picture(0))
    with pytest.raises(
        RenderError, match=r"control image needs a ControlNet; configure story\.controlnet"
    ):
        renderer.render(PROMPT, 0, control=picture(0))
    with pytest.raises(RenderError, match="control maps need a ControlNet"):
        renderer.control_map(picture(0))


def test_pickle_and_repeated_loras_are_refused(
    renderer: LoraRenderer, loras: dict[str, Path], tmp_path: Path
) -> None:
    for suffix in (".bin", ".ckpt"):
        pickled = tmp_path / f"lora{suffix}"
        pickled.write_bytes(b"not read")
        with pytest.raises(
            ModelFileError, match=f"refusing to load a pickle checkpoint \\({suffix}\\)"
        ):
            renderer.set_loras([LoraSpec(pickled, 1.0, "p")])
    with pytest.raises(RenderError, match="adapter name 'a' is given twice"):
        renderer.set_loras([spec(loras, "a"), spec(loras, "a", 0.5)])
    renderer.set_loras([])


def test_loras_given_to_open_renderer_are_active(cache: Path, loras: dict[str, Path]) -> None:
    renderer = open_tiny(cache, loras=[spec(loras, "b", 0.9)], fuse_loras=True,
                         settings=replace(SETTINGS, sampler="euler", sigmas="karras"))  # fmt: skip
    assert renderer.loras == (spec(loras, "b", 0.9),) and renderer.fused
    assert renderer.settings_record()["scheduler"]["class"] == "EulerDiscreteScheduler"
    fused = pixels(renderer.render(PROMPT, 5))
    renderer.set_loras([spec(loras, "b", 0.9)])
    assert np.abs(pixels(renderer.render(PROMPT, 5)) - fused).max() <= 1


def test_missing_model_names_the_path_and_the_models_command(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"nope\.safetensors.*charfolio models --config"):
        open_renderer(
            model_cfg={"path": "nope.safetensors", "architecture": "sd15"},
            base_model=create_base_model("diffusers"),
            model_cache=str(tmp_path),
            settings=SETTINGS,
        )


def test_unknown_backend_is_refused() -> None:
    # An image backend is no model to train on: the message lists the sources there are.
    with pytest.raises(
        ValueError,
        match=r"training.backend 'reference_variation' is not one of \['diffusers', 'tiny'\]",
    ):
        create_base_model("reference_variation")
