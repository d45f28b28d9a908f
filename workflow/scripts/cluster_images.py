"""Adapter: rule cluster_images -> charfolio.cluster.cluster_images."""

from charfolio.cluster import CollapseLimits, cluster_images
from charfolio.joblog import job_log

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
