"""The template backend: a seeded grammar that writes scenarios without a model.

Lines have the methodology's form ", [noun] [action/pose] in [location], [lighting/mood]":
", {role} {action} in {place}, {light}, {mood}", drawn from `vocabulary.VOCABULARY`, whose
scenes keep each line coherent and in its category.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from charfolio.core.config import CharacterPrompt
from charfolio.scenarios.collector import Collector, ScenarioGenerationError
from charfolio.scenarios.lexicon import SCENARIO_CATEGORIES
from charfolio.scenarios.validation import count_words
from charfolio.scenarios.vocabulary import VOCABULARY

MODEL_NAME = "template-grammar-v1"

# Appended, in this order, only when a config asks for more words than a line has.
_DETAILS = (
    "sharp focus",
    "natural skin texture",
    "shallow depth of field",
    "balanced composition",
    "fine film grain",
    "realistic colors",
    "high detail",
    "subtle background blur",
    "true to life tones",
    "crisp clean edges",
)
# The draws of one category stop after this many passes over its (role, action, place)
# combinations; far more than any count a portfolio needs.
_MAX_PASSES = 50


def pad_to(line: str, min_words: int) -> str:
    """Append neutral photographic details until `line` has at least `min_words` words."""
    for detail in _DETAILS:
        if count_words(line) >= min_words:
            break
        line = f"{line}, {detail}"
    return line


def template_lines(category: str, seed: int, min_words: int = 8) -> Iterator[str]:
    """Scenario lines for `category`, deterministic in (category, seed), varied in order.

    Each pass visits every (role, action, place) combination once, scenes taking turns so
    consecutive lines differ in scene, with a fresh light and mood per line; later passes
    give the same combinations other lights and moods. Repeats are possible, so callers
    validate (duplicates are rejected there).
    """
    vocab = VOCABULARY[category]
    # A string seed is hashed with SHA-512 by `random`, so this is stable across runs.
    rng = random.Random(f"{MODEL_NAME}:{seed}:{category}")
    scene_order = list(range(len(vocab.scenes)))
    for _ in range(_MAX_PASSES):
        rng.shuffle(scene_order)
        per_scene = []
        for rank, index in enumerate(scene_order):
            scene = vocab.scenes[index]
            combos = [(r, a, p) for r in scene.roles for a in scene.actions for p in scene.places]
            rng.shuffle(combos)
            per_scene.append([(turn, rank, combo) for turn, combo in enumerate(combos)])
        for _, _, (role, action, place) in sorted(item for s in per_scene for item in s):
            light, mood = rng.choice(vocab.lights), rng.choice(vocab.moods)
            yield pad_to(f", {role} {action} in {place}, {light}, {mood}", min_words)


class TemplateBackend:
    """Fills each category's quota from its own grammar stream, in SCENARIO_CATEGORIES order."""

    name = "template"
    model = MODEL_NAME

    def __init__(self, scenarios_cfg: Mapping[str, Any], model_cache: str | None) -> None:
        self.seed = int(scenarios_cfg["seed"])

    def fill(
        self, collector: Collector, character: CharacterPrompt, log: Callable[[str], None]
    ) -> None:
        for category in SCENARIO_CATEGORIES:
            lines = template_lines(category, self.seed, collector.min_words)
            while collector.remaining()[category] > 0:
                line = next(lines, None)
                if line is None:
                    raise ScenarioGenerationError(
                        f"the template grammar ran out of distinct {category} scenarios at "
                        f"{len(collector.accepted[category])} of {collector.quotas[category]}; "
                        f"lower scenarios.count or use scenarios.backend: llama_cpp"
                    )
                collector.offer(line, attempt=1)
        log(f"scenarios (template grammar, seed {self.seed}): {collector.progress()}")
