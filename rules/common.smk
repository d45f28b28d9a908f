# Validation, wildcard constraints and input functions. Nothing else belongs here.
import dataclasses
import functools
from pathlib import Path

from charfolio import versions
from charfolio.config import load_character, validate
from charfolio.distribution import seed_group_count
from charfolio.embed.stream import embedding_name

validate(config, "config", "the workflow config")


wildcard_constraints:
    character=r"[a-z0-9][a-z0-9_]*",
    seed=r"\d+",
    n=r"\d+",
    k=r"\d+",
    model=r"[A-Za-z0-9_.-]+",


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


def caption_fields(wildcards):
    c = character(wildcards.character)
    return {"token": c.token, "class_word": c.class_word, "caption_template": c.caption_template}


def embedding_files(wildcards):
    name = embedding_name(config["embeddings"])
    return {
        "npy": f"results/{wildcards.character}/embeddings/{name}.npy",
        "index": f"results/{wildcards.character}/embeddings/{name}.parquet",
    }


def cluster_files(wildcards):
    k = config["curation"]["k"]
    return {
        "clusters": f"results/{wildcards.character}/clusters_k{k}.parquet",
        "collapse": f"results/{wildcards.character}/clusters_k{k}.json",
    }


def tier_sizes():
    return [tier["size"] for tier in config["curation"]["tiers"]]


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
        targets += expand("results/{character}/tier_{n}", character=name, n=tier_sizes())
    return targets
