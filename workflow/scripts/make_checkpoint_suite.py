"""Adapter: rule make_checkpoint_suite -> charfolio.evaluate.make_suite."""

from charfolio.core.joblog import job_log
from charfolio.evaluate import make_suite

with job_log(snakemake.log[0]) as log:
    suite = make_suite(
        snakemake.output[0],
        snakemake.params.trigger["token"],
        snakemake.params.trigger["class_word"],
        {
            "categories": snakemake.params.categories,
            "prompts_per_category": snakemake.params.per_category,
            "seed": snakemake.params.seed,
        },
    )
    log(f"prompt suite: {len(suite)} prompts -> {snakemake.output[0]}")
