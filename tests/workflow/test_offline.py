"""No job reaches the network: the demo's curation, a text-encoder LoRA and a storyboard run
through the real workflow under the network guard (tests/netguard), in a shell that says
HF_HUB_OFFLINE=0."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
import safetensors.torch

from ..network_guard import HUB_SWITCHES_OFF, attempts, describe, guarded_env, hub_modes
from .conftest import config_path, snakemake

LORA = "results/demo/lora/demo_tiny/tier_10"
TARGETS = ("results/demo/tier_10", f"{LORA}/summary.json", "results/demo/story/launch/storyboard.json")  # fmt: skip
# The demo's LoRA preset with the text encoder trained too (its storyboard renders with it).
TEXT_ENCODER = "training:\n  user_presets:\n    demo_tiny: {train_text_encoder: true}\n"


@pytest.mark.slow
def test_demo_curation_training_and_storyboard_reach_no_network(workdir):
    log = workdir / "network.jsonl"
    (workdir / "text_encoder.yaml").write_text(TEXT_ENCODER)
    env = guarded_env(log, HUB_SWITCHES_OFF)
    configs = (config_path("demo.yaml"), str(workdir / "text_encoder.yaml"))
    snakemake(workdir, *TARGETS, "--configfile", *configs, env=env, timeout=1500)

    found = attempts(log)
    assert not found, f"{len(found)} network attempt(s) from jobs:\n{describe(found)}"
    # Every process that loaded huggingface_hub had it offline: the Snakefile's switches
    # reached the jobs before their imports, over the shell's HF_HUB_OFFLINE=0.
    modes = hub_modes(log)
    # Snakemake runs each script as e.g. tmpk3j9x1.train_lora.py: the rule is the last stem part.
    scripts = {Path(m["argv"][0]).stem.split(".")[-1] for m in modes}
    assert {"train_lora", "render_storyboard"} <= scripts, modes
    assert all(m["offline"] for m in modes), [m for m in modes if not m["offline"]]

    assert len(pq.read_table(workdir / "results/demo/tier_10/manifest.parquet")) > 0
    kohya = safetensors.torch.load_file(workdir / LORA / "lora_kohya.safetensors")
    assert any(k.startswith("lora_te_text_model_") for k in kohya)
    assert (workdir / "results/demo/story/launch/frame_06.png").is_file()
