"""Adapter: rule split_story -> charfolio.story.make_frames."""

from charfolio.core.joblog import job_log
from charfolio.story import make_frames

with job_log(snakemake.log[0]) as log:
    make_frames(
        snakemake.wildcards.story,
        snakemake.params.story,
        snakemake.params.splitter,
        snakemake.output[0],
        model_cache=snakemake.params.model_cache,
        log=log,
    )
