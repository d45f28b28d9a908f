"""Adapter: rule hash_images -> charfolio.quality.duplicates.hash_images_in_tables."""

from charfolio.core.joblog import job_log
from charfolio.quality.duplicates import hash_images_in_tables

# Worker processes are spawned and re-import this script: only the parent runs the job.
if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        hash_images_in_tables(
            snakemake.input.tables,
            root=snakemake.params.root,
            out_path=snakemake.output[0],
            workers=snakemake.threads,
            max_pixels=snakemake.params.max_pixels,
            log=log,
        )
