"""Adapter: rule build_catalog -> charfolio.catalog.build.build_catalog."""

from charfolio.catalog.build import build_catalog
from charfolio.core.joblog import job_log
from charfolio.core.layout import tier_manifest

with job_log(snakemake.log[0]) as log:
    table = build_catalog(
        snakemake.input.tables,
        faces=snakemake.input.faces,
        quality=snakemake.input.quality,
        duplicates=snakemake.input.duplicates,
        clusters=snakemake.input.clusters,
        selection=snakemake.input.selection,
        tier_manifests={
            n: tier_manifest(tier)
            for n, tier in zip(snakemake.params.tier_sizes, snakemake.input.tiers, strict=True)
        },
        character_root=snakemake.params.root,
        out_path=snakemake.output[0],
    )
    log(f"catalog: {table.num_rows} images")
