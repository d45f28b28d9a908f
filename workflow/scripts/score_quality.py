"""Adapter: rule score_quality -> charfolio.quality.score_quality_of_tables."""

from charfolio.core.joblog import job_log
from charfolio.quality import score_quality_of_tables

# Worker processes are spawned and re-import this script: only the parent runs the job.
if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        score_quality_of_tables(
            snakemake.input.tables,
            root=snakemake.params.root,
            faces_path=snakemake.input.faces,
            out_path=snakemake.output[0],
            weights=snakemake.params.weights,
            workers=snakemake.threads,
            max_pixels=snakemake.params.max_pixels,
            working_resolution=snakemake.params.working_resolution,
            log=log,
        )
