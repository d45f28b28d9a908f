"""Adapter: rule write_report -> charfolio.report.write_report."""

from pathlib import Path

from charfolio.joblog import job_log
from charfolio.report import write_report

with job_log(snakemake.log[0]) as log:
    write_report(
        Path(snakemake.input.catalog).parent,
        snakemake.output[0],
        max_pixels=snakemake.params.max_pixels,
    )
    log(f"report: {snakemake.output[0]}")
