"""Adapter: rule tabulate_ablation -> charfolio.story.tabulate_ablation."""

from charfolio.core.joblog import job_log
from charfolio.story import tabulate_ablation

with job_log(snakemake.log[0]) as log:
    tabulate_ablation(
        snakemake.input.evaluations,
        snakemake.input.storyboards,
        snakemake.output.table,
        snakemake.output.html,
        log=log,
        ratings=snakemake.input.get("ratings"),  # only when the ratings file exists
        character_root=snakemake.params.character_root,
    )
