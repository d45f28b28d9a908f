"""Adapter: rule write_checkpoint_report -> charfolio.evaluate.write_checkpoint_report."""

from charfolio.core.joblog import job_log
from charfolio.evaluate import write_checkpoint_report

with job_log(snakemake.log[0]) as log:
    result = write_checkpoint_report(
        snakemake.input.scores,
        snakemake.input.suite,
        snakemake.output.html,
        out_json=snakemake.output.json,
        out_table=snakemake.output.table,
        character=snakemake.wildcards.character,
        ranking_weights=snakemake.params.ranking_weights,
        ratings=snakemake.input.get("ratings"),  # only when the ratings file exists
        character_root=snakemake.params.character_root,
    )
    best = result["ranking"][0]
    log(f"best checkpoint: {best['lora']} {best['checkpoint']} (score {best['score']:.3f})")
