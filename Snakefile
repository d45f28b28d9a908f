# charfolio: character description -> curated image portfolio -> character LoRA.
# This file only wires: config, validation, stages, and the targets (all; curate, train).
from snakemake.utils import min_version

from charfolio.core.config import check_yaml_file
from charfolio.core.offline import force_offline

min_version("9.0")
# Jobs read only local files: every job process inherits the model hubs' offline switches.
force_offline()


report: "workflow/report/workflow.rst"


# A syntax error in it fails naming its line (Snakemake's own error does not).
check_yaml_file("config/config.yaml")


configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/targets.smk"
include: "rules/scenarios.smk"
include: "rules/generation.smk"
include: "rules/faces.smk"
include: "rules/quality.smk"
include: "rules/embed.smk"
include: "rules/curate.smk"
include: "rules/catalog.smk"
include: "rules/lora.smk"
include: "rules/balance.smk"
include: "rules/story.smk"
include: "rules/refine.smk"
include: "rules/captions.smk"
include: "rules/evaluate.smk"


rule all:
    default_target: True
    input:
        all_targets(),


# `charfolio curate` targets these by name: curation alone, and the LoRAs with --train.
rule curate_characters:
    input:
        curate_targets(),


rule train_characters:
    input:
        train_targets(),
