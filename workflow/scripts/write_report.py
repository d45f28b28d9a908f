"""Adapter: rule write_report -> charfolio.catalog.report.write_report."""

from charfolio.catalog.report import write_report
from charfolio.core.joblog import job_log

with job_log(snakemake.log[0]) as log:
    write_report(
        None,
        snakemake.output[0],
        catalog=snakemake.input.catalog,
        selection_report=snakemake.input.report,
        images_root=snakemake.params.root,
        max_pixels=snakemake.params.max_pixels,
        review_dir=snakemake.params.review_dir,
    )
    log(f"report: {snakemake.output[0]}")
