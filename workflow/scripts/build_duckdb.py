"""Adapter: rule build_duckdb -> charfolio.catalog.database.build_duckdb."""

from charfolio.catalog.database import build_duckdb
from charfolio.core.joblog import job_log

with job_log(snakemake.log[0]) as log:
    build_duckdb(snakemake.input, snakemake.output[0])
    log(f"DuckDB over {len(snakemake.input)} catalog(s): {snakemake.output[0]}")
