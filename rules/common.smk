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


def training_tier(wildcards):
    """The folder train_lora reads: tier_{n}, or its _balanced / _refined copy (tier_variant)."""
    tier_selection(wildcards)  # an unconfigured tier fails here, naming the fix
    variant = config["training"]["tier_variant"]
    suffix = "" if variant == "tier" else f"_{variant}"
    return f"results/{wildcards.character}/tier_{wildcards.n}{suffix}"


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


def shard_images(wildcards):
    """The seed shards' image folders, which the tables name (folder characters: none here,
    their images are the user's folder)."""
    if character(wildcards.character).image_folder:
        return []
    return [table.removesuffix(".parquet") for table in shard_tables(wildcards)]


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
        return {"captions": f"results/{wildcards.character}/captions.parquet"}
    return {}


def tier_floor(wildcards):
    """Tier n's score floor (refinement fill-ins must meet it as the tier's images did)."""
    tier_selection(wildcards)  # an unconfigured tier fails here, naming the fix
    return next(
        t["floor"] for t in config["curation"]["tiers"] if t["size"] == int(wildcards.n)
    )


def refine_dir(wildcards):
    return f"results/{wildcards.character}/refine/tier_{wildcards.n}"


def previous_round(wildcards):
    """Round r reads only round r-1's pool and report (round 0: the tier as analysed)."""
    previous = f"{refine_dir(wildcards)}/round_{int(wildcards.round) - 1}"
    return {"pool": f"{previous}/pool.parquet", "report": f"{previous}/round.json"}


def refine_rounds(wildcards):
    """Every round's files up to balance.refine.rounds, for the refined tier."""
    last = config["balance"]["refine"]["rounds"]
    if last < 1:
        raise ValueError(
            "balance.refine.rounds is 0, so there is no refined tier; set it to 1 or more"
        )
    root = refine_dir(wildcards)
    return {
        "pool": f"{root}/round_{last}/pool.parquet",
        "curated": [f"{root}/round_{r}/curated.parquet" for r in range(1, last + 1)],
        "reports": [f"{root}/round_{r}/round.json" for r in range(last + 1)],
    }


def refine_targets(name):
    """The refined training tiers of a generated character (folder characters: on request)."""
    if config["balance"]["refine"]["rounds"] < 1 or character(name).image_folder:
        return []
    return expand(
        "results/{character}/tier_{n}_refined",
        character=name,
        n=config["training"]["tiers"],
    )


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
    runs = expand(
        "results/{character}/checkpoints/{preset}/tier_{n}",
        character=wildcards.character,
        preset=config["training"]["presets"],
        n=config["training"]["tiers"],
    )
    return {
        "scores": [f"{run}/scores.parquet" for run in runs],
        "runs": [f"{run}/run.json" for run in runs],
        "images": [f"{run}/images" for run in runs],
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
    story = f"results/{wildcards.character}/story/{wildcards.story}"
    return {"frames": f"{story}/frames.json", **models}


def storyboard_settings(wildcards):
    return storyboard_params(config, board_mode(wildcards))


def ablation_evaluations(wildcards):
    """Each story in each ablation mode; story.mode's row is the storyboard itself (the same
    settings, frames and seeds give the same pixels, so it is not rendered twice)."""
    root = f"results/{wildcards.character}"
    return [
        (
            f"{root}/story/{story}/evaluation.json"
            if mode == config["story"]["mode"]
            else f"{root}/ablation/{story}/{mode}/evaluation.json"
        )
        for story in config["story"]["stories"]
        for mode in config["story"]["ablation"]["modes"]
    ]


def ablation_boards(wildcards):
    """Each ablation row's evaluation, and the storyboard.json and contact sheet beside it,
    which tabulate_ablation reads too."""
    evaluations = ablation_evaluations(wildcards)
    boards = [Path(evaluation).parent.as_posix() for evaluation in evaluations]
    return {
        "evaluations": evaluations,
        "storyboards": [f"{board}/storyboard.json" for board in boards],
        "sheets": [f"{board}/contact_sheet.png" for board in boards],
    }


def story_targets(name):
    """Each configured story's storyboard with its evaluation, and the ablation table."""
    stories = config["story"]["stories"]
    if not stories:
        return []
    boards = [f"results/{name}/story/{story}/evaluation.json" for story in stories]
    return [*boards, f"results/{name}/ablation.html"]


# A killed job's outputs are deleted at its start, and Snakemake does not remake a missing
# file whose readers' outputs exist (snakemake#1978): the rerun would leave it missing and its
# readers stale. So the targets below name an output of every job on the way to them: the
# rerun remakes it, and then its readers, whose inputs are now newer.
def curation_intermediates(name):
    root, each = f"results/{name}", SimpleNamespace(character=name)
    targets = [] if character(name).image_folder else [f"{root}/scenarios.parquet"]
    targets += image_tables(name)
    targets += [f"{root}/{t}.parquet" for t in ("faces", "quality", "duplicates")]
    targets += [*embedding_files(each).values(), *cluster_files(each).values()]
    return [*targets, f"{root}/selection.parquet"]


def training_intermediates(name):
    """The training tiers (tier_variant) and every refinement round's files."""
    trained = [
        SimpleNamespace(character=name, n=n) for n in config["training"]["tiers"]
    ]
    targets = [training_tier(tier) for tier in trained]
    for tier in trained if refine_targets(name) else []:
        rounds = refine_rounds(tier)
        targets += [*rounds["curated"], *rounds["reports"]]
        for r in range(1, len(rounds["curated"]) + 1):
            round_dir = f"{refine_dir(tier)}/round_{r}"
            targets += [f"{round_dir}/plan.json", f"{round_dir}/images.parquet"]
    return targets


def evaluation_intermediates(name):
    """The checkpoint renders' scores, and each story's frames, storyboards and evaluations."""
    root, each = f"results/{name}", SimpleNamespace(character=name)
    targets = [f"{root}/checkpoints/suite.parquet", *checkpoint_runs(each)["scores"]]
    for story in config["story"]["stories"]:
        targets += [
            f"{root}/story/{story}/{f}" for f in ("frames.json", "storyboard.json")
        ]
    if config["story"]["stories"]:
        boards = ablation_boards(each)
        targets += [*boards["storyboards"], *boards["evaluations"]]
    return targets


def curation_targets(name):
    """What curating a character makes: its tiers, catalog, report, the training tiers'
    balance, and (a folder's images have no prompt) its captions."""
    targets = expand("results/{character}/tier_{n}", character=name, n=tier_sizes())
    targets += [f"results/{name}/catalog.parquet", f"results/{name}/report.html"]
    # balance matters for what is trained on: the training tiers (any tier on request)
    targets += expand(
        "results/{character}/balance/tier_{n}.json",
        character=name,
        n=config["training"]["tiers"],
    )
    if character(name).image_folder:
        targets.append(f"results/{name}/captions.parquet")
    return [*targets, *curation_intermediates(name)]


def curate_targets():
    """`charfolio curate`'s default: curation only, never training (see train_targets)."""
    targets = [t for name in config["characters"] for t in curation_targets(name)]
    return [*targets, "results/catalog.duckdb"]


def train_targets():
    """`charfolio curate --train`: the LoRAs of training.presets x training.tiers."""
    return [
        t
        for name in config["characters"]
        for t in (*training_intermediates(name), *lora_targets(name))
    ]


def all_targets():
    targets = []
    for name in config["characters"]:
        targets += training_intermediates(name) + evaluation_intermediates(name)
        if not character(name).image_folder:
            targets.append(f"results/{name}/scenarios.parquet")
        targets += image_tables(name)
        targets += curation_targets(name)
        targets += lora_targets(name)
        targets += story_targets(name)
        targets.append(f"results/{name}/checkpoint_report.html")
        targets += refine_targets(name)
    targets.append("results/catalog.duckdb")
    return targets
