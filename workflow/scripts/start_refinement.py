"""Adapter: rule start_refinement -> charfolio.refine.rounds.start_refinement."""

from charfolio.core.joblog import job_log
from charfolio.refine.rounds import start_refinement

with job_log(snakemake.log[0]) as log:
    start_refinement(
        snakemake.input.tier,
        balance_table=snakemake.input.balance,
        duplicates_path=snakemake.input.duplicates,
        out_pool=snakemake.output.pool,
        out_report=snakemake.output.report,
        targets=snakemake.params.targets,
        rules=snakemake.params.rules,
        log=log,
    )
