# Validation, wildcard constraints and input functions. Nothing else belongs here.
import dataclasses
import functools
from pathlib import Path

from charfolio import versions
from charfolio.config import load_character, validate
from charfolio.distribution import seed_group_count

validate(config, "config", "the workflow config")


wildcard_constraints:
    character=r"[a-z0-9][a-z0-9_]*",
    seed=r"\d+",


@functools.cache
def character(name):
    return load_character(Path(config["character_dir"]) / f"{name}.yaml")


def seeds(name):
    """The seed of every seed group of a character (base_seed + g)."""
    dist = config["distribution"]
    count = seed_group_count(dist["original_images"], dist["batch_size"])
    return [character(name).base_seed + g for g in range(count)]


def prompt_fields(wildcards):
    """Only the character fields that change images: editing a caption reruns no generation."""
    return dataclasses.asdict(character(wildcards.character).prompt())


def shard_tables(wildcards):
    return expand(
        "results/{character}/images/seed_{seed}.parquet",
        character=wildcards.character,
        seed=seeds(wildcards.character),
    )


def all_targets():
    targets = []
    for name in config["characters"]:
        targets.append(f"results/{name}/scenarios.parquet")
        targets += expand("results/{character}/images/seed_{seed}.parquet", character=name, seed=seeds(name))
    return targets
