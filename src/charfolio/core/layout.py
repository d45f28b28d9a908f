"""The results layout: the only place a results path is spelled.

Rules, input functions, workflow scripts and the library all take their results paths from
here, so a path changes in one place and no code works one path out from another.

Every method takes its parts as strings (or ints), so one spelling gives both a concrete path,
`Results().character("demo").tier(70)` -> "results/demo/tier_70", and the Snakemake pattern
of a rule, `Results().character("{character}").tier("{n}")` -> "results/{character}/tier_{n}".
Paths are plain POSIX strings, as Snakemake writes and compares them.

Stdlib only: rules/common.smk imports this at DAG time, in every job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

RESULTS = "results"

# The files of a LoRA run folder (lora/{preset}/tier_{n}/) that rules and readers name.
LORA_DIFFUSERS = "lora_diffusers.safetensors"
LORA_KOHYA = "lora_kohya.safetensors"
LORA_SUMMARY = "summary.json"
LORA_TRAINING_CONFIG = "training_config.json"

# The files inside output folders that the library writes and other stages read.
TIER_MANIFEST = "manifest.parquet"  # a tier folder's table of its images
TIER_IMAGES = "images"  # a tier folder's image links (and captions beside them)
SELECTION_REPORT = "selection_report.json"  # the character's, and each tier folder's copy
CATALOG = "catalog.parquet"
SOURCE_LINK = "source"  # results/{character}/source -> an ingested image folder
CHECKPOINT_SCORES = "scores.parquet"  # of a checkpoint run folder
CHECKPOINT_RECORD = "run.json"
CHECKPOINT_IMAGES = "images"
STORYBOARD = "storyboard.json"  # of a board folder (story/{story}, ablation/{story}/{mode})
CONTACT_SHEET = "contact_sheet.png"
EVALUATION = "evaluation.json"


# The human review files (config, not results: users commit them beside their config), one pair
# per character in the config's review_dir: decisions are an input of select_images, ratings
# of the ablation and checkpoint reports.
REVIEW_PORT = 8765  # where `charfolio review` listens unless told otherwise


def review_file(review_dir: str, character: Part) -> str:
    return f"{review_dir}/{character}.csv"


def ratings_file(review_dir: str, character: Part) -> str:
    return f"{review_dir}/{character}_ratings.csv"


# A tier folder's name: tier_{n}, or its copy tier_{n}_{variant} (balanced, refined).
TIER_VARIANTS = ("tier", "balanced", "refined")
_TIER_FOLDER = re.compile(r"tier_(?P<n>[0-9]+)")

Part = str | int


def tier_folder(n: Part, variant: str = "tier") -> str:
    """tier_{n}, or tier_{n}_{variant} for a balanced or refined copy."""
    if variant not in TIER_VARIANTS:
        raise ValueError(f"tier variant {variant!r} is not one of {', '.join(TIER_VARIANTS)}")
    return f"tier_{n}" if variant == "tier" else f"tier_{n}_{variant}"


def tier_size(folder: str) -> int | None:
    """n of a tier_{n} folder name; None for any other name (a variant copy, anything else)."""
    match = _TIER_FOLDER.fullmatch(folder)
    return None if match is None else int(match["n"])


def tier_manifest(tier_dir: str | Path) -> Path:
    return Path(tier_dir) / TIER_MANIFEST


def board_name(story: str, mode: str | None = None) -> str:
    """A storyboard's folder under the character: story/{story} (in story.mode), or
    ablation/{story}/{mode} (a row of the ablation)."""
    return f"story/{story}" if mode is None else f"ablation/{story}/{mode}"


class TrainedRun(NamedTuple):
    """A LoRA run folder that holds diffusers weights."""

    preset: str
    n: int
    weights: Path
    training_config: Path


@dataclass(frozen=True)
class Results:
    """The results folder: one folder per character, and what spans characters."""

    root: str = RESULTS

    def character(self, name: str) -> CharacterResults:
        return CharacterResults(f"{self.root}/{name}")

    @property
    def duckdb(self) -> str:
        return f"{self.root}/catalog.duckdb"

    def log(self, name: str) -> str:
        return f"{self.root}/logs/{name}.log"


@dataclass(frozen=True)
class CharacterResults:
    """results/{character}/: every artifact of one character (`root` may be a pattern)."""

    root: str

    # --- jobs' records
    def log(self, name: str) -> str:
        return f"{self.root}/logs/{name}.log"

    def benchmark(self, name: str) -> str:
        return f"{self.root}/benchmarks/{name}.tsv"

    # --- scenarios and images
    @property
    def scenarios(self) -> str:
        return f"{self.root}/scenarios.parquet"

    def seed_images(self, seed: Part) -> str:
        return f"{self.root}/images/seed_{seed}"

    def seed_table(self, seed: Part) -> str:
        return f"{self.seed_images(seed)}.parquet"

    @property
    def folder_table(self) -> str:
        """The IMAGES table of a character whose images are an ingested folder."""
        return f"{self.root}/images/folder.parquet"

    # --- measurements
    @property
    def faces(self) -> str:
        return f"{self.root}/faces.parquet"

    @property
    def quality(self) -> str:
        return f"{self.root}/quality.parquet"

    @property
    def duplicates(self) -> str:
        return f"{self.root}/duplicates.parquet"

    def embeddings(self, model: str) -> str:
        return f"{self.root}/embeddings/{model}.npy"

    def embedding_index(self, model: str) -> str:
        return f"{self.root}/embeddings/{model}.parquet"

    @property
    def captions(self) -> str:
        return f"{self.root}/captions.parquet"

    # --- curation
    def clusters(self, k: Part) -> str:
        return f"{self.root}/clusters_k{k}.parquet"

    def collapse(self, k: Part) -> str:
        return f"{self.root}/clusters_k{k}.json"

    @property
    def selection(self) -> str:
        return f"{self.root}/selection.parquet"

    @property
    def selection_report(self) -> str:
        return f"{self.root}/{SELECTION_REPORT}"

    def tier(self, n: Part, variant: str = "tier") -> str:
        return f"{self.root}/{tier_folder(n, variant)}"

    @property
    def catalog(self) -> str:
        return f"{self.root}/{CATALOG}"

    @property
    def report(self) -> str:
        return f"{self.root}/report.html"

    # --- balance and refinement
    def balance_table(self, n: Part) -> str:
        return f"{self.root}/balance/tier_{n}.parquet"

    def balance_report(self, n: Part) -> str:
        return f"{self.root}/balance/tier_{n}.json"

    def refinement(self, n: Part) -> str:
        return f"{self.root}/refine/tier_{n}"

    def refinement_report(self, n: Part) -> str:
        return f"{self.refinement(n)}/report.json"

    def round_dir(self, n: Part, r: Part) -> str:
        """Round r of tier n's refinement (round 0: the tier as analysed)."""
        return f"{self.refinement(n)}/round_{r}"

    def round_pool(self, n: Part, r: Part) -> str:
        return f"{self.round_dir(n, r)}/pool.parquet"

    def round_report(self, n: Part, r: Part) -> str:
        return f"{self.round_dir(n, r)}/round.json"

    def round_scenarios(self, n: Part, r: Part) -> str:
        return f"{self.round_dir(n, r)}/scenarios.parquet"

    def round_plan(self, n: Part, r: Part) -> str:
        return f"{self.round_dir(n, r)}/plan.json"

    def round_images(self, n: Part, r: Part) -> str:
        return f"{self.round_dir(n, r)}/images"

    def round_table(self, n: Part, r: Part) -> str:
        return f"{self.round_images(n, r)}.parquet"

    def round_curated(self, n: Part, r: Part) -> str:
        return f"{self.round_dir(n, r)}/curated.parquet"

    # --- LoRA training
    def lora_run(self, preset: str, n: Part) -> str:
        return f"{self.root}/lora/{preset}/tier_{n}"

    def lora_diffusers(self, preset: str, n: Part) -> str:
        return f"{self.lora_run(preset, n)}/{LORA_DIFFUSERS}"

    def lora_kohya(self, preset: str, n: Part) -> str:
        return f"{self.lora_run(preset, n)}/{LORA_KOHYA}"

    def lora_summary(self, preset: str, n: Part) -> str:
        return f"{self.lora_run(preset, n)}/{LORA_SUMMARY}"

    def lora_training_config(self, preset: str, n: Part) -> str:
        return f"{self.lora_run(preset, n)}/{LORA_TRAINING_CONFIG}"

    def trained_runs(self) -> list[TrainedRun]:
        """The LoRA run folders on disk that hold diffusers weights, in path order."""
        runs = []
        for weights in sorted(Path(self.root).glob(f"lora/*/tier_*/{LORA_DIFFUSERS}")):
            folder = _TIER_FOLDER.fullmatch(weights.parent.name)
            if folder is None:  # not a tier_{n} folder: nothing this workflow wrote
                continue
            preset, n = weights.parent.parent.name, int(folder["n"])
            runs.append(TrainedRun(preset, n, weights, weights.parent / LORA_TRAINING_CONFIG))
        return runs

    # --- checkpoint evaluation
    @property
    def checkpoint_suite(self) -> str:
        return f"{self.root}/checkpoints/suite.parquet"

    def checkpoint_run(self, preset: str, n: Part) -> str:
        return f"{self.root}/checkpoints/{preset}/tier_{n}"

    def checkpoint_scores(self, preset: str, n: Part) -> str:
        return f"{self.checkpoint_run(preset, n)}/{CHECKPOINT_SCORES}"

    def checkpoint_record(self, preset: str, n: Part) -> str:
        return f"{self.checkpoint_run(preset, n)}/{CHECKPOINT_RECORD}"

    def checkpoint_images(self, preset: str, n: Part) -> str:
        return f"{self.checkpoint_run(preset, n)}/{CHECKPOINT_IMAGES}"

    @property
    def checkpoint_report(self) -> str:
        return f"{self.root}/checkpoint_report.html"

    @property
    def checkpoint_report_json(self) -> str:
        return f"{self.root}/checkpoint_report.json"

    @property
    def checkpoint_table(self) -> str:
        return f"{self.root}/checkpoint_scores.parquet"

    # --- storyboards; a board is board_name(story, mode)
    def frames(self, story: str) -> str:
        return f"{self.root}/story/{story}/frames.json"

    def board(self, board: str) -> str:
        return f"{self.root}/{board}"

    def storyboard(self, board: str) -> str:
        return f"{self.board(board)}/{STORYBOARD}"

    def contact_sheet(self, board: str) -> str:
        return f"{self.board(board)}/{CONTACT_SHEET}"

    def evaluation(self, board: str) -> str:
        return f"{self.board(board)}/{EVALUATION}"

    @property
    def ablation_table(self) -> str:
        return f"{self.root}/ablation.parquet"

    @property
    def ablation_page(self) -> str:
        return f"{self.root}/ablation.html"
