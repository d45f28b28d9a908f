"""The methodology's seed distribution and the plan of every image in a seed-group shard.

Worked example (methodology, Phase 2.3): 50 originals, 600 modified, batch 5, 60
scenarios -> 10 seed groups, 5 originals and 120 scenario images per seed, 2 images per
scenario per seed. Seed group g uses seed base_seed + g.

Noise: each image has its own generator seed, stored in its row, so any image can be
regenerated alone. Image `variant` v of group g uses seed base_seed + g + v * groups:
variant 0 of group 0 is the base seed itself, groups never collide, and the j-th image
of every scenario reuses the j-th original's noise, which keeps composition consistent
across scenarios within a seed group (the point of seed-consistent generation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

IMAGE_MODES = ("original", "scenario", "multi_batch")


@dataclass(frozen=True)
class Distribution:
    num_seed_groups: int
    original_per_seed: int
    images_per_scenario_per_seed: int
    modified_per_seed: int
    multi_batch_per_seed: int
    num_scenarios: int

    @property
    def images_per_seed(self) -> int:
        return self.original_per_seed + self.modified_per_seed + self.multi_batch_per_seed

    @property
    def total_images(self) -> int:
        return self.num_seed_groups * self.images_per_seed


def calculate_distribution(
    original_images: int,
    modified_images: int,
    batch_size: int,
    num_scenarios: int,
    min_images_per_scenario: int = 2,
    multi_batch_per_seed: int = 0,
) -> Distribution:
    """The methodology's calculator: groups from originals, scenario images from the rest."""
    if original_images < 1 or batch_size < 1:
        raise ValueError("original_images and batch_size must be at least 1")
    if num_scenarios < 0 or modified_images < 0 or multi_batch_per_seed < 0:
        raise ValueError("counts must not be negative")
    groups = math.ceil(original_images / batch_size)
    per_scenario = 0
    if num_scenarios > 0:
        # ceil, so the requested number of modified images is always reached
        per_scenario = max(
            min_images_per_scenario, math.ceil(modified_images / (groups * num_scenarios))
        )
    return Distribution(
        num_seed_groups=groups,
        original_per_seed=batch_size,
        images_per_scenario_per_seed=per_scenario,
        modified_per_seed=per_scenario * num_scenarios,
        multi_batch_per_seed=multi_batch_per_seed,
        num_scenarios=num_scenarios,
    )


def group_seeds(base_seed: int, dist: Distribution) -> list[int]:
    return [base_seed + g for g in range(dist.num_seed_groups)]


def generator_seed(base_seed: int, group: int, variant: int, dist: Distribution) -> int:
    return base_seed + group + variant * dist.num_seed_groups


@dataclass(frozen=True)
class ScenarioRef:
    index: int
    text: str
    category: str


@dataclass(frozen=True)
class ImageSpec:
    """Everything about one image that the distribution decides."""

    file_name: str
    seed: int
    seed_group: int
    mode: str
    mode_index: int
    scenario_index: int | None
    scenario: str | None
    category: str | None
    variant: int
    generator_seed: int
    prompt: str


def plan_shard(
    character_name: str,
    base_prompt: str,
    base_seed: int,
    seed: int,
    dist: Distribution,
    scenarios: Sequence[ScenarioRef],
    multi_batch_modifiers: Sequence[str],
) -> list[ImageSpec]:
    """Every image of the seed group whose seed is `seed`, in generation order."""
    group = seed - base_seed
    if not 0 <= group < dist.num_seed_groups:
        raise ValueError(
            f"seed {seed} is not one of {character_name}'s seed groups "
            f"({base_seed}..{base_seed + dist.num_seed_groups - 1})"
        )
    if len(scenarios) < dist.num_scenarios:
        raise ValueError(
            f"the plan needs {dist.num_scenarios} scenarios, only {len(scenarios)} given"
        )
    if dist.multi_batch_per_seed and not multi_batch_modifiers:
        raise ValueError("multi_batch_per_seed > 0 needs at least one multi-batch modifier")
    stem = f"char_{character_name}_seed_{seed}"
    specs: list[ImageSpec] = []

    def add(name: str, mode: str, mode_index: int, variant: int, prompt: str,
            scenario: ScenarioRef | None = None) -> None:  # fmt: skip
        specs.append(
            ImageSpec(
                file_name=f"{stem}_{name}.png",
                seed=seed,
                seed_group=group,
                mode=mode,
                mode_index=mode_index,
                scenario_index=scenario.index if scenario else None,
                scenario=scenario.text if scenario else None,
                category=scenario.category if scenario else None,
                variant=variant,
                generator_seed=generator_seed(base_seed, group, variant, dist),
                prompt=prompt,
            )
        )

    for i in range(dist.original_per_seed):
        add(f"original_{i + 1:02d}", "original", i + 1, i, base_prompt)
    for scenario in scenarios[: dist.num_scenarios]:
        for j in range(dist.images_per_scenario_per_seed):
            add(f"scenario_{scenario.index + 1:02d}_{j + 1:02d}", "scenario", j + 1, j,
                base_prompt + scenario.text, scenario)  # fmt: skip
    first_multi_variant = max(dist.original_per_seed, dist.images_per_scenario_per_seed)
    for k in range(dist.multi_batch_per_seed):
        modifier = multi_batch_modifiers[
            (group * dist.multi_batch_per_seed + k) % len(multi_batch_modifiers)
        ]
        add(
            f"multi_batch_{k + 1:02d}",
            "multi_batch",
            k + 1,
            first_multi_variant + k,
            base_prompt + modifier,
        )
    return specs


def seed_group_count(original_images: int, batch_size: int) -> int:
    """Seed groups the calculator makes; known before scenarios exist (for the DAG)."""
    return math.ceil(original_images / batch_size)
