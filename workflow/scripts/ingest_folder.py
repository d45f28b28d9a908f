"""Adapter: rule ingest_folder -> charfolio.generation.ingest.ingest_folder."""

from charfolio.core.joblog import job_log
from charfolio.generation.ingest import ingest_folder

with job_log(snakemake.log[0]) as log:
    ingest_folder(
        snakemake.params.folder,
        character_name=snakemake.wildcards.character,
        character_root=snakemake.params.root,
        out_table=snakemake.output[0],
        log=log,
        max_bytes=snakemake.params.max_bytes,
    )
