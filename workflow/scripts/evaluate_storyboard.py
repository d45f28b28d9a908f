"""Adapter: rule evaluate_storyboard -> charfolio.story.run.run_evaluation."""

import torch

from charfolio.core.joblog import job_log
from charfolio.story.run import run_evaluation

torch.set_num_threads(snakemake.threads)
with job_log(snakemake.log[0]) as log:
    run_evaluation(
        snakemake.input[0],
        snakemake.output[0],
        faces=snakemake.params.faces,
        prompt_adherence=snakemake.params.prompt_adherence,
        model_cache=snakemake.params.model_cache,
        log=log,
    )
