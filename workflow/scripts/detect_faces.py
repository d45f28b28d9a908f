"""Adapter: rule detect_faces -> charfolio.faces.analyze.detect_faces_in_tables."""

from charfolio.core.joblog import job_log
from charfolio.faces.analyze import detect_faces_in_tables

with job_log(snakemake.log[0]) as log:
    detect_faces_in_tables(
        snakemake.input.tables,
        root=snakemake.params.root,
        faces_cfg=snakemake.params.faces,
        out_path=snakemake.output[0],
        model_cache=snakemake.params.model_cache,
        max_pixels=snakemake.params.max_pixels,
        log=log,
    )
