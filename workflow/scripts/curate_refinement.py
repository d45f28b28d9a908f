"""Adapter: rule curate_refinement -> charfolio.refine.round_curation.curate_round."""

from charfolio.core.joblog import job_log
from charfolio.refine.round_curation import curate_round

# Worker processes are spawned and re-import this script: only the parent runs the job.
if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        curate_round(
            snakemake.input.table,
            plan_path=snakemake.input.plan,
            previous_pool=snakemake.input.pool,
            previous_report=snakemake.input.report,
            root=snakemake.params.root,
            out_curated=snakemake.output.curated,
            out_pool=snakemake.output.pool,
            out_report=snakemake.output.report,
            faces_cfg=snakemake.params.faces,
            thresholds=snakemake.params.thresholds,
            floor=snakemake.params.floor,
            duplicate_distance=snakemake.params.duplicate_distance,
            quality_weights=snakemake.params.weights,
            targets=snakemake.params.targets,
            rules=snakemake.params.rules,
            max_pixels=snakemake.params.max_pixels,
            working_resolution=snakemake.params.working_resolution,
            model_cache=snakemake.params.model_cache,
            workers=snakemake.threads,
            log=log,
        )
