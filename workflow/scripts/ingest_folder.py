"""Adapter: rule ingest_folder -> charfolio.generation.ingest.ingest_folder."""

from pathlib import Path

from charfolio.core.joblog import job_log
from charfolio.generation.ingest import ingest_folder

with job_log(snakemake.log[0]) as log:
    ingest_folder(
        snakemake.params.folder,
        character_name=snakemake.wildcards.character,
        character_root=Path(snakemake.output[0]).parent.parent,
        out_table=snakemake.output[0],
        log=log,
        max_bytes=snakemake.params.max_bytes,
    )
