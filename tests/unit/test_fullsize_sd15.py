"""The production model paths at real size: SD1.5 with random weights, as users load it.

One single-file checkpoint in the original (LDM) key layout, as model sites ship it, goes
through generation.model.path + config_dir (a configs-only folder) exactly as a user's
config does; a detail LoRA in kohya sd-scripts' naming (text encoder, linear, 1x1 and 3x3
convs) goes in at -0.7; a LoRA trained on the model (UNet and text encoder) exports a kohya
file that diffusers maps back key for key. A 2.1 GB file, 8 GB of memory at the peak (one
model in memory at a time) and about 3 CPU-minutes.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors
import safetensors.torch
import torch
from diffusers import DiffusionPipeline
from peft.tuners.lora import LoraLayer

from charfolio.core.config import validate
from charfolio.generation.backends import RenderRequest, create_image_backend
from charfolio.generation.diffusers_backend import DETAIL_ADAPTER, DiffusersBackend
from charfolio.generation.pipelines import load_pipeline
from charfolio.lora import TARGET_MODULE_SETS, train_lora

from .fullsize_support import (
    KohyaModule,
    LdmCheckpoint,
    key_warnings,
    ldm_tensor,
    write_kohya_lora,
    write_ldm_checkpoint,
    write_sd15_config_dir,
)
from .lora_support import make_tier

pytestmark = pytest.mark.fullsize

SIZE = 64
MODEL_FILE = "sd15-random-ldm.safetensors"
CONFIG_DIR = "stable-diffusion-v1-5"
DETAIL_LORA = "add_detail.safetensors"
DETAIL_WEIGHT = -0.7
COMPONENTS = ("unet", "vae", "text_encoder")
LORA_COMPONENTS = ("unet", "text_encoder")


@dataclass(frozen=True)
class FullSizeModel:
    cache: Path  # model_cache: the paths below are relative to it, as in a user's config
    checkpoint: LdmCheckpoint
    detail_lora: dict[str, KohyaModule]  # by kohya name

    @property
    def model_config(self) -> dict[str, Any]:
        return {"path": MODEL_FILE, "architecture": "sd15", "config_dir": CONFIG_DIR, "vae": None}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullSizeModel]:
    cache = tmp_path_factory.mktemp("models")
    config_dir = write_sd15_config_dir(cache / CONFIG_DIR)
    checkpoint = write_ldm_checkpoint(cache / MODEL_FILE, config_dir, seed=0)
    detail = write_kohya_lora(cache / DETAIL_LORA, config_dir, seed=1)
    yield FullSizeModel(cache, checkpoint, detail)
    checkpoint.path.unlink()  # 2.1 GB: not kept among pytest's last three temp folders


def lora_layers(pipe: DiffusionPipeline, adapter: str) -> dict[tuple[str, str], LoraLayer]:
    """The layers that carry `adapter`, by (component, module path)."""
    return {
        (component, name): module
        for component in LORA_COMPONENTS
        for name, module in getattr(pipe, component).named_modules()
        if isinstance(module, LoraLayer) and adapter in module.lora_A
    }


def base_weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's own tensors by their plain names (PEFT moves them to `.base_layer`)."""
    return {
        key.replace(".base_layer.", "."): tensor
        for key, tensor in module.state_dict().items()
        if ".lora_" not in key
    }


# --- generation: the checkpoint and the detail LoRA, loaded as a user's config loads them ----


@dataclass
class Loaded:
    backend: DiffusersBackend
    warnings: list[str]  # about keys, while the model and the LoRA loaded


class TestGeneration:
    @pytest.fixture(scope="class")
    @classmethod
    def loaded(cls, model: FullSizeModel) -> Iterator[Loaded]:
        section = {
            "backend": "diffusers", "model": model.model_config, "device": "cpu", "steps": 2,
            "width": SIZE, "height": SIZE, "batch_size": 1,
            "detail_lora": {"path": DETAIL_LORA, "weight": DETAIL_WEIGHT},
        }  # fmt: skip
        generation = validate({"generation": section}, "config", "fullsize")["generation"]
        with key_warnings() as warned:
            backend = create_image_backend(generation, str(model.cache))
        yield Loaded(backend, warned)
        del backend
        gc.collect()  # the next class loads the model again

    def test_every_checkpoint_tensor_is_loaded_unchanged(
        self, loaded: Loaded, model: FullSizeModel
    ) -> None:
        checkpoint = model.checkpoint
        assert loaded.warnings == []
        with safetensors.safe_open(checkpoint.path, framework="pt") as saved:
            assert set(saved.keys()) == checkpoint.extra_keys.union(
                *(keys.values() for keys in checkpoint.keys.values())
            )
            for component in COMPONENTS:
                keys = checkpoint.keys[component]
                weights = base_weights(getattr(loaded.backend.pipe, component))
                assert weights.keys() == keys.keys(), component
                for key, tensor in weights.items():
                    # Equal random draws: read from the file, not left at init. float16 in the
                    # file and float32 loaded: the conversion is exact.
                    assert torch.equal(
                        ldm_tensor(keys[key], tensor), saved.get_tensor(keys[key]).float()
                    ), key

    def test_ldm_1x1_convolutions_become_diffusers_layers(
        self, loaded: Loaded, model: FullSizeModel
    ) -> None:
        pipe = loaded.backend.pipe
        with safetensors.safe_open(model.checkpoint.path, framework="pt") as saved:
            vae_q = saved.get_slice("first_stage_model.encoder.mid.attn_1.q.weight").get_shape()
            proj_in = saved.get_slice(
                "model.diffusion_model.input_blocks.1.1.proj_in.weight"
            ).get_shape()
            to_q = saved.get_slice(
                "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight"
            ).get_shape()
        assert vae_q == [512, 512, 1, 1]
        assert pipe.vae.encoder.mid_block.attentions[0].to_q.weight.shape == (512, 512)
        attention = pipe.unet.down_blocks[0].attentions[0]
        assert proj_in == [320, 320, 1, 1]  # SD1.5 projects with 1x1 convs, as LDM stores them
        assert _base(attention.proj_in).weight.shape == (320, 320, 1, 1)
        assert to_q == [320, 320]
        assert _base(attention.transformer_blocks[0].attn1.to_q).weight.shape == (320, 320)

    def test_detail_lora_adapts_every_module_it_names(
        self, loaded: Loaded, model: FullSizeModel
    ) -> None:
        assert loaded.warnings == []
        layers = lora_layers(loaded.backend.pipe, DETAIL_ADAPTER)
        expected = model.detail_lora
        assert set(layers) == {(m.component, m.name) for m in expected.values()}
        kinds = {_layer_kind(layers[m.component, m.name]) for m in expected.values()}
        assert kinds == {"linear", "conv 1x1", "conv 3x3"}
        file = safetensors.torch.load_file(model.cache / DETAIL_LORA)
        for stem, module in expected.items():
            layer = layers[module.component, module.name]
            down, up = file[f"{stem}.lora_down.weight"], file[f"{stem}.lora_up.weight"]
            assert torch.equal(layer.lora_A[DETAIL_ADAPTER].weight, down.float()), stem
            assert torch.equal(layer.lora_B[DETAIL_ADAPTER].weight, up.float()), stem
            scale = DETAIL_WEIGHT * module.alpha / module.rank
            assert layer.scaling[DETAIL_ADAPTER] == pytest.approx(scale), stem

    def test_renders_64x64_in_2_steps_and_the_lora_changes_it(self, loaded: Loaded) -> None:
        backend = loaded.backend
        request = [RenderRequest("portrait of a freckled woman", "blurry", 7, SIZE, SIZE)]
        image = backend.render(request)[0]
        assert image.size == (SIZE, SIZE) and image.mode == "RGB"
        pixels = np.asarray(image, dtype=np.int16)
        assert pixels.std() > 1  # not a blank (NaN) image
        backend.pipe.disable_lora()
        try:
            without = np.asarray(backend.render(request)[0], dtype=np.int16)
        finally:
            backend.pipe.enable_lora()
        assert np.abs(pixels - without).mean() > 0.5


def _base(module: torch.nn.Module) -> torch.nn.Module:
    """The model's own layer, whether or not a LoRA wraps it."""
    return module.get_base_layer() if isinstance(module, LoraLayer) else module


def _layer_kind(layer: LoraLayer) -> str:
    base = _base(layer)
    if isinstance(base, torch.nn.Conv2d):
        return f"conv {base.kernel_size[0]}x{base.kernel_size[1]}"
    return "linear"


# --- training: a LoRA on the full-size model, exported in diffusers and kohya formats --------

TRAINING_PRESET: dict[str, Any] = {
    "name": "fullsize",
    "epochs": 1,
    "learning_rate": 1.0e-3,
    "rank": 4,
    "alpha": 2,
    "batch_size": 1,
    "resolution": SIZE,
    "bucket_step": SIZE,  # the full model downsamples by 64 (VAE 8 x UNet 8)
    "optimizer": "adamw",
    # every kind of layer kohya names: attention and feed-forward linears, 1x1 and 3x3 convs
    "target_modules": [*TARGET_MODULE_SETS["ATTN_EXT_FF"], "proj_in", "proj_out", "conv1", "conv2"],
    "train_text_encoder": True,
    "text_encoder_target_modules": ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"],
    "validation": {"images": False, "loss_timesteps": [500]},
}


LoraTensors = dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor, float]]


def adapter_tensors(pipe: DiffusionPipeline, adapter: str) -> LoraTensors:
    """Each adapted layer's lora_A and lora_B weights and scaling, by (component, path)."""
    return {
        where: (layer.lora_A[adapter].weight.detach().clone(),
                layer.lora_B[adapter].weight.detach().clone(), layer.scaling[adapter])
        for where, layer in lora_layers(pipe, adapter).items()
    }  # fmt: skip


@dataclass
class Trained:
    out: Path  # the training run's folder
    summary: dict[str, Any]
    loaded: dict[str, LoraTensors]  # per format (diffusers, kohya): what diffusers loaded
    warnings: dict[str, list[str]]  # per format: warnings about keys while it loaded


class TestTraining:
    @pytest.fixture(scope="class")
    @classmethod
    def trained(
        cls, model: FullSizeModel, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[Trained]:
        tier = make_tier(tmp_path_factory.mktemp("tier") / "tier_3", n=3, val=1)
        out = tmp_path_factory.mktemp("lora") / "fullsize"
        summary = train_lora(
            tier, model.model_config, TRAINING_PRESET, out, model_cache=str(model.cache),
            backend="diffusers", device="cpu", log=lambda line: None,
        )  # fmt: skip
        gc.collect()  # the trainer's model, before a fresh load
        pipe = load_pipeline(
            {**model.model_config, "path": str(model.checkpoint.path),
             "config_dir": str(model.checkpoint.config_dir)},
            None, torch.float32, torch.device("cpu"),
        )  # fmt: skip
        loaded, warned = {}, {}
        for name in ("diffusers", "kohya"):
            # One adapter at a time: with another one loaded, transformers' load report lists
            # that adapter's weights as missing from this file (it matches any "lora" key).
            with key_warnings() as warned[name]:
                pipe.load_lora_weights(out / f"lora_{name}.safetensors", adapter_name=name)
            loaded[name] = adapter_tensors(pipe, name)
            pipe.unload_lora_weights()
        yield Trained(out, summary, loaded, warned)
        del pipe
        gc.collect()

    def test_training_runs_on_the_full_size_model(self, trained: Trained) -> None:
        summary = trained.summary
        assert summary["complete"] and summary["global_steps"] == 2
        config = json.loads((trained.out / "training_config.json").read_text())
        assert config["model"]["architecture"] == "sd15"
        assert Path(config["model"]["path"]).name == MODEL_FILE

    def test_kohya_file_names_unet_and_text_encoder_layers_of_every_kind(
        self, trained: Trained
    ) -> None:
        kohya = safetensors.torch.load_file(trained.out / "lora_kohya.safetensors")
        stems = {key.split(".")[0] for key in kohya}
        assert "lora_te_text_model_encoder_layers_11_mlp_fc2" in stems
        assert "lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k" in stems
        assert "lora_unet_mid_block_attentions_0_proj_in" in stems  # 1x1 conv
        assert "lora_unet_up_blocks_3_resnets_2_conv2" in stems  # 3x3 conv
        assert all(s.startswith(("lora_unet_", "lora_te_")) for s in stems)
        parts = ("lora_down.weight", "lora_up.weight", "alpha")
        assert set(kohya) == {f"{stem}.{part}" for stem in stems for part in parts}

    def test_kohya_file_maps_every_key_to_the_diffusers_modules(self, trained: Trained) -> None:
        assert trained.warnings == {"diffusers": [], "kohya": []}
        diffusers_file = safetensors.torch.load_file(trained.out / "lora_diffusers.safetensors")
        kohya_file = safetensors.torch.load_file(trained.out / "lora_kohya.safetensors")
        pairs = sum(k.endswith(".lora_A.weight") for k in diffusers_file)
        assert pairs == sum(k.endswith(".lora_down.weight") for k in kohya_file)
        reference, converted = trained.loaded["diffusers"], trained.loaded["kohya"]
        assert converted.keys() == reference.keys() and len(reference) == pairs
        assert {component for component, _ in reference} == set(LORA_COMPONENTS)
        for where, (down, up, scaling) in reference.items():
            assert up.abs().max() > 0, where  # trained: lora_B started at zero
            assert torch.equal(converted[where][0], down), where
            assert torch.equal(converted[where][1], up), where
            assert converted[where][2] == scaling == 0.5, where  # alpha 2 / rank 4
