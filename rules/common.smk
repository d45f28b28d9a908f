# Validation, wildcard constraints and input functions. Nothing else belongs here.
# Light modules only: every job re-reads this file, so torch/diffusers imports here would
# cost seconds per job (the library modules the scripts call import them).
import dataclasses
import functools
from pathlib import Path
from types import SimpleNamespace

from charfolio.core.code_digest import code_digest
from charfolio.core.config import CHARACTER_NAME, ConfigError, load_character, validate
from charfolio.config_checks import check_config
from charfolio.generation.distribution import seed_group_count
from charfolio.embed.stream import embedding_name
from charfolio.core.folder_listing import list_folder
from charfolio.core.layout import Results, board_name, ratings_file, review_file
from charfolio.core.ratings import read_ratings
from charfolio.curate.decisions import read_decisions
from charfolio.scenarios.llama_resources import llama_gpus, llama_mem_mb
from charfolio.lora.presets import resolve_preset
from charfolio.story.settings import (
    story_entry,
    storyboard_inputs,
    storyboard_params,
)

# The files in the order they were merged: the Snakefile's configfile, then --configfile's.
_files = sorted(workflow.configfiles, key=lambda f: f in workflow.overwrite_configfiles)
_config_source = f"the workflow config ({' + '.join(map(str, _files))})"
validate(config, "config", _config_source)
# What the schema cannot express (tier floors, training tiers, presets, stories), shared
# with `charfolio validate`: a config that would fail after generation fails here.
check_config(config, _config_source)

results = Results()
# The rules' paths: {character} and each rule's other wildcards left as patterns.
pattern = results.character("{character}")


wildcard_constraints:
    character=CHARACTER_NAME,
    seed=r"\d+",
    n=r"\d+",
    k=r"\d+",
    model=r"[A-Za-z0-9_.-]+",
    preset=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    story=r"[a-z0-9][a-z0-9_]*",
    mode=r"baseline|simple|reference_guided",
    round=r"[1-9]\d*",  # refinement rounds; round_0 (the tier as analysed) is a literal


def script_code(name):
    """A param: the digest of workflow/scripts/{name}.py and the charfolio code it imports.

    Snakemake does not watch imported modules; with this, editing a stage's code reruns it.
    """
    return code_digest(Path(workflow.basedir) / "workflow" / "scripts" / f"{name}.py")


@functools.cache
def character(name):
    return load_character(Path(config["character_dir"]) / f"{name}.yaml")


def seeds(name):
    """The seed of every seed group of a character (base_seed + g)."""
    dist = config["distribution"]
    count = seed_group_count(dist["original_images"], dist["batch_size"])
    return [character(name).base_seed + g for g in range(count)]


def llama_job_gpus(section):
    """`resources: gpu=` of a rule that may run llama.cpp for config[section]."""
    return lambda wildcards: llama_gpus(_section(section))


def llama_job_mem_mb(section, base_mb):
    """`resources: mem_mb=` of such a rule: its base, plus the GGUF and KV cache when used."""
    return lambda wildcards, attempt: llama_mem_mb(
        _section(section), config["model_cache"], attempt, base_mb
    )


def _section(path):
    section = config
    for key in path.split("/"):
        section = section[key]
    return section


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


# Folders as params are functions: the lint takes a string that prefixes files for a file.
def character_root(wildcards):
    """results/{character}/: the image tables' `file`s and the ratings' keys are relative
    to it."""
    return results.character(wildcards.character).root


def results_root(wildcards):
    return results.root


def ratings_input(wildcards):
    """The character's ratings file, an input only once it exists: writing, changing or
    removing it reruns the reports that show ratings, never what they read. A malformed
    file fails here, before any job."""
    path = ratings_file(config["review_dir"], wildcards.character)
    if not Path(path).exists():
        return {}
    read_ratings(path)
    return {"ratings": path}


def embedding_files(wildcards):
    name = embedding_name(config["embeddings"])
    paths = results.character(wildcards.character)
    return {"npy": paths.embeddings(name), "index": paths.embedding_index(name)}


def cluster_files(wildcards):
    k, paths = config["curation"]["k"], results.character(wildcards.character)
    return {"clusters": paths.clusters(k), "collapse": paths.collapse(k)}


def review_decisions(wildcards):
    """The character's review file, when there is one (a missing file means no decisions).

    Snakemake reruns select_images when it appears, changes or goes, and nothing upstream.
    A malformed file (an unknown decision, a repeated file) fails here, before any job.
    """
    path = review_file(config["review_dir"], wildcards.character)
    if not Path(path).exists():
        return {}
    read_decisions(path)
    return {"review": path}


def tier_sizes():
    return [tier["size"] for tier in config["curation"]["tiers"]]


def tier_selection(wildcards):
    """The selection a tier is cut from; an unconfigured tier size fails before any job."""
    if int(wildcards.n) not in tier_sizes():
        raise ValueError(
            f"tier_{wildcards.n} is not configured: curation.tiers has sizes {tier_sizes()}; "
            f"add {{size: {wildcards.n}}} to curation.tiers in your config"
        )
    return results.character(wildcards.character).selection


def image_tables(name):
    """The IMAGES tables of a character: its seed shards, or its ingested folder."""
    paths = results.character(name)
    if character(name).image_folder:
        return [paths.folder_table]
    return [paths.seed_table(seed) for seed in seeds(name)]


def tier_dirs(wildcards):
    """Every configured tier, in the order of tier_sizes() (build_catalog pairs them)."""
    return [results.character(wildcards.character).tier(n) for n in tier_sizes()]


def all_catalogs(wildcards):
    return [results.character(name).catalog for name in config["characters"]]


def training_tier(wildcards):
    """The folder train_lora reads: tier_{n}, or its _balanced / _refined copy (tier_variant)."""
    tier_selection(wildcards)  # an unconfigured tier fails here, naming the fix
    variant = config["training"]["tier_variant"]
    return results.character(wildcards.character).tier(wildcards.n, variant)


def training_preset(wildcards):
    return resolve_preset(wildcards.preset, config["training"]["user_presets"])


def lora_runs():
    """(preset, tier) of every LoRA training.presets x training.tiers asks for."""
    training = config["training"]
    return [(preset, n) for preset in training["presets"] for n in training["tiers"]]


def shard_tables(wildcards):
    return image_tables(wildcards.character)


def shard_images(wildcards):
    """The seed shards' image folders, which the tables name (folder characters: none here,
    their images are the user's folder)."""
    if character(wildcards.character).image_folder:
        return []
    paths = results.character(wildcards.character)
    return [paths.seed_images(seed) for seed in seeds(wildcards.character)]


def image_folder(wildcards):
    folder = character(wildcards.character).image_folder
    if not folder:
        raise ValueError(f"character {wildcards.character} has no image_folder")
    return folder


@functools.cache
def _listing_digest(name):
    folder = image_folder(SimpleNamespace(character=name))
    try:
        return list_folder(folder).digest()
    except OSError as error:
        raise ConfigError(
            f"image_folder {folder} cannot be listed ({error.strerror or error}); check the "
            f"path and its permissions, or fix image_folder in "
            f"{Path(config['character_dir']) / f'{name}.yaml'}"
        ) from error


def image_folder_listing(wildcards):
    """The image folder's listing digest (names, sizes, mtimes; stat calls only, at DAG time):
    adding, changing or deleting a file reruns ingest_folder, and nothing else does."""
    return _listing_digest(wildcards.character)


def tier_captions(wildcards):
    """Folder images have no prompt to caption from: caption_images captions them."""
    if character(wildcards.character).image_folder:
        return {"captions": results.character(wildcards.character).captions}
    return {}


def tier_floor(wildcards):
    """Tier n's score floor (refinement fill-ins must meet it as the tier's images did)."""
    tier_selection(wildcards)  # an unconfigured tier fails here, naming the fix
    return next(
        t["floor"] for t in config["curation"]["tiers"] if t["size"] == int(wildcards.n)
    )


def previous_round(wildcards):
    """Round r reads only round r-1's pool and report (round 0: the tier as analysed)."""
    paths, n = results.character(wildcards.character), wildcards.n
    previous = int(wildcards.round) - 1
    return {
        "pool": paths.round_pool(n, previous),
        "report": paths.round_report(n, previous),
    }


def refine_rounds(wildcards):
    """Every round's files up to balance.refine.rounds, for the refined tier."""
    last = config["balance"]["refine"]["rounds"]
    if last < 1:
        raise ValueError(
            "balance.refine.rounds is 0, so there is no refined tier; set it to 1 or more"
        )
    paths, n = results.character(wildcards.character), wildcards.n
    return {
        "pool": paths.round_pool(n, last),
        "curated": [paths.round_curated(n, r) for r in range(1, last + 1)],
        "reports": [paths.round_report(n, r) for r in range(last + 1)],
    }


def suite_trigger(wildcards):
    c = character(wildcards.character)
    return {"token": c.token, "class_word": c.class_word}


def suite_negative_prompt(wildcards):
    return character(wildcards.character).negative_prompt


def checkpoint_render_settings(wildcards):
    """Only what decides a checkpoint's renders (not story-only keys such as extra_loras)."""
    keys = ("steps", "guidance_scale", "width", "height", "sampler", "sigmas")
    render = config["render"]
    return {
        "render": {
            **{k: render[k] for k in (*keys, "negative_prompt", "dtype", "device")},
            "lora": {"weight": render["lora"]["weight"]},
        },
        "generation": {
            "model": config["generation"]["model"],
            **{k: config["generation"][k] for k in keys},
        },
    }


def checkpoint_runs(wildcards):
    """Each trained LoRA's checkpoint scores, with the run record and renders beside them
    (the report reads all three)."""
    paths, runs = results.character(wildcards.character), lora_runs()
    return {
        "scores": [paths.checkpoint_scores(preset, n) for preset, n in runs],
        "runs": [paths.checkpoint_record(preset, n) for preset, n in runs],
        "images": [paths.checkpoint_images(preset, n) for preset, n in runs],
    }


def story_settings(wildcards):
    """story.stories.{story}; an unknown story fails, naming the configured ones."""
    return story_entry(config, wildcards.story)


def story_character(wildcards):
    c = character(wildcards.character)
    return {"name": c.name, "token": c.token, "class_word": c.class_word,
            "negative_prompt": c.negative_prompt}  # fmt: skip


def board_mode(wildcards):
    """An ablation board's {mode}, else story.mode."""
    return wildcards.get("mode", config["story"]["mode"])


def storyboard_files(wildcards):
    models = storyboard_inputs(config, wildcards.character, board_mode(wildcards))
    frames = results.character(wildcards.character).frames(wildcards.story)
    return {"frames": frames, **models}


def storyboard_dir(wildcards):
    """The board's folder: story/{story}, or ablation/{story}/{mode} for an ablation row."""
    board = board_name(wildcards.story, wildcards.get("mode"))
    return results.character(wildcards.character).board(board)


def storyboard_settings(wildcards):
    return storyboard_params(config, board_mode(wildcards))


def ablation_rows():
    """Each story in each ablation mode, as a board; story.mode's row is the storyboard itself
    (the same settings, frames and seeds give the same pixels, so it is not rendered twice).
    """
    story = config["story"]
    return [
        board_name(name, None if mode == story["mode"] else mode)
        for name in story["stories"]
        for mode in story["ablation"]["modes"]
    ]


def ablation_boards(wildcards):
    """Each ablation row's evaluation, and the storyboard.json and contact sheet beside it,
    which tabulate_ablation reads too."""
    paths, boards = results.character(wildcards.character), ablation_rows()
    return {
        "evaluations": [paths.evaluation(board) for board in boards],
        "storyboards": [paths.storyboard(board) for board in boards],
        "sheets": [paths.contact_sheet(board) for board in boards],
    }
