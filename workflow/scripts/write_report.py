"""Adapter: rule write_report -> charfolio.catalog.report.write_report."""

from pathlib import Path

from charfolio.catalog.report import write_report
from charfolio.core.joblog import job_log

with job_log(snakemake.log[0]) as log:
    write_report(
        Path(snakemake.input.catalog).parent,
        snakemake.output[0],
        max_pixels=snakemake.params.max_pixels,
    )
    log(f"report: {snakemake.output[0]}")
