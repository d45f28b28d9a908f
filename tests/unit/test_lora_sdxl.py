"""The SDXL path: both text encoders, size conditioning, sgm-named kohya export (tiny, CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch

from charfolio.lora import training_state

from .lora_support import (
    adapter_tensors,
    fresh_pipeline,
    make_tier,
    run,
    scalings,
    tiny_preset,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("sdxl")
    tier = make_tier(root / "tier_4", n=4, val=1, sizes=[(64, 64), (64, 64), (96, 64), (64, 64)])
    # One step over all three train images (two buckets), text encoders trained too, with
    # the options a GPU run would use: bf16 autocast, checkpointing, Min-SNR, noise offset.
    preset = tiny_preset(
        epochs=1, batch_size=1, gradient_accumulation_steps=3, train_text_encoder=True,
        mixed_precision="bf16", gradient_checkpointing=True, min_snr_gamma=5.0,
        noise_offset=0.05, lr_scheduler="cosine_with_restarts", lr_warmup_steps=0,
    )  # fmt: skip
    out, cache = root / "out", root / "models"
    return out, cache, run(tier, out, cache, preset, architecture="sdxl")


def test_sdxl_trains_a_step_and_exports(trained):
    out, _, summary = trained
    assert summary["complete"] and summary["global_steps"] == 1
    state = training_state.load_state(out / "state")
    assert state is not None
    components = {key.split("/")[0] for key in state.lora}
    assert components == {"unet", "text_encoder", "text_encoder_2"}
    for component in components:  # lora_B starts at zero: a step moved every component
        ups = [t for k, t in state.lora.items() if k.startswith(component) and "lora_B" in k]
        assert any(t.abs().max() > 0 for t in ups), component
    kohya = safetensors.torch.load_file(out / "lora_kohya.safetensors")
    prefixes = {k.split("_blocks_")[0].split("_block_")[0] for k in kohya if "unet" in k}
    assert prefixes == {"lora_unet_input", "lora_unet_middle", "lora_unet_output"}  # sgm names
    # A1111 / ComfyUI key maps expect text_model.* (transformers 5 dropped it in CLIPTextModel).
    assert any(k.startswith("lora_te1_text_model_encoder_layers_") for k in kohya)
    assert any(k.startswith("lora_te2_text_model_encoder_layers_") for k in kohya)
    assert (out / "samples" / "epoch-0001" / "prompt00-seed0.png").is_file()


def test_sdxl_files_load_and_agree(trained):
    out, cache, _ = trained
    pipe = fresh_pipeline(cache, "sdxl")

    def render() -> np.ndarray:
        generator = torch.Generator().manual_seed(0)
        prompt = "photo of zqx person"
        return pipe(prompt, num_inference_steps=2, width=64, height=64, generator=generator,
                    output_type="np").images[0]  # fmt: skip

    before = render()
    pipe.load_lora_weights(out, weight_name="lora_diffusers.safetensors", adapter_name="diffusers")
    after = render()
    assert np.abs(after - before).max() > 1e-4
    pipe.load_lora_weights(out, weight_name="lora_kohya.safetensors", adapter_name="kohya")
    state = training_state.load_state(out / "state")
    assert state is not None
    for name in ("unet", "text_encoder", "text_encoder_2"):
        module = getattr(pipe, name)
        trained = {k.removeprefix(f"{name}/").replace(".default.", "."): v
                   for k, v in state.lora.items() if k.startswith(f"{name}/")}  # fmt: skip
        reference = adapter_tensors(module, "diffusers")
        converted = adapter_tensors(module, "kohya")
        assert set(reference) == set(converted) == set(trained), name
        # float32 export (tiny_preset): the same tensors, bit for bit, through both formats.
        assert all(torch.equal(reference[k], trained[k]) for k in trained), name
        assert all(torch.equal(converted[k], trained[k]) for k in trained), name
        assert scalings(module, "kohya") == scalings(module, "diffusers") == {0.5}
