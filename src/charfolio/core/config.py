"""Config and character files: JSON-Schema validation with defaults, typed views, model paths.

The schemas live in the workflow (workflow/schemas/*.schema.yaml, draft 2020-12, found
through charfolio.core.workflow_files); the Snakefile and the CLI both validate through
`validate`, so a bad config fails before any job runs, with one line per problem naming
the key and what is allowed.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from charfolio.core.workflow_files import schema_dir

# Model weights are read only from formats that cannot execute code on load.
SAFE_MODEL_SUFFIXES = (".safetensors", ".onnx", ".gguf")
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pickle")
PICKLE_HINT = (
    "pickle files can run code when loaded; use a .safetensors file (convert it with "
    "safetensors.torch.save_file or diffusers) and point the config at that"
)
# The schemas mark every key that names a model file or folder with this format.
MODEL_FILE_FORMAT = "model-file"
# A character name: the {character} wildcard, a results/ folder and a character file's stem.
CHARACTER_NAME = r"[a-z0-9][a-z0-9_]*"


class ConfigError(ValueError):
    """A config or character file does not match its schema."""


class ModelFileError(FileNotFoundError):
    """A model file a config names is missing or in a refused format."""


def _with_defaults(validator_class: type[jsonschema.protocols.Validator]) -> type:
    """Extend a validator so it fills `default:` values into the instance as it validates."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):  # type: ignore[no-untyped-def]
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_DefaultFillingValidator = _with_defaults(jsonschema.Draft202012Validator)
_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks(MODEL_FILE_FORMAT)
def _is_not_pickle(value: object) -> bool:
    return not (isinstance(value, str) and is_pickle_name(value))


def is_pickle_name(name: str) -> bool:
    """Whether a model file name has a pickle suffix (a format that can run code on load)."""
    return Path(name).suffix.lower() in PICKLE_SUFFIXES


def pickle_fix(key: str, name: str) -> str:
    """The refusal of a pickle model file a config key names, and what to do instead."""
    return (
        f"{key}: {name!r} is a pickle file ({Path(name).suffix}), which can run code when "
        f"loaded; convert it to .safetensors (or use an ONNX or GGUF file, or a diffusers "
        f"folder of .safetensors) and point {key} at that"
    )


def _describe(error: jsonschema.ValidationError) -> str:
    key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    if error.validator == "format" and error.validator_value == MODEL_FILE_FORMAT:
        return pickle_fix(key, error.instance)
    if error.validator == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value)
        return f"{key}: {error.instance!r} is not allowed; use one of {allowed}"
    if error.validator == "additionalProperties":
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        return f"{key}: {error.message}; allowed keys here: {allowed}"
    return f"{key}: {error.message}"


def load_schema(name: str) -> dict[str, Any]:
    path = schema_dir() / f"{name}.schema.yaml"
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def validate(data: dict[str, Any], schema_name: str, source: str) -> dict[str, Any]:
    """Validate `data` in place against a named schema, filling defaults; raise ConfigError."""
    schema = load_schema(schema_name)
    errors = sorted(
        _DefaultFillingValidator(schema, format_checker=_FORMATS).iter_errors(data),
        key=lambda e: list(e.absolute_path),
    )
    if errors:
        lines = "\n".join(f"  - {_describe(e)}" for e in errors)
        raise ConfigError(f"{source} is not a valid {schema_name} file:\n{lines}")
    return data


def merge_configs(layers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Config mappings merged like Snakemake's --configfile: later ones override, key by key."""
    merged: dict[str, Any] = {}
    for layer in layers:
        _deep_update(merged, copy.deepcopy(dict(layer)))
    return merged


def _deep_update(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_update(base[key], value)
        else:
            base[key] = value


def load_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A YAML file's top-level mapping; a syntax error names the file, the line and the fix."""
    with open(path, encoding="utf-8") as fh:
        try:
            data = yaml.safe_load(fh) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{path} is not valid YAML: {_yaml_problem(error)}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def check_yaml_file(path: str | os.PathLike[str]) -> None:
    """Fail naming the line when a config file that exists is not a YAML mapping.

    For the Snakefile's own `configfile:`, whose Snakemake error names neither file nor line.
    """
    if Path(path).is_file():
        load_yaml(path)


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(error, "problem", None) or str(error)
    return (
        f"{problem}{where}; fix the syntax there (indent with spaces, not tabs; close every "
        f"bracket and quote)"
    )


@dataclass(frozen=True)
class CharacterPrompt:
    """The character fields that decide generated images (rules pass only these as params,
    so editing a caption template never reruns generation)."""

    name: str
    class_word: str
    base_prompt: str
    negative_prompt: str
    base_seed: int


@dataclass(frozen=True)
class Character:
    """A character: what it looks like in prompts and how its seeds and captions are made."""

    name: str
    token: str
    class_word: str
    base_prompt: str
    negative_prompt: str
    base_seed: int
    caption_template: str
    image_folder: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Character:
        return cls(**{f: data[f] for f in cls.__dataclass_fields__})

    def prompt(self) -> CharacterPrompt:
        return CharacterPrompt(
            self.name, self.class_word, self.base_prompt, self.negative_prompt, self.base_seed
        )


def load_character(path: str | os.PathLike[str]) -> Character:
    """Read and validate a character file; its `name` must match the file name."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"character file {path} does not exist; add it or remove "
            f"'{path.stem}' from the config's characters list"
        )
    data = validate(load_yaml(path), "character", str(path))
    if data["name"] != path.stem:
        raise ConfigError(
            f"{path}: name is {data['name']!r} but the file is {path.name}; make them match"
        )
    return Character.from_dict(data)


def resolve_model_file(
    path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None, what: str
) -> Path:
    """Find a model file (or diffusers folder) by path, else inside the model cache.

    Refuses pickle checkpoints, and names the file and the fix when it is missing.
    """
    candidates = [Path(path).expanduser()]
    if cache_dir is not None and not candidates[0].is_absolute():
        candidates.append(Path(cache_dir).expanduser() / path)
    found = next((c for c in candidates if c.exists()), None)
    if found is None:
        looked = " or ".join(str(c) for c in candidates)
        raise ModelFileError(
            f"{what} not found: {looked}. Fetch the config's model files on a node with "
            f"internet access with `charfolio models --config <your config>`, or fix the path."
        )
    if found.is_file():
        check_safe_model_format(found)
    return found


def check_safe_model_format(path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise ModelFileError(
            f"{path}: refusing to load a pickle checkpoint ({suffix}); pickle files can run code "
            f"when loaded. Convert it to .safetensors (for example with diffusers or "
            f"safetensors' convert script) and point the config at that file."
        )
    if suffix not in SAFE_MODEL_SUFFIXES:
        raise ModelFileError(
            f"{path}: unsupported model file type {suffix!r}; use one of {', '.join(SAFE_MODEL_SUFFIXES)}"
        )
