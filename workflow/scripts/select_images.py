"""Adapter: rule select_images -> charfolio.curate.select_files."""

from charfolio.core.joblog import job_log
from charfolio.curate import select_files, thresholds_from_config
from charfolio.curate.near_duplicates import NearDuplicateRule

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
        review=snakemake.input.get("review"),  # none: no decisions
        log=log,
    )
