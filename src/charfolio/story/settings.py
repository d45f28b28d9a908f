"""The story section of a validated config: checks that fail before any job, and lookups.

The JSON Schema checks each key; what it cannot express (a mode's model needs, a story name
a target asks for, the LoRA a storyboard renders with) is checked here, so the Snakefile
fails at DAG time with a message naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from charfolio.core.config import ConfigError
from charfolio.core.layout import Results
from charfolio.generation.samplers import INHERITED_RENDER_KEYS as INHERITED_KEYS
from charfolio.lora.base_model import builds_adapters

GUIDED = "reference_guided"
RENDER_KEYS = (*INHERITED_KEYS, "negative_prompt", "dtype", "device")
LORA_KEYS = ("lora", "extra_loras", "loras_file", "fuse_loras")  # unused by baseline mode


def built_modes(story: Mapping[str, Any]) -> list[str]:
    """Every mode the workflow renders: the storyboard's and the ablation's."""
    return list(dict.fromkeys([story["mode"], *story["ablation"]["modes"]]))


def check_story_config(config: Mapping[str, Any]) -> None:
    """Fail on story settings that validate but cannot run (no-op without stories)."""
    story = config["story"]
    if not story["stories"]:
        return
    splitter = story["splitter"]
    if splitter["min_frames"] > splitter["max_frames"]:
        raise ConfigError(
            f"story.splitter.min_frames ({splitter['min_frames']}) is above max_frames "
            f"({splitter['max_frames']}); make min_frames <= max_frames"
        )
    # a base-model source that builds its own IP-Adapter needs none configured
    built = builds_adapters(config["training"]["backend"])
    if GUIDED in built_modes(story) and story["ip_adapter"] is None and not built:
        where = "story.mode" if story["mode"] == GUIDED else "story.ablation.modes"
        raise ConfigError(
            f"{where} includes reference_guided, which needs an IP-Adapter, but "
            f"story.ip_adapter is not set; add story.ip_adapter: {{path: <IP-Adapter "
            f"folder>}} (h94/IP-Adapter's layout) or remove reference_guided from {where}"
        )


def story_entry(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """story.stories.{name} ({text, frames}); an unknown name lists the configured ones."""
    stories = config["story"]["stories"]
    if name not in stories:
        known = ", ".join(sorted(stories)) or "none configured"
        raise ConfigError(
            f"story {name!r} is not in story.stories (configured: {known}); add it to "
            f"story.stories in your config or ask for a configured story"
        )
    return dict(stories[name])


def story_threshold(story: Mapping[str, Any], prompt_adherence: Mapping[str, Any]) -> float:
    """story.threshold, or prompt_adherence.threshold when null."""
    threshold = story.get("threshold")
    return float(prompt_adherence.get("threshold", 0.70) if threshold is None else threshold)


def lora_choice(config: Mapping[str, Any]) -> tuple[str, int]:
    """(preset, tier) of the character LoRA storyboards render with (render.lora)."""
    lora, training = config["render"]["lora"], config["training"]
    preset = lora["preset"] if lora["preset"] is not None else training["presets"][0]
    tier = lora["tier"] if lora["tier"] is not None else training["tiers"][0]
    return preset, int(tier)


def ip_adapter_for(mode: str, story: Mapping[str, Any], backend: str) -> dict[str, Any] | None:
    """The IP-Adapter section a mode renders with: reference_guided only.

    When training.backend's source builds its own IP-Adapter (the demo's tiny one), an unset
    section means that one ({}), so reference_guided runs on the real diffusers code path
    without model files.
    """
    if mode != GUIDED:
        return None
    if story["ip_adapter"] is None:
        return {} if builds_adapters(backend) else None
    return dict(story["ip_adapter"])


def controlnet_for(mode: str, story: Mapping[str, Any]) -> dict[str, Any] | None:
    if mode != GUIDED or story["controlnet"] is None:
        return None
    return dict(story["controlnet"])


def storyboard_params(config: Mapping[str, Any], mode: str) -> dict[str, Any]:
    """Exactly what decides a storyboard's pixels and scores in `mode`, as one rule param.

    Keys a mode does not use are left out (baseline: the LoRAs; simple and baseline: the
    IP-Adapter and ControlNet), so changing them reruns only the storyboards they change.
    """
    story, render = config["story"], config["render"]
    return {
        "mode": mode,
        "seed": story["seed"],
        "max_retries": story["max_retries"],
        "threshold": story_threshold(story, config["prompt_adherence"]),
        "render": {
            key: render[key] for key in (*RENDER_KEYS, *(LORA_KEYS if mode != "baseline" else ()))
        },
        "generation": {
            "model": config["generation"]["model"],
            **{key: config["generation"][key] for key in INHERITED_KEYS},
        },
        "ip_adapter": ip_adapter_for(mode, story, config["training"]["backend"]),
        "controlnet": controlnet_for(mode, story),
    }


def storyboard_inputs(config: Mapping[str, Any], character: str, mode: str) -> dict[str, str]:
    """The files a storyboard renders with: the character's LoRA (render.lora), with its
    training_config.json and the tier it was trained on (they tell its base model and trigger
    word), and the LoRA registry when render.extra_loras is used; none in baseline mode."""
    if mode == "baseline":
        return {}
    preset, tier = lora_choice(config)
    paths = Results().character(character)
    files = {
        "lora": paths.lora_diffusers(preset, tier),
        "lora_config": paths.lora_training_config(preset, tier),
        "tier": paths.tier(tier, config["training"]["tier_variant"]),
    }
    if config["render"]["extra_loras"]:
        files["loras_file"] = config["render"]["loras_file"]
    return files
