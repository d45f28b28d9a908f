"""Training presets: the methodology's three as data, user presets, and their validation.

A preset is a plain mapping (YAML in config). `resolve_preset` finds one by name and
applies its `extends` chain; `validate_preset` checks every key against
`preset_fields.FIELDS` and returns a frozen `LoraPreset`. An error names the preset, the key
and what is allowed, because a typo in a preset otherwise surfaces an hour into a GPU job.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from charfolio.lora.preset_fields import (
    DATA_MIX_FIELDS,
    FIELDS,
    PHASE_FIELDS,
    TARGET_MODULE_SETS,
    VALIDATION_FIELDS,
    Field,
)

# Methodology 5.3: rank 512, alpha 512, batch 1 x accumulation 8, UNet only, AdamW8bit,
# cosine_with_restarts; LOW/MID/HIGH trade epochs against learning rate.
_FACIAL_UNET_FOCUS: dict[str, Any] = {
    "rank": 512,
    "alpha": 512,
    "batch_size": 1,
    "gradient_accumulation_steps": 8,
    "target_modules": "ATTN_EXT_FF",
    "train_text_encoder": False,
    "optimizer": "adamw8bit",
    "lr_scheduler": "cosine_with_restarts",
}
BUILTIN_PRESETS: dict[str, dict[str, Any]] = {
    "EXP_FACIAL_UNET_FOCUS_LOW": {
        **_FACIAL_UNET_FOCUS,
        "description": "Maximum precision, slowest training",
        "epochs": 5,
        "learning_rate": 1.0e-4,
    },
    "EXP_FACIAL_UNET_FOCUS_MID": {
        **_FACIAL_UNET_FOCUS,
        "description": "Balanced speed and precision (standard production training)",
        "epochs": 4,
        "learning_rate": 1.2e-4,
    },
    "EXP_FACIAL_UNET_FOCUS_HIGH": {
        **_FACIAL_UNET_FOCUS,
        "description": "Fast experimentation, reasonable quality",
        "epochs": 3,
        "learning_rate": 1.4e-4,
    },
}


class PresetError(ValueError):
    """A preset key is unknown or has a bad value; the message names the key."""


@dataclass(frozen=True)
class ValidationSettings:
    images: bool
    prompts: tuple[str, ...] | None
    num_prompts: int
    seeds: tuple[int, ...]
    steps: int
    guidance_scale: float
    sampler: str
    save_size: int
    loss_timesteps: tuple[int, ...]
    noise_seed: int


@dataclass(frozen=True)
class DataMix:
    """Per-epoch shares of the groups of a manifest column; None shares means equal shares."""

    column: str
    shares: Mapping[str, float] | None
    other: float


@dataclass(frozen=True)
class Phase:
    name: str
    epochs: int
    learning_rate: float
    lr_scheduler: str
    lr_warmup_steps: int
    data_mix: DataMix | None


@dataclass(frozen=True)
class LoraPreset:
    name: str
    description: str
    epochs: int
    learning_rate: float
    text_encoder_learning_rate: float
    rank: int
    alpha: float
    dropout: float
    target_modules: tuple[str, ...]
    train_text_encoder: bool
    text_encoder_target_modules: tuple[str, ...]
    batch_size: int
    gradient_accumulation_steps: int
    optimizer: str
    adam_beta1: float
    adam_beta2: float
    adam_weight_decay: float
    adam_epsilon: float
    max_grad_norm: float | None
    lr_scheduler: str
    lr_warmup_steps: int
    lr_num_cycles: int
    lr_power: float
    min_snr_gamma: float | None
    noise_offset: float
    mixed_precision: str
    gradient_checkpointing: bool
    resolution: int | None
    aspect_ratio_buckets: bool
    bucket_step: int
    max_aspect_ratio: float
    seed: int
    save_dtype: str
    save_every_steps: int | None
    worst_images: int
    validation: ValidationSettings
    phases: tuple[Phase, ...]  # always at least one: a preset without phases has one, "main"

    @property
    def total_epochs(self) -> int:
        return sum(p.epochs for p in self.phases)


def _type_ok(kind: str, value: Any) -> bool:
    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    def is_str_list(v: Any) -> bool:
        return isinstance(v, list) and all(isinstance(x, str) for x in v)

    checks: dict[str, Callable[[Any], bool]] = {
        "int": is_int,
        "number": lambda v: is_int(v) or isinstance(v, float),
        "bool": lambda v: isinstance(v, bool),
        "str": lambda v: isinstance(v, str),
        "str_list": is_str_list,
        "int_list": lambda v: isinstance(v, list) and all(is_int(x) for x in v),
        "str_or_list": lambda v: isinstance(v, str) or (is_str_list(v) and len(v) > 0),
    }
    return checks[kind](value)


_KIND_WORDS = {
    "int": "an integer",
    "number": "a number",
    "bool": "true or false",
    "str": "a string",
    "str_list": "a list of strings",
    "int_list": "a list of integers",
    "str_or_list": "a string or a non-empty list of strings",
}


def _unknown_keys(where: str, mapping: Mapping[str, Any], fields: Mapping[str, Field]) -> None:
    for key in mapping:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise PresetError(
                f"{where}: unknown key {key!r}; {hint}known keys: {', '.join(fields)}"
            )


def _value(where: str, key: str, field: Field, value: Any) -> Any:
    """Check one scalar or list value against its field; return it (lists as tuples)."""
    if value is None:
        if field.nullable:
            return None
        raise PresetError(f"{where}: key {key!r} must be set ({_KIND_WORDS[field.kind]})")
    if not _type_ok(field.kind, value):
        hint = ""
        if isinstance(value, str) and re.fullmatch(r"[+-]?\d+(\.\d*)?[eE][+-]?\d+", value):
            hint = " (YAML reads 1e-4 as text: write 1.0e-4)"
        raise PresetError(
            f"{where}: key {key!r} must be {_KIND_WORDS[field.kind]}, got {value!r}{hint}"
        )
    if field.choices is not None and value not in field.choices:
        raise PresetError(
            f"{where}: key {key!r} is {value!r}; use one of {', '.join(map(str, field.choices))}"
        )
    if field.check is not None and not field.check(value):
        raise PresetError(f"{where}: key {key!r} must be {field.rule}, got {value!r}")
    if field.kind == "number":
        return float(value)
    return tuple(value) if isinstance(value, list) else value


def _section(
    where: str, raw: Any, fields: Mapping[str, Field], special: Mapping[str, Callable[..., Any]]
) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise PresetError(f"{where}: must be a mapping, got {raw!r}")
    _unknown_keys(where, raw, fields)
    out: dict[str, Any] = {}
    for key, field in fields.items():
        value = raw.get(key, field.default)
        if field.kind in special:
            out[key] = special[field.kind](f"{where}.{key}", value)
        else:
            out[key] = _value(where, key, field, value)
    return out


def _shares(where: str, value: Any) -> Mapping[str, float] | None:
    if value == "balanced":
        return None
    if not isinstance(value, Mapping) or not value:
        raise PresetError(
            f"{where}: must be 'balanced' or a mapping {{value: share}}, got {value!r}"
        )
    shares = {}
    for group, share in value.items():
        if isinstance(share, bool) or not isinstance(share, (int, float)) or share < 0:
            raise PresetError(f"{where}: share of {group!r} must be a number >= 0, got {share!r}")
        shares[str(group)] = float(share)  # manifest values are matched as text: 3 == "3"
    if sum(shares.values()) <= 0:
        raise PresetError(f"{where}: shares must not all be 0")
    return shares


def _data_mix(where: str, value: Any) -> DataMix | None:
    if value is None:
        return None
    d = _section(where, value, DATA_MIX_FIELDS, {"shares": _shares})
    return DataMix(column=d["column"], shares=d["shares"], other=d["other"])


def _phases(where: str, value: Any, top: Mapping[str, Any]) -> tuple[Phase, ...]:
    if not isinstance(value, list):
        raise PresetError(f"{where}: must be a list of phase mappings, got {value!r}")
    if not value:
        return (
            Phase("main", top["epochs"], top["learning_rate"], top["lr_scheduler"],
                  top["lr_warmup_steps"], None),
        )  # fmt: skip
    phases = []
    for i, raw in enumerate(value):
        d = _section(f"{where}[{i}]", raw, PHASE_FIELDS, {"data_mix": _data_mix})
        phases.append(
            Phase(
                name=d["name"],
                epochs=d["epochs"] if d["epochs"] is not None else top["epochs"],
                learning_rate=d["learning_rate"] or top["learning_rate"],
                lr_scheduler=d["lr_scheduler"] or top["lr_scheduler"],
                lr_warmup_steps=(
                    d["lr_warmup_steps"]
                    if d["lr_warmup_steps"] is not None
                    else top["lr_warmup_steps"]
                ),
                data_mix=d["data_mix"],
            )
        )
    names = [p.name for p in phases]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PresetError(f"{where}: phase names must be unique; repeated: {duplicates}")
    return tuple(phases)


def _validation(where: str, value: Any) -> ValidationSettings:
    d = _section(where, value, VALIDATION_FIELDS, {})
    return ValidationSettings(**d)


def _target_modules(where: str, value: str | tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(value, str):
        if value not in TARGET_MODULE_SETS:
            raise PresetError(
                f"{where}: key 'target_modules' is {value!r}; use a set name "
                f"({', '.join(TARGET_MODULE_SETS)}) or a list of module-name suffixes"
            )
        return TARGET_MODULE_SETS[value]
    return value


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`; the validation section merges key by key."""
    merged = {**base, **override}
    if isinstance(base.get("validation"), Mapping) and isinstance(
        override.get("validation"), Mapping
    ):
        merged["validation"] = {**base["validation"], **override["validation"]}
    return merged


def resolve_preset(
    name: str, user_presets: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """The preset `name` (user presets first, then built-in) with its `extends` chain applied.

    Returns a plain mapping with `name` set; `validate_preset` checks it.
    """
    user_presets = user_presets or {}
    chain: list[str] = []
    current: str | None = name
    layers: list[Mapping[str, Any]] = []
    while current is not None:
        if current in chain:
            raise PresetError(f"preset {name!r}: 'extends' loops: {' -> '.join([*chain, current])}")
        chain.append(current)
        if current in user_presets:
            layer = user_presets[current]
        elif current in BUILTIN_PRESETS:
            layer = BUILTIN_PRESETS[current]
        else:
            known = sorted({*user_presets, *BUILTIN_PRESETS})
            raise PresetError(
                f"preset {chain[0]!r}: no preset named {current!r}; known presets: {known}"
            )
        if not isinstance(layer, Mapping):
            raise PresetError(f"preset {current!r} must be a mapping, got {layer!r}")
        layers.append(layer)
        current = layer.get("extends")
    merged: dict[str, Any] = {}
    for layer in reversed(layers):
        merged = _merge(merged, layer)
    merged["name"] = name
    merged.pop("extends", None)
    return merged


def validate_preset(
    preset: Mapping[str, Any], user_presets: Mapping[str, Mapping[str, Any]] | None = None
) -> LoraPreset:
    """Check a preset mapping and return it resolved; raises PresetError naming the key.

    A mapping that still has `extends` is resolved first (user presets, then built-in).
    """
    if not isinstance(preset, Mapping):
        raise PresetError(f"a preset must be a mapping, got {preset!r}")
    if preset.get("extends") is not None:
        base = resolve_preset(str(preset["extends"]), user_presets)
        preset = _merge(base, {k: v for k, v in preset.items() if k != "extends"})
        preset.setdefault("name", "custom")
    where = f"preset {preset.get('name', 'custom')!r}"
    top = _section(where, preset, FIELDS, {"validation": _validation, "phases": lambda w, v: v})
    top["target_modules"] = _target_modules(where, top["target_modules"])
    top["phases"] = _phases(f"{where}.phases", top["phases"], top)
    top.pop("extends")
    if top["alpha"] is None:
        top["alpha"] = float(top["rank"])
    if top["text_encoder_learning_rate"] is None:
        top["text_encoder_learning_rate"] = top["learning_rate"]
    if top["validation"].prompts == ():
        raise PresetError(f"{where}.validation: prompts must be null or a non-empty list")
    return LoraPreset(**top)


def preset_names(user_presets: Mapping[str, Any] | None = None) -> Sequence[str]:
    return sorted({*BUILTIN_PRESETS, *(user_presets or {})})
