"""The LoRA registry (YAML and trained runs) and multi-LoRA composition on the tiny pipeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import safetensors.torch
import torch

from charfolio.core.config import ModelFileError
from charfolio.demo.tiny import write_tiny_lora
from charfolio.generation.pipelines import apply_lora
from charfolio.lora.registry import (
    LoraEntry,
    LoraRegistry,
    LoraRegistryError,
    discover_trained_loras,
    pipeline_architecture,
)

from .lora_support import fresh_pipeline

REPO = Path(__file__).resolve().parents[2]


def write_registry(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_registry_is_empty_and_valid() -> None:
    assert LoraRegistry.from_yaml(REPO / "config" / "loras.yaml").entries == {}


def test_registry_entries_load(tmp_path: Path) -> None:
    registry = LoraRegistry.from_yaml(
        write_registry(
            tmp_path / "loras.yaml",
            "- {name: grain, path: g.safetensors, trigger_words: [film grain], "
            "default_weight: -0.5, base_model: sdxl}\n"
            "- {name: style, path: s.safetensors, trigger_words: pixar, base_model: sd15}\n",
        )
    )
    grain = registry.get("grain")
    assert grain.default_weight == -0.5 and grain.base_model == "sdxl"
    assert registry.get("style").trigger_words == ("pixar",)
    assert registry.get("style").default_weight == 1.0
    assert registry.trigger_words(["grain", "style"]) == ["film grain", "pixar"]
    with pytest.raises(LoraRegistryError, match="unknown LoRA 'nope'; known: grain, style"):
        registry.get("nope")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{name: a}\n", "must be a list of entries"),
        ("- [a, b]\n", "entry 0 is a list"),
        ("- {path: a.safetensors, base_model: sd15}\n", "entry 0, key 'name': missing"),
        ("- {name: a, base_model: sd15}\n", r"entry 0 \('a'\), key 'path': missing"),
        ("- {name: a, path: a.safetensors}\n", "key 'base_model': missing"),
        ("- {name: a, path: p, base_model: sd21}\n", "key 'base_model': 'sd21' is not one of"),
        ("- {name: a, path: p, base_model: sd15, weight: 1}\n", "key 'weight': unknown key"),
        ("- {name: a, path: p, base_model: sd15, default_weight: yes}\n", "'default_weight'"),
        ("- {name: a, path: p, base_model: sd15, trigger_words: [1]}\n", "'trigger_words'"),
        ("- {name: a, path: p, base_model: sd15}\n- {name: a, path: q, base_model: sd15}\n",
         "'a' is registered twice"),
        ("- {name: a.b, path: p, base_model: sd15}\n- {name: a/b, path: q, base_model: sd15}\n",
         "same adapter name 'a_b'"),
        ("- {name: a\n", "not valid YAML"),
    ],
)  # fmt: skip
def test_registry_errors_name_the_entry_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write_registry(tmp_path / "loras.yaml", text)
    with pytest.raises(LoraRegistryError, match=message) as error:
        LoraRegistry.from_yaml(path)
    assert str(path) in str(error.value)


def test_missing_registry_file(tmp_path: Path) -> None:
    with pytest.raises(LoraRegistryError, match="not found"):
        LoraRegistry.from_yaml(tmp_path / "absent.yaml")


def fake_run(results: Path, character: str, preset: str, tier: int, architecture: str,
             caption: str) -> Path:  # fmt: skip
    """A finished training run's files: weights, training_config.json and its tier's captions."""
    tier_dir = results / character / f"tier_{tier}"
    tier_dir.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"caption": [caption]}), tier_dir / "manifest.parquet")
    out = results / character / "lora" / preset / f"tier_{tier}"
    out.mkdir(parents=True)
    (out / "lora_diffusers.safetensors").write_bytes(b"")
    config = {"model": {"architecture": architecture}, "data": {"tier_dir": str(tier_dir)}}
    (out / "training_config.json").write_text(json.dumps(config), encoding="utf-8")
    return out


def test_trained_loras_are_discovered(tmp_path: Path) -> None:
    fake_run(tmp_path, "demo", "fast", 20, "sd15", "nova woman, realistic photo")
    fake_run(tmp_path, "demo", "xl", 70, "sdxl", "a woman, realistic photo")
    found = {e.name: e for e in discover_trained_loras(tmp_path, "demo", token="nova")}
    assert set(found) == {"demo/fast/tier_20", "demo/xl/tier_70"}
    assert found["demo/fast/tier_20"].trigger_words == ("nova",)
    assert found["demo/xl/tier_70"].trigger_words == ()  # trained without the token
    assert found["demo/xl/tier_70"].base_model == "sdxl"
    assert all(e.source == "trained" for e in found.values())
    registry = LoraRegistry()
    registry.add_trained(tmp_path, "demo", token="nova")
    assert registry.get("demo/fast/tier_20").adapter_name == "demo_fast_tier_20"
    assert discover_trained_loras(tmp_path, "nobody") == []


def test_trained_lora_without_config_is_an_error(tmp_path: Path) -> None:
    out = fake_run(tmp_path, "demo", "fast", 20, "sd15", "nova")
    (out / "training_config.json").unlink()
    with pytest.raises(LoraRegistryError, match=r"training_config\.json is missing"):
        discover_trained_loras(tmp_path, "demo")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LoraRegistry]:
    root = tmp_path_factory.mktemp("loras")
    registry = LoraRegistry(
        [
            LoraEntry("detail", write_tiny_lora(root / "a.safetensors", seed=1), "sd15"),
            LoraEntry("style", write_tiny_lora(root / "b.safetensors", seed=2), "sd15"),
            LoraEntry("xl", root / "xl.safetensors", "sdxl"),
        ]
    )
    return root, registry


def render(pipe: Any) -> np.ndarray:
    return pipe(
        "a photo", num_inference_steps=2, height=32, width=32, output_type="np",
        generator=torch.Generator().manual_seed(0),
    ).images[0]  # fmt: skip


def test_compose_weights_change_output_and_fusing_keeps_it(
    tiny: tuple[Path, LoraRegistry],
) -> None:
    root, registry = tiny
    selection = [("detail", 0.7), ("style", -0.7)]
    plain = fresh_pipeline(root)
    assert pipeline_architecture(plain) == "sd15"
    base = render(plain)
    specs = registry.compose(plain, selection)
    assert [(s.adapter_name, s.weight) for s in specs] == selection
    assert sorted(plain.get_list_adapters()["unet"]) == ["detail", "style"]
    composed = render(plain)
    assert np.abs(composed - base).max() > 1e-3

    fused = fresh_pipeline(root)
    registry.compose(fused, selection, fuse=True)
    assert fused.get_list_adapters() == {}  # merged into the weights, adapters unloaded
    np.testing.assert_allclose(render(fused), composed, atol=1e-4)

    one = fresh_pipeline(root)
    registry.compose(one, [("detail", None)])  # the default weight, 1.0
    assert np.abs(render(one) - composed).max() > 1e-3  # the second LoRA did count
    with pytest.raises(LoraRegistryError, match="already loaded"):
        registry.compose(one, [("detail", 0.5)])


def test_compose_refuses_mismatched_base_model(tiny: tuple[Path, LoraRegistry]) -> None:
    root, registry = tiny
    pipe = fresh_pipeline(root)
    with pytest.raises(
        LoraRegistryError, match="'xl' was trained for sdxl but the pipeline is sd15"
    ):
        registry.compose(pipe, [("detail", 1.0), ("xl", 1.0)])
    assert pipe.get_list_adapters() == {}  # refused before anything was loaded
    with pytest.raises(LoraRegistryError, match="selected more than once"):
        registry.compose(pipe, [("detail", 1.0), ("detail", 0.5)])


def kohya_pair(stem: str, features: int, rank: int = 2) -> dict[str, torch.Tensor]:
    return {
        f"{stem}.lora_down.weight": torch.randn(rank, features),
        f"{stem}.lora_up.weight": torch.randn(features, rank),
        f"{stem}.alpha": torch.tensor(float(rank)),
    }


def test_a_lora_with_layers_the_model_lacks_is_refused(tmp_path: Path) -> None:
    """diffusers loads the layers it matches and only logs the others: half a LoRA."""
    attn = "attentions_0_transformer_blocks_0_attn1_to_q"
    fits = kohya_pair(f"lora_unet_down_blocks_1_{attn}", 64)  # the tiny UNet's last block
    deeper = kohya_pair(f"lora_unet_down_blocks_3_{attn}", 64)  # a bigger UNet's
    safetensors.torch.save_file({**fits, **deeper}, tmp_path / "detail.safetensors")
    pipe = fresh_pipeline(tmp_path)
    with pytest.raises(ModelFileError, match=r"detail\.safetensors: only 1 of the 2 layers"):
        apply_lora(pipe, tmp_path / "detail.safetensors", -0.7)
    assert pipe.get_list_adapters() == {}  # the half-loaded adapter is gone
    safetensors.torch.save_file(fits, tmp_path / "fits.safetensors")
    apply_lora(pipe, tmp_path / "fits.safetensors", -0.7)
    assert pipe.get_list_adapters() == {"unet": ["detail"]}
