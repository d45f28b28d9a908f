"""A registry of LoRAs (a YAML file plus the LoRAs this workflow trained) and their composition.

The registry file (config/loras.yaml) is a list of entries:

    - name: film_grain                # unique; how selections refer to it
      path: loras/film_grain.safetensors  # absolute, or relative to the model cache
      trigger_words: [film grain]     # optional; words the LoRA was trained to respond to
      default_weight: 0.8             # optional, 1.0; the weight when a selection gives none
      base_model: sd15                # sd15 | sdxl: the architecture it was trained for

Trained LoRAs are the run folders charfolio.core.layout finds under a character's results, named
`{character}/{preset}/tier_{n}`; their base model comes from training_config.json.

Paths are resolved when a LoRA is composed, not when the registry loads, so a missing file
only fails the run that uses it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml
from diffusers import DiffusionPipeline

from charfolio.core.config import resolve_model_file
from charfolio.core.layout import Results, tier_manifest
from charfolio.generation.pipelines import PIPELINE_CLASSES, LoraSpec, apply_loras

ARCHITECTURES = tuple(PIPELINE_CLASSES)
ENTRY_KEYS = {"name", "path", "trigger_words", "default_weight", "base_model"}
REQUIRED_KEYS = ("name", "path", "base_model")


class LoraRegistryError(ValueError):
    """A registry file, entry or selection that cannot be used; the message names which."""


@dataclass(frozen=True)
class LoraEntry:
    name: str
    path: Path
    base_model: str  # sd15 | sdxl
    trigger_words: tuple[str, ...] = ()
    default_weight: float = 1.0
    source: str = "registry"  # registry | trained

    @property
    def adapter_name(self) -> str:
        # PEFT stores adapters in ModuleDicts, whose keys may not contain "."; "/" is refused too.
        return re.sub(r"\W", "_", self.name)


def _entry_error(
    source: str, index: int, name: object, key: str, problem: str
) -> LoraRegistryError:
    label = f"entry {index}" + (f" ({name!r})" if isinstance(name, str) and name else "")
    return LoraRegistryError(f"{source}: {label}, key {key!r}: {problem}")


def parse_entry(raw: Any, index: int, source: str) -> LoraEntry:
    """One registry entry, validated; errors name the file, the entry and the key."""
    if not isinstance(raw, Mapping):
        raise LoraRegistryError(
            f"{source}: entry {index} is a {type(raw).__name__}, expected a mapping with "
            f"keys {', '.join(sorted(ENTRY_KEYS))}"
        )
    name = raw.get("name")
    unknown = sorted(set(raw) - ENTRY_KEYS)
    if unknown:
        raise _entry_error(
            source, index, name, unknown[0], f"unknown key; use {', '.join(sorted(ENTRY_KEYS))}"
        )
    for key in REQUIRED_KEYS:
        if raw.get(key) in (None, ""):
            raise _entry_error(source, index, name, key, "missing")
    for key in ("name", "path"):
        if not isinstance(raw[key], str):
            raise _entry_error(source, index, name, key, f"must be a string, got {raw[key]!r}")
    if raw["base_model"] not in ARCHITECTURES:
        raise _entry_error(
            source, index, name, "base_model",
            f"{raw['base_model']!r} is not one of {', '.join(ARCHITECTURES)}",
        )  # fmt: skip
    words = raw.get("trigger_words") or []
    if isinstance(words, str):
        words = [words]
    if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
        raise _entry_error(
            source,
            index,
            name,
            "trigger_words",
            f"must be a list of non-empty strings, got {words!r}",
        )
    weight = raw.get("default_weight", 1.0)
    # bool is an int subclass; `default_weight: yes` is a typo, not a weight of 1.
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise _entry_error(
            source, index, name, "default_weight", f"must be a number, got {weight!r}"
        )
    return LoraEntry(
        name=raw["name"],
        path=Path(raw["path"]),
        base_model=raw["base_model"],
        trigger_words=tuple(w.strip() for w in words),
        default_weight=float(weight),
    )


def _token_in_run(token: str, config_text: str, tier_dir: Path | None) -> bool:
    """Whether `token` occurs in the run's training config or its tier's captions."""
    pattern = re.compile(rf"\b{re.escape(token)}\b", re.IGNORECASE)
    if pattern.search(config_text):
        return True
    manifest = tier_manifest(tier_dir) if tier_dir is not None else None
    if manifest is None or not manifest.is_file():
        return False
    table = pq.read_table(manifest)
    if "caption" not in table.column_names:
        return False
    return any(pattern.search(c) for c in table.column("caption").to_pylist() if c)


def trained_lora_name(character: str, preset: str, n: int) -> str:
    return f"{character}/{preset}/tier_{n}"


def discover_trained_loras(
    results_dir: str | os.PathLike[str], character: str, token: str | None = None
) -> list[LoraEntry]:
    """The LoRAs trained for `character`, named `{character}/{preset}/tier_{n}`.

    The trigger word is the character's `token` when the run used it (in training_config.json
    or the tier's captions): a LoRA trained on captions without the token has none.
    """
    entries = []
    for run in Results(os.fspath(results_dir)).character(character).trained_runs():
        weights, config_path = run.weights, run.training_config
        if not config_path.is_file():
            raise LoraRegistryError(
                f"{config_path} is missing, so the base model of {weights} is unknown; "
                f"rerun the train_lora rule for it"
            )
        text = config_path.read_text(encoding="utf-8")
        try:
            config = json.loads(text)
            architecture = config["model"]["architecture"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise LoraRegistryError(
                f"{config_path}: no model.architecture ({error!r}); rerun the train_lora rule"
            ) from error
        if architecture not in ARCHITECTURES:
            raise LoraRegistryError(
                f"{config_path}: model.architecture {architecture!r} is not one of "
                f"{', '.join(ARCHITECTURES)}"
            )
        tier_dir = (config.get("data") or {}).get("tier_dir")
        used = token is not None and _token_in_run(
            token, text, Path(tier_dir) if tier_dir else None
        )
        entries.append(
            LoraEntry(
                name=trained_lora_name(character, run.preset, run.n),
                path=weights,
                base_model=architecture,
                trigger_words=(token,) if used and token else (),
                source="trained",
            )
        )
    return entries


def pipeline_architecture(pipe: DiffusionPipeline) -> str:
    """sd15 or sdxl, from the pipeline's class (SDXL subclasses count as sdxl)."""
    for architecture in ("sdxl", "sd15"):  # most specific first
        if isinstance(pipe, PIPELINE_CLASSES[architecture]):
            return architecture
    raise LoraRegistryError(
        f"cannot tell the architecture of a {type(pipe).__name__}; LoRAs compose onto "
        f"{', '.join(cls.__name__ for cls in PIPELINE_CLASSES.values())} only"
    )


class LoraRegistry:
    """LoRAs by name; `compose` applies a selection of them to a pipeline."""

    def __init__(self, entries: Iterable[LoraEntry] = (), model_cache: str | None = None) -> None:
        self.model_cache = model_cache
        self.entries: dict[str, LoraEntry] = {}
        self.add(entries)

    @classmethod
    def from_yaml(
        cls, path: str | os.PathLike[str], model_cache: str | None = None
    ) -> LoraRegistry:
        """The registry file; an empty file or `[]` is an empty registry."""
        path = Path(path)
        if not path.is_file():
            raise LoraRegistryError(
                f"LoRA registry {path} not found; create it (see config/loras.yaml)"
            )
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise LoraRegistryError(f"{path}: not valid YAML: {error}") from error
        if raw is None:
            raw = []
        if not isinstance(raw, list):
            raise LoraRegistryError(
                f"{path}: the registry must be a list of entries, got a {type(raw).__name__}"
            )
        entries = [parse_entry(item, i, str(path)) for i, item in enumerate(raw)]
        try:
            return cls(entries, model_cache)
        except LoraRegistryError as error:  # duplicate names: say which file holds them
            raise LoraRegistryError(f"{path}: {error}") from error

    def add(self, entries: Iterable[LoraEntry]) -> None:
        for entry in entries:
            if entry.name in self.entries:
                raise LoraRegistryError(f"LoRA name {entry.name!r} is registered twice")
            clash = next(
                (e for e in self.entries.values() if e.adapter_name == entry.adapter_name), None
            )
            if clash is not None:
                raise LoraRegistryError(
                    f"LoRAs {clash.name!r} and {entry.name!r} map to the same adapter name "
                    f"{entry.adapter_name!r}; rename one"
                )
            self.entries[entry.name] = entry

    def add_trained(
        self, results_dir: str | os.PathLike[str], character: str, token: str | None = None
    ) -> list[LoraEntry]:
        """Register the LoRAs trained for `character`; returns them."""
        found = discover_trained_loras(results_dir, character, token)
        self.add(found)
        return found

    def get(self, name: str) -> LoraEntry:
        if name not in self.entries:
            known = ", ".join(sorted(self.entries)) or "none registered"
            raise LoraRegistryError(f"unknown LoRA {name!r}; known: {known}")
        return self.entries[name]

    def trigger_words(self, names: Iterable[str]) -> list[str]:
        """The trigger words of these LoRAs, in order, each once."""
        return list(dict.fromkeys(w for n in names for w in self.get(n).trigger_words))

    def specs(
        self, selections: Sequence[tuple[str, float | None]], architecture: str
    ) -> list[LoraSpec]:
        """Resolved LoraSpecs; refuses duplicates, missing files and other base models."""
        names = [name for name, _ in selections]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise LoraRegistryError(f"LoRA {repeated[0]!r} is selected more than once")
        specs = []
        for name, weight in selections:
            entry = self.get(name)
            if entry.base_model != architecture:
                raise LoraRegistryError(
                    f"LoRA {name!r} was trained for {entry.base_model} but the pipeline is "
                    f"{architecture}; its layers do not match. Pick a {architecture} LoRA or "
                    f"load a {entry.base_model} model"
                )
            path = resolve_model_file(entry.path, self.model_cache, f"LoRA {name!r}")
            chosen = entry.default_weight if weight is None else float(weight)
            specs.append(LoraSpec(path, chosen, entry.adapter_name))
        return specs

    def compose(
        self,
        pipe: DiffusionPipeline,
        selections: Sequence[tuple[str, float | None]],
        fuse: bool = False,
    ) -> list[LoraSpec]:
        """Apply the selected LoRAs at their weights (None: the default; negative allowed).

        With `fuse`, the weighted LoRAs are merged into the base weights and the adapters
        unloaded: the same images, no per-step LoRA cost, but the pipeline cannot be unfused
        by weight changes any more. Returns what was applied.
        """
        specs = self.specs(selections, pipeline_architecture(pipe))
        loaded = set(pipe.get_list_adapters().get("unet", [])) if specs else set()
        already = sorted(loaded & {s.adapter_name for s in specs})
        if already:
            raise LoraRegistryError(
                f"adapter {already[0]!r} is already loaded in this pipeline; call "
                f"pipe.unload_lora_weights() before composing again"
            )
        apply_loras(pipe, specs)
        if fuse and specs:
            # fuse_lora merges at the scales set_adapters gave each adapter.
            pipe.fuse_lora(adapter_names=[s.adapter_name for s in specs], lora_scale=1.0)
            pipe.unload_lora_weights()
        return specs
