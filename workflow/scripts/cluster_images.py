"""Adapter: rule cluster_images -> charfolio.curate.clusters.cluster_images."""

from charfolio.core.joblog import job_log
from charfolio.curate.clusters import CollapseLimits, cluster_images

with job_log(snakemake.log[0]) as log:
    cluster_images(
        snakemake.input.npy,
        snakemake.input.index,
        snakemake.input.faces,
        k=int(snakemake.wildcards.k),
        out_table=snakemake.output.clusters,
        out_collapse=snakemake.output.collapse,
        random_state=snakemake.params.random_state,
        limits=CollapseLimits(**snakemake.params.collapse),
        log=log,
    )
