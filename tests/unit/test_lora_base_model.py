"""train_lora says a missing base model is a setup step before it reads or loads anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from charfolio.core.config import ModelFileError
from charfolio.lora import train_lora


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ({"path": "absent.safetensors"}, "generation.model.path"),
        ({"path": None}, "generation.model.path is not set"),
        ({"path": "sd15", "config_dir": "absent-configs"}, "generation.model.config_dir"),
    ],
)
def test_missing_model_fails_first_naming_the_key_and_charfolio_models(
    tmp_path: Path, model: dict, key: str
) -> None:
    (tmp_path / "models" / "sd15").mkdir(parents=True)  # a diffusers folder that is there
    out = tmp_path / "lora"
    with pytest.raises(ModelFileError) as info:
        train_lora(
            tmp_path / "no_tier",  # never read: the model is checked first
            {"architecture": "sd15", **model},
            {"extends": "EXP_FACIAL_UNET_FOCUS_MID"},
            out,
            model_cache=tmp_path / "models",
            backend="diffusers",
        )
    assert key in str(info.value) and "charfolio models" in str(info.value)
    assert not out.exists()
