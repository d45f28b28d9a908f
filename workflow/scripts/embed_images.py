"""Adapter: rule embed_images -> charfolio.embed.stream.embed_tables."""

import torch

from charfolio.core.joblog import job_log
from charfolio.embed.stream import embed_tables

torch.set_num_threads(snakemake.threads)
with job_log(snakemake.log[0]) as log:
    embed_tables(
        snakemake.input.tables,
        root=snakemake.params.root,
        embeddings_cfg=snakemake.params.embeddings,
        out_npy=snakemake.output.npy,
        out_index=snakemake.output.index,
        model_cache=snakemake.params.model_cache,
        log=log,
    )
