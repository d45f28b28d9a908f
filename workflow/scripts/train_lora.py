"""Adapter: rule train_lora -> charfolio.lora.train_lora."""

import torch

from charfolio.core.joblog import job_log
from charfolio.lora import train_lora

torch.set_num_threads(snakemake.threads)
with job_log(snakemake.log[0]) as log:
    train_lora(
        snakemake.input.tier,
        model_cfg=snakemake.params.model,
        preset=snakemake.params.preset,
        out_dir=snakemake.params.run,
        model_cache=snakemake.params.model_cache,
        backend=snakemake.params.backend,
        backend_options=snakemake.params.backend_options,
        device=snakemake.params.device,
        user_presets=snakemake.params.user_presets,
        log=log,
    )
