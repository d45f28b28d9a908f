"""Adapter: rule generate_images -> charfolio.generation.shard.generate_shard."""

import torch

from charfolio.core.config import CharacterPrompt
from charfolio.core.joblog import job_log
from charfolio.generation.shard import generate_shard

torch.set_num_threads(snakemake.threads)
with job_log(snakemake.log[0]) as log:
    generate_shard(
        character=CharacterPrompt(**snakemake.params.character),
        seed=int(snakemake.wildcards.seed),
        distribution=snakemake.params.distribution,
        scenarios_path=snakemake.input.scenarios,
        generation=snakemake.params.generation,
        out_dir=snakemake.output.images,
        out_table=snakemake.output.table,
        character_root=snakemake.params.root,
        model_cache=snakemake.params.model_cache,
        log=log,
    )
