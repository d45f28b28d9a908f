"""Adapter: rule render_checkpoints -> charfolio.evaluate.evaluate_lora_checkpoints."""

import torch

from charfolio.core.joblog import job_log
from charfolio.evaluate import evaluate_lora_checkpoints

torch.set_num_threads(snakemake.threads)
with job_log(snakemake.log[0]) as log:
    evaluate_lora_checkpoints(
        snakemake.input.summary,
        snakemake.input.suite,
        snakemake.input.faces,
        snakemake.input.tier,
        snakemake.params.run,
        preset=snakemake.wildcards.preset,
        tier=int(snakemake.wildcards.n),
        render=snakemake.params.settings["render"],
        generation=snakemake.params.settings["generation"],
        training_backend=snakemake.params.backend,
        backend_options=snakemake.params.backend_options,
        faces_cfg=snakemake.params.faces,
        prompt_adherence=snakemake.params.prompt_adherence,
        negative_prompt=snakemake.params.negative_prompt,
        quality_weights=snakemake.params.quality_weights,
        checkpoints=snakemake.params.checkpoints,
        model_cache=snakemake.params.model_cache,
        log=log,
    )
