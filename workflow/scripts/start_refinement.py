"""Adapter: rule start_refinement -> charfolio.balance.rounds.start_refinement."""

from charfolio.balance.rounds import start_refinement
from charfolio.joblog import job_log

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
