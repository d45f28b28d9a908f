"""Adapter: rule generate_refinement -> charfolio.refine.rounds.generate_round."""

import torch

from charfolio.core.config import CharacterPrompt
from charfolio.core.joblog import job_log
from charfolio.refine.rounds import generate_round

torch.set_num_threads(snakemake.threads)
with job_log(snakemake.log[0]) as log:
    generate_round(
        CharacterPrompt(**snakemake.params.character),
        scenarios_path=snakemake.input.scenarios,
        tier=int(snakemake.wildcards.n),
        round_number=int(snakemake.wildcards.round),
        generation=snakemake.params.generation,
        out_dir=snakemake.output.images,
        out_table=snakemake.output.table,
        character_root=snakemake.params.root,
        model_cache=snakemake.params.model_cache,
        log=log,
    )
