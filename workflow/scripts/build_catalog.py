"""Adapter: rule build_catalog -> charfolio.catalog.build.build_catalog."""

from pathlib import Path

from charfolio.catalog.build import build_catalog
from charfolio.core.joblog import job_log

with job_log(snakemake.log[0]) as log:
    table = build_catalog(
        snakemake.input.tables,
        faces=snakemake.input.faces,
        quality=snakemake.input.quality,
        duplicates=snakemake.input.duplicates,
        clusters=snakemake.input.clusters,
        selection=snakemake.input.selection,
        tier_manifests={
            int(Path(d).name.split("_")[1]): Path(d) / "manifest.parquet"
            for d in snakemake.input.tiers
        },
        character_root=Path(snakemake.output[0]).parent,
        out_path=snakemake.output[0],
    )
    log(f"catalog: {table.num_rows} images")
