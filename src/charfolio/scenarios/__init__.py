"""Scenario prompts (methodology Phase 1): modifiers such as ", surfer carving a wave in a
rocky point break, golden backlight, triumphant grin" appended to a character's base prompt.

`make_scenarios` runs the backend named by `scenarios.backend` (template grammar or
llama.cpp), fills the category quotas apportioned from `scenarios.category_mix`, and
writes every candidate line, accepted or rejected with its reason, to one table.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import pyarrow as pa

from charfolio.core import tables
from charfolio.core.config import CharacterPrompt, ConfigError
from charfolio.scenarios.collector import Collector, ScenarioGenerationError
from charfolio.scenarios.lexicon import SCENARIO_CATEGORIES
from charfolio.scenarios.validation import (
    MAX_WORDS,
    REJECT_REASONS,
    apportion,
    categorize,
    validate_scenario,
)

__all__ = [
    "REJECT_REASONS",
    "SCENARIO_CATEGORIES",
    "ScenarioGenerationError",
    "apportion",
    "categorize",
    "make_scenarios",
    "validate_scenario",
]


class ScenarioBackend(Protocol):
    name: str  # the table's `backend` column
    model: str  # the table's `model` column

    def fill(
        self, collector: Collector, character: CharacterPrompt, log: Callable[[str], None]
    ) -> None:
        """Offer lines to `collector` until it is done; else raise ScenarioGenerationError."""
        ...


# Backends are imported on first use, so the template path never imports llama_cpp.
_BACKENDS = {
    "template": ("charfolio.scenarios.grammar", "TemplateBackend"),
    "llama_cpp": ("charfolio.scenarios.llama", "LlamaBackend"),
}


def create_scenario_backend(
    scenarios_cfg: Mapping[str, Any], model_cache: str | None = None
) -> ScenarioBackend:
    name = scenarios_cfg["backend"]
    if name not in _BACKENDS:
        raise ConfigError(
            f"scenarios.backend: unknown backend {name!r}; use one of {sorted(_BACKENDS)}"
        )
    module, cls = _BACKENDS[name]
    return getattr(importlib.import_module(module), cls)(scenarios_cfg, model_cache)


def make_scenarios(
    scenarios_cfg: Mapping[str, Any],
    character: CharacterPrompt,
    out_path: str | os.PathLike[str],
    model_cache: str | None = None,
    log: Callable[[str], None] = print,
) -> pa.Table:
    """Generate `scenarios.count` scenarios for `character` and write the SCENARIOS table.

    `scenarios_cfg` is the validated `scenarios:` config section (defaults filled). The
    table holds the accepted lines first (index 0..count-1, categories interleaved), then
    every rejected line with its reason, so the run can be audited.
    """
    count, min_words = scenarios_cfg["count"], scenarios_cfg["min_words"]
    if min_words > MAX_WORDS:
        raise ConfigError(
            f"scenarios.min_words is {min_words}, above the {MAX_WORDS}-word limit of a "
            f"scenario; lower it"
        )
    try:
        quotas = apportion(count, scenarios_cfg["category_mix"])
    except ValueError as err:
        raise ConfigError(str(err)) from err
    log(
        f"scenarios: {count} for {character.name} from backend {scenarios_cfg['backend']}, "
        f"quotas " + ", ".join(f"{c} {quotas[c]}" for c in SCENARIO_CATEGORIES)
    )
    backend = create_scenario_backend(scenarios_cfg, model_cache)
    collector = Collector(quotas, min_words)
    backend.fill(collector, character, log)
    rows = collector.rows(backend.name, backend.model)
    rejected = len(rows) - count
    log(f"scenarios: {count} accepted, {rejected} rejected, written to {out_path}")
    return tables.write_table(out_path, rows, tables.SCENARIOS)
