"""Adapter: rules render_storyboard and render_ablation -> charfolio.story.run_storyboard."""

import torch

from charfolio.core.joblog import job_log
from charfolio.story.run import run_storyboard

torch.set_num_threads(snakemake.threads)
with job_log(snakemake.log[0]) as log:
    run_storyboard(
        snakemake.input.frames,
        snakemake.params.board,
        settings=snakemake.params.settings,
        character=snakemake.params.character,
        prompt_adherence=snakemake.params.prompt_adherence,
        backend=snakemake.params.backend,
        backend_options=snakemake.params.backend_options,
        model_cache=snakemake.params.model_cache,
        lora_file=snakemake.input.get("lora"),  # none in baseline mode
        results_dir=snakemake.params.results,
        log=log,
    )
