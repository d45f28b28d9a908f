"""The master catalog (one Parquet row per image), its DuckDB, the audit queries and the curation report."""
