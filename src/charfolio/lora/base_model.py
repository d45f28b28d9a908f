"""The model a LoRA trains on must be local: checked before anything else is loaded.

Compute nodes are often offline, so a missing generation.model is a setup step
(`charfolio models`), not something a training job can fix; saying so first, without
importing torch, is what `charfolio curate --train` and train_lora share.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from charfolio.core.config import ModelFileError, resolve_model_file

ModelCache = str | os.PathLike[str] | None


def require_base_model(model_cfg: Mapping[str, Any], backend: str, model_cache: ModelCache) -> None:
    """Raise ModelFileError naming the key and `charfolio models` when a model file is missing.

    `model_cfg` is generation.model; the tiny backend builds its own model, so needs none.
    """
    if backend != "diffusers":
        return
    if not model_cfg.get("path"):
        raise ModelFileError(
            "generation.model.path is not set, and LoRA training (training.backend diffusers) "
            "trains on it; point it at a .safetensors checkpoint or a diffusers folder "
            "(relative paths are looked up in model_cache), then fetch it with `charfolio models`"
        )
    resolve_model_file(
        model_cfg["path"], model_cache, "Stable Diffusion model (generation.model.path)"
    )
    for key in ("config_dir", "vae"):
        if model_cfg.get(key):
            resolve_model_file(model_cfg[key], model_cache, f"generation.model.{key}")
