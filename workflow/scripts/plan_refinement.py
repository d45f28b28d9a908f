"""Adapter: rule plan_refinement -> charfolio.refine.rounds.plan_round."""

from charfolio.core.joblog import job_log
from charfolio.refine.rounds import plan_round

with job_log(snakemake.log[0]) as log:
    plan_round(
        snakemake.input.report,
        round_number=int(snakemake.wildcards.round),
        out_scenarios=snakemake.output.scenarios,
        out_plan=snakemake.output.plan,
        images_per_round=snakemake.params.images_per_round,
        pass_rate_prior=snakemake.params.pass_rate_prior,
        seed=snakemake.params.seed,
        log=log,
    )
