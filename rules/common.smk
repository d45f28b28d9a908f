# Validation, wildcard constraints and input functions. Nothing else belongs here.
import dataclasses
import functools
from pathlib import Path

from charfolio import versions
from charfolio.config import load_character, validate
from charfolio.distribution import seed_group_count
from charfolio.embed.stream import embedding_name
from charfolio.lora import resolve_preset, validate_preset

validate(config, "config", "the workflow config")
# A bad training preset fails here, before any job, naming the preset and the key.
for _preset in config["training"]["presets"]:
    validate_preset({"extends": _preset}, config["training"]["user_presets"])


wildcard_constraints:
    character=r"[a-z0-9][a-z0-9_]*",
    seed=r"\d+",
    n=r"\d+",
    k=r"\d+",
    model=r"[A-Za-z0-9_.-]+",
    preset=r"[A-Za-z0-9][A-Za-z0-9_.-]*",


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
    return {
        "token": c.token,
        "class_word": c.class_word,
        "caption_template": c.caption_template,
    }


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


def tier_selection(wildcards):
    """The selection a tier is cut from; an unconfigured tier size fails before any job."""
    if int(wildcards.n) not in tier_sizes():
        raise ValueError(
            f"tier_{wildcards.n} is not configured: curation.tiers has sizes {tier_sizes()}; "
            f"add {{size: {wildcards.n}}} to curation.tiers in your config"
        )
    return f"results/{wildcards.character}/selection.parquet"


def image_tables(name):
    """The IMAGES tables of a character: its seed shards, or its ingested folder."""
    if character(name).image_folder:
        return [f"results/{name}/images/folder.parquet"]
    return expand(
        "results/{character}/images/seed_{seed}.parquet",
        character=name,
        seed=seeds(name),
    )


def tier_dirs(wildcards):
    return [f"results/{wildcards.character}/tier_{n}" for n in tier_sizes()]


def all_catalogs(wildcards):
    return [f"results/{name}/catalog.parquet" for name in config["characters"]]


def training_preset(wildcards):
    return resolve_preset(wildcards.preset, config["training"]["user_presets"])


def lora_targets(name):
    return expand(
        "results/{character}/lora/{preset}/tier_{n}/summary.json",
        character=name,
        preset=config["training"]["presets"],
        n=config["training"]["tiers"],
    )


def shard_tables(wildcards):
    return image_tables(wildcards.character)


def image_folder(wildcards):
    folder = character(wildcards.character).image_folder
    if not folder:
        raise ValueError(f"character {wildcards.character} has no image_folder")
    return folder


def all_targets():
    targets = []
    for name in config["characters"]:
        if not character(name).image_folder:
            targets.append(f"results/{name}/scenarios.parquet")
        targets += image_tables(name)
        targets += expand(
            "results/{character}/tier_{n}", character=name, n=tier_sizes()
        )
        targets += [f"results/{name}/catalog.parquet", f"results/{name}/report.html"]
        targets += lora_targets(name)
        # balance matters for what is trained on: the training tiers (any tier on request)
        targets += expand(
            "results/{character}/balance/tier_{n}.json",
            character=name,
            n=config["training"]["tiers"],
        )
    targets.append("results/catalog.duckdb")
    return targets
