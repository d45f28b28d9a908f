"""Adapter: rule select_images -> charfolio.select.select_files."""

from charfolio.joblog import job_log
from charfolio.near_duplicates import NearDuplicateRule
from charfolio.select import select_files, thresholds_from_config

with job_log(snakemake.log[0]) as log:
    select_files(
        images=snakemake.input.tables,
        faces=snakemake.input.faces,
        quality=snakemake.input.quality,
        clusters=snakemake.input.clusters,
        duplicates=snakemake.input.duplicates,
        thresholds=thresholds_from_config(
            snakemake.params.thresholds, snakemake.params.working_resolution
        ),
        strategy=snakemake.params.strategy,
        per_cluster=snakemake.params.per_cluster,
        tiers={tier["size"]: tier.get("floor") for tier in snakemake.params.tiers},
        duplicate_distance=snakemake.params.duplicate_distance,
        near_duplicates=NearDuplicateRule.from_config(snakemake.params.near_duplicates),
        embeddings=(snakemake.input.npy, snakemake.input.index),
        out_table=snakemake.output.table,
        out_report=snakemake.output.report,
        collapse=snakemake.input.collapse,
        log=log,
    )
