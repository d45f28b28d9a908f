"""Adapter: rule make_scenarios -> charfolio.scenarios.make_scenarios."""

from charfolio.core.config import CharacterPrompt
from charfolio.core.joblog import job_log
from charfolio.scenarios import make_scenarios

with job_log(snakemake.log[0]) as log:
    make_scenarios(
        snakemake.params.scenarios,
        CharacterPrompt(**snakemake.params.character),
        snakemake.output[0],
        model_cache=snakemake.params.model_cache,
        log=log,
    )
