"""Adapter: rule generate_refinement -> charfolio.balance.rounds.generate_round."""

from pathlib import Path

import torch

from charfolio.balance.rounds import generate_round
from charfolio.config import CharacterPrompt
from charfolio.joblog import job_log

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
        character_root=Path(snakemake.input.scenarios).parents[3],
        model_cache=snakemake.params.model_cache,
        log=log,
    )
