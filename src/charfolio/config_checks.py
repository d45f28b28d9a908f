"""What a valid config must also satisfy across keys: checks the schema cannot express.

None of them needs data, so the Snakefile (rules/common.smk, at DAG time) and every
`charfolio` command (through `load_config`) run `check_config`: a config that would fail
hours into a run, after generation, fails before any job, with one line per problem naming
the key and the fix.
Light imports only: every job re-reads common.smk.
"""

from __future__ import annotations

import urllib.parse
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from charfolio.core.config import (
    ConfigError,
    is_pickle_name,
    load_yaml,
    merge_configs,
    pickle_fix,
    validate,
)
from charfolio.core.plugins import REINSTALL_HINT
from charfolio.curate.tier_floors import check_tiers
from charfolio.generation.backends import image_backend_names
from charfolio.lora.base_model import base_model_names
from charfolio.lora.presets import PresetError, validate_preset
from charfolio.story.settings import check_story_config


def load_config(paths: Sequence[str]) -> dict[str, Any]:
    """Config files merged like Snakemake does (later files override), then checked."""
    return checked_config([load_yaml(path) for path in paths], " + ".join(paths))


def checked_config(layers: Sequence[Mapping[str, Any]], source: str) -> dict[str, Any]:
    """Merge config mappings (later ones override), validate them and run the cross-key
    checks: exactly what rules/common.smk does at DAG time."""
    config = validate(merge_configs(layers), "config", source)
    check_config(config, source)
    return config


def check_config(config: Mapping[str, Any], source: str) -> None:
    """Raise ConfigError listing every cross-key problem of a schema-valid config."""
    problems = [
        *_tier_problems(config["curation"]["tiers"]),
        *_training_problems(config),
        *_download_problems(config["model_sources"]),
        *_backend_problems(config),
    ]
    try:
        check_story_config(config)  # e.g. reference_guided without story.ip_adapter
    except ConfigError as error:
        problems.append(str(error))
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(f"{source} is not a valid config file:\n{lines}")


def _backend_problems(config: Mapping[str, Any]) -> Iterator[str]:
    """Backends are a registry other packages extend (entry points), so the schema cannot
    list them: an unknown name fails here, before any job."""
    for key, name, known in (
        ("generation.backend", config["generation"]["backend"], image_backend_names()),
        ("training.backend", config["training"]["backend"], base_model_names()),
    ):
        if name not in known:
            yield (
                f"{key}: {name!r} is not an installed backend; use one of {known} (a package "
                f"adds backends through entry points; {REINSTALL_HINT})"
            )


def _tier_problems(tiers: list[Mapping[str, Any]]) -> Iterator[str]:
    """Selection and refinement must agree on each tier's floor, and the floors must nest."""
    repeated = sorted(n for n, count in Counter(t["size"] for t in tiers).items() if count > 1)
    if repeated:
        yield (
            f"curation.tiers: size {', '.join(map(str, repeated))} is listed twice; keep one "
            f"entry per tier size"
        )
        return
    try:
        check_tiers({t["size"]: t.get("floor") for t in tiers})
    except ValueError as error:
        yield f"curation.tiers: {error}; lower the larger tier's floor (or set it to null)"


def _training_problems(config: Mapping[str, Any]) -> Iterator[str]:
    training = config["training"]
    sizes = [t["size"] for t in config["curation"]["tiers"]]
    unknown = [n for n in training["tiers"] if n not in sizes]
    if unknown:
        yield (
            f"training.tiers: {unknown} {'is' if len(unknown) == 1 else 'are'} not in "
            f"curation.tiers (sizes {sizes}); train on a configured tier, or add "
            f"{{size: {unknown[0]}}} to curation.tiers"
        )
    for preset in training["presets"]:
        try:
            validate_preset({"extends": preset}, training["user_presets"])
        except PresetError as error:
            yield f"training.presets: {error}"
    # training.tier_variant refined trains on tier_{n}_refined/, which needs refinement rounds.
    if training["tier_variant"] == "refined" and config["balance"]["refine"]["rounds"] < 1:
        yield (
            "training.tier_variant is refined but balance.refine.rounds is 0, so no refined "
            "tier is built; set balance.refine.rounds to 1 or more, or training.tier_variant "
            "to tier or balanced"
        )


def _download_problems(sources: Mapping[str, Mapping[str, Any]]) -> Iterator[str]:
    """A pickle download is refused when fetched; say so before that."""
    for name, source in sources.items():
        url_path = urllib.parse.urlparse(source["url"]).path
        if source.get("unpack") is None and is_pickle_name(url_path):
            yield pickle_fix(f"model_sources.{name}.url", source["url"])
