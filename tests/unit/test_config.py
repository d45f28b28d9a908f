from pathlib import Path

import pytest
import yaml

from charfolio.core.config import (
    ConfigError,
    ModelFileError,
    load_character,
    load_yaml,
    resolve_model_file,
    validate,
)

REPO = Path(__file__).resolve().parents[2]


def test_shipped_configs_are_valid_and_get_defaults():
    config = validate(load_yaml(REPO / "config" / "config.yaml"), "config", "config.yaml")
    assert config["scenarios"]["llama_cpp"]["temperature"] == 0.8
    assert config["scenarios"]["llama_cpp"]["top_p"] == 0.95
    assert config["scenarios"]["llama_cpp"]["top_k"] == 40
    assert config["distribution"]["batch_size"] == 5
    demo = validate(load_yaml(REPO / "config" / "demo.yaml"), "config", "demo.yaml")
    assert demo["generation"]["backend"] == "reference_variation"
    # defaults fill nested sections that the file leaves out
    assert demo["generation"]["sampler"] == "dpmpp_2m"


def test_gentle_freckled_matches_the_methodology():
    c = load_character(REPO / "config" / "characters" / "gentle_freckled.yaml")
    assert c.token == "ember"
    assert c.base_seed == 966983
    assert c.base_prompt.startswith("male soft features, light freckled skin")
    assert c.negative_prompt.startswith("(deformed iris, deformed pupils")


def test_bad_config_names_key_and_allowed_values():
    bad = {"scenarios": {"backend": "gpt", "extra": 1}, "generation": {"sigmas": "linear"}}
    with pytest.raises(ConfigError) as info:
        validate(bad, "config", "my.yaml")
    message = str(info.value)
    assert "my.yaml" in message
    assert "scenarios.backend: 'gpt' is not allowed; use one of 'template', 'llama_cpp'" in message
    assert "'extra' was unexpected" in message
    assert "generation.sigmas" in message and "'karras'" in message


def test_character_name_must_match_file(tmp_path):
    path = tmp_path / "alice.yaml"
    path.write_text(
        yaml.safe_dump({"name": "bob", "token": "x", "base_prompt": "a woman", "base_seed": 1})
    )
    with pytest.raises(ConfigError, match="make them match"):
        load_character(path)


def test_missing_character_file_names_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="characters list"):
        load_character(tmp_path / "nobody.yaml")


def test_character_requires_keys(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: c\n")
    with pytest.raises(ConfigError, match="'token' is a required property"):
        load_character(path)


def test_non_mapping_yaml_is_an_error(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_yaml(path)


def test_model_file_lookup_by_path_then_cache(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "m.safetensors").write_bytes(b"x")
    assert resolve_model_file("m.safetensors", cache, "model") == cache / "m.safetensors"
    with pytest.raises(ModelFileError, match="charfolio models"):
        resolve_model_file("absent.safetensors", cache, "checkpoint")


@pytest.mark.parametrize("suffix", [".ckpt", ".pt", ".bin", ".pth"])
def test_pickle_checkpoints_are_refused(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    path.write_bytes(b"not really a pickle")
    with pytest.raises(ModelFileError, match="refusing to load a pickle"):
        resolve_model_file(path, None, "checkpoint")
