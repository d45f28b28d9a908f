"""What a run needs to be reproduced (training_config.json) and the fingerprint resume checks."""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Mapping
from dataclasses import asdict
from importlib import metadata
from typing import Any

from charfolio.core.paths import portable_model_config
from charfolio.lora.data import TierData
from charfolio.lora.presets import LoraPreset

CONFIG_FORMAT = 1
PACKAGES = (
    "charfolio", "torch", "diffusers", "transformers", "peft", "accelerate", "bitsandbytes",
    "safetensors", "numpy",
)  # fmt: skip
# Keys that do not change the trained weights: a rerun may change them and still resume.
NOT_IN_FINGERPRINT = ("name", "description", "validation", "worst_images", "save_every_steps",
                      "save_dtype")  # fmt: skip


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def _json(value: Any) -> Any:
    """Plain JSON (tuples as lists) with the same content, so digests are stable."""
    return json.loads(json.dumps(value, default=str))


def fingerprint(
    preset: LoraPreset, model_cfg: Mapping[str, Any], backend: str, tier: TierData
) -> str:
    """sha256 of everything that decides the trained weights: preset, model, data.

    The model is named by its paths as the project sees them (portable_model_config), so a
    moved or re-cloned project resumes its runs instead of training from scratch.
    """
    resolved = {k: v for k, v in asdict(preset).items() if k not in NOT_IN_FINGERPRINT}
    document = {
        "preset": resolved,
        "model": portable_model_config(model_cfg),
        "backend": backend,
        "manifest_sha256": tier.manifest_sha256,
        "content_sha256": tier.content_sha256,
    }
    return hashlib.sha256(json.dumps(_json(document), sort_keys=True).encode()).hexdigest()


def training_config(
    *,
    preset: LoraPreset,
    preset_mapping: Mapping[str, Any],
    model: Mapping[str, Any],
    data: Mapping[str, Any],
    derived: Mapping[str, Any],
    seeds: Mapping[str, Any],
    fingerprint: str,
) -> dict[str, Any]:
    """The training_config.json document."""
    return _json(
        {
            "format": CONFIG_FORMAT,
            "preset_name": preset.name,
            "preset": dict(preset_mapping),
            "resolved": asdict(preset),
            "derived": dict(derived),
            "model": dict(model),
            "data": dict(data),
            "seeds": dict(seeds),
            "versions": versions(),
            "fingerprint": fingerprint,
        }
    )
