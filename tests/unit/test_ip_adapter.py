"""IP-Adapter rendering on tiny SD1.5 / SDXL models, and the errors of its config."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch

from charfolio.core.config import ModelFileError
from charfolio.demo.tiny import (
    TINY_IP_ADAPTER_SUBFOLDER,
    TINY_IP_ADAPTER_WEIGHTS,
    ensure_tiny_ip_adapter,
    ensure_tiny_model,
    write_tiny_lora,
)
from charfolio.generation.ip_adapter import (
    IpAdapterFiles,
    attach_ip_adapter,
    read_ip_adapter_weights,
    resolve_ip_adapter,
)
from charfolio.generation.pipelines import LoraSpec, load_pipeline
from charfolio.lora.base_model import create_base_model
from charfolio.lora.render import LoraRenderer, open_renderer

from .render_support import SETTINGS, open_tiny, picture, pixels

PROMPT = "photo of zqx person, in a market"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model_cache")


@pytest.fixture(scope="module")
def renderer(cache: Path) -> LoraRenderer:
    return open_tiny(cache, ip_adapter={"scale": 0.6})


def test_tiny_ip_adapter_has_the_h94_layout(renderer: LoraRenderer, cache: Path) -> None:
    assert renderer.has_ip_adapter and not renderer.has_controlnet
    folder = cache / "tiny" / "tiny-ip-adapter-sd15-seed0" / TINY_IP_ADAPTER_SUBFOLDER
    weights = safetensors.torch.load_file(folder / TINY_IP_ADAPTER_WEIGHTS)
    assert {k.split(".")[0] for k in weights} == {"image_proj", "ip_adapter"}
    assert sorted((folder / "image_encoder").iterdir())[-1].name == "model.safetensors"
    record = renderer.settings_record()["ip_adapter"]
    assert record == {"weights": str(folder / TINY_IP_ADAPTER_WEIGHTS),
                      "image_encoder": str(folder / "image_encoder"), "scale": 0.6, "tiny": True}  # fmt: skip


def test_reference_image_changes_the_render(renderer: LoraRenderer) -> None:
    plain = pixels(renderer.render(PROMPT, 1))
    first = renderer.render(PROMPT, 1, reference=picture(1))
    np.testing.assert_array_equal(pixels(renderer.render(PROMPT, 1, reference=picture(1))),
                                  pixels(first))  # fmt: skip
    assert np.abs(pixels(first) - plain).max() > 10
    other = pixels(renderer.render(PROMPT, 1, reference=picture(2)))
    assert np.abs(other - pixels(first)).max() > 10
    # the scale is per call: without a reference the render is the plain one again
    np.testing.assert_array_equal(pixels(renderer.render(PROMPT, 1)), plain)


def test_no_reference_renders_as_without_ip_adapter(cache: Path, renderer: LoraRenderer) -> None:
    without = open_tiny(cache)
    np.testing.assert_allclose(pixels(renderer.render(PROMPT, 2)),
                               pixels(without.render(PROMPT, 2)), atol=1)  # fmt: skip


def test_loras_swap_under_an_ip_adapter(renderer: LoraRenderer, tmp_path: Path) -> None:
    lora = LoraSpec(write_tiny_lora(tmp_path / "a.safetensors", seed=1), 1.0, "a")
    before = pixels(renderer.render(PROMPT, 3, reference=picture(3)))
    renderer.set_loras([lora], fuse=True)
    with_lora = pixels(renderer.render(PROMPT, 3, reference=picture(3)))
    assert np.abs(with_lora - before).max() > 10
    renderer.set_loras([])  # the IP-Adapter layers survive unloading the LoRA
    assert renderer.pipe.unet.encoder_hid_proj is not None
    after = pixels(renderer.render(PROMPT, 3, reference=picture(3)))
    assert np.abs(after - before).max() <= 1


def test_configured_folder_loads_like_the_tiny_one(cache: Path, renderer: LoraRenderer) -> None:
    """backend diffusers reads story.ip_adapter's path / subfolder / weight_name from the cache."""
    model = ensure_tiny_model("sd15", 0, cache / "tiny")
    ensure_tiny_ip_adapter("sd15", 0, cache / "tiny")
    configured = open_renderer(
        model_cfg={"path": str(model), "architecture": "sd15"},
        base_model=create_base_model("diffusers"),
        model_cache=str(cache),
        settings=SETTINGS,
        ip_adapter={"path": "tiny/tiny-ip-adapter-sd15-seed0", "subfolder": "models",
                    "weight_name": TINY_IP_ADAPTER_WEIGHTS, "image_encoder": None, "scale": 0.6},
    )  # fmt: skip
    assert configured.settings_record()["ip_adapter"]["tiny"] is False
    # atol 1: the shared renderer has had a LoRA fused and unfused (float rounding)
    np.testing.assert_allclose(
        pixels(configured.render(PROMPT, 4, reference=picture(4))),
        pixels(renderer.render(PROMPT, 4, reference=picture(4))),
        atol=1,
    )


def test_sdxl_reference_changes_the_render(cache: Path) -> None:
    renderer = open_tiny(cache, "sdxl", ip_adapter={"scale": 0.8})
    plain = pixels(renderer.render(PROMPT, 5))
    guided = pixels(renderer.render(PROMPT, 5, reference=picture(5)))
    assert np.abs(guided - plain).max() > 10


@pytest.fixture()
def ip_folder(cache: Path, tmp_path: Path) -> Path:
    """A writable copy of the tiny IP-Adapter folder, for breaking it."""
    source = ensure_tiny_ip_adapter("sd15", 0, cache / "tiny")
    return Path(shutil.copytree(source, tmp_path / "ip"))


def section(folder: Path, **overrides: object) -> dict[str, object]:
    return {"path": str(folder), "subfolder": "models", "weight_name": TINY_IP_ADAPTER_WEIGHTS,
            "image_encoder": None, "scale": 0.6, **overrides}  # fmt: skip


def test_unset_path_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(
        ModelFileError, match=r"story\.ip_adapter\.path is not set.*charfolio models"
    ):
        resolve_ip_adapter({"scale": 0.6}, tmp_path)


def test_missing_folder_names_it_and_the_models_command(tmp_path: Path) -> None:
    with pytest.raises(
        ModelFileError, match=r"IP-Adapter.*not found: ip-adapter.*charfolio models --config"
    ):
        resolve_ip_adapter(section(Path("ip-adapter")), None)


@pytest.mark.parametrize("name", ["ip-adapter_sd15.bin", "ip-adapter_sd15.ckpt"])
def test_pickle_weights_are_refused(ip_folder: Path, name: str) -> None:
    (ip_folder / "models" / name).write_bytes(b"pickle")
    with pytest.raises(ModelFileError, match=f"{name}: refusing to load a pickle checkpoint"):
        resolve_ip_adapter(section(ip_folder, weight_name=name), None)


def test_missing_weights_and_encoder_are_named(ip_folder: Path) -> None:
    with pytest.raises(
        ModelFileError, match=r"IP-Adapter weights not found: .*models/other\.safetensors"
    ):
        resolve_ip_adapter(section(ip_folder, weight_name="other.safetensors"), None)
    shutil.rmtree(ip_folder / "models" / "image_encoder")
    with pytest.raises(
        ModelFileError, match=r"image encoder not found: .*models/image_encoder/config\.json"
    ):
        resolve_ip_adapter(section(ip_folder), None)


def test_pickle_only_image_encoder_is_refused(ip_folder: Path) -> None:
    encoder = ip_folder / "models" / "image_encoder"
    (encoder / "model.safetensors").rename(encoder / "pytorch_model.bin")
    files = resolve_ip_adapter(section(ip_folder), None)
    pipe = load_pipeline({"path": str(ensure_tiny_model("sd15", 0, ip_folder.parent / "tiny")),
                          "architecture": "sd15"}, None, torch.float32, torch.device("cpu"))  # fmt: skip
    with pytest.raises(
        ModelFileError, match=r"cannot load the IP-Adapter image encoder from \.safetensors"
    ):
        attach_ip_adapter(pipe, files)


def test_file_without_ip_adapter_keys_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lora.safetensors"
    safetensors.torch.save_file({"unet.down.lora_A.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(
        ModelFileError, match=r"not an IP-Adapter: no image_proj\.\*, ip_adapter\.\* keys"
    ):
        read_ip_adapter_weights(path)


def test_sd15_ip_adapter_on_sdxl_is_refused(cache: Path) -> None:
    folder = ensure_tiny_ip_adapter("sd15", 0, cache / "tiny") / "models"
    pipe = load_pipeline({"path": str(ensure_tiny_model("sdxl", 0, cache / "tiny")),
                          "architecture": "sdxl"}, None, torch.float32, torch.device("cpu"))  # fmt: skip
    files = IpAdapterFiles(folder / TINY_IP_ADAPTER_WEIGHTS, folder / "image_encoder", 0.6)
    with pytest.raises(ModelFileError, match=r"does not fit this model's UNet.*sdxl_models/"):
        attach_ip_adapter(pipe, files)
