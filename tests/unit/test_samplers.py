"""The light name lists (read by the Snakefile at every start) match the heavy definitions."""

from __future__ import annotations

import subprocess
import sys

from diffusers.optimization import SchedulerType

from charfolio.generation import pipelines
from charfolio.generation.samplers import (
    LR_SCHEDULER_NAMES,
    SAMPLER_NAMES,
    SIGMA_NAMES,
)
from charfolio.lora.render import INHERITED_KEYS


def test_sampler_and_sigma_names_match_the_scheduler_table() -> None:
    assert tuple(pipelines.SAMPLERS) == SAMPLER_NAMES
    assert ("default", *pipelines.SIGMA_FLAGS) == SIGMA_NAMES


def test_lr_scheduler_names_match_diffusers() -> None:
    diffusers_names = {s.value for s in SchedulerType} - {"piecewise_constant"}
    assert set(LR_SCHEDULER_NAMES) == diffusers_names


def test_render_keys_are_the_renderers() -> None:
    assert INHERITED_KEYS == ("steps", "guidance_scale", "width", "height", "sampler", "sigmas")


def test_the_snakefile_imports_pull_in_neither_torch_nor_diffusers() -> None:
    """rules/common.smk runs in every job; torch + diffusers would add seconds to each."""
    code = (
        "import sys\n"
        "import charfolio.core.config, charfolio.generation.distribution, charfolio.embed.stream\n"
        "import charfolio.lora.presets, charfolio.story.settings\n"
        "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'peft') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
