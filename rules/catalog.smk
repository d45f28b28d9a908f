# One Parquet row per image, a DuckDB file over every character, and a report per character.
rule build_catalog:
    input:
        unpack(cluster_files),
        tables=shard_tables,
        faces=pattern.faces,
        quality=pattern.quality,
        duplicates=pattern.duplicates,
        selection=pattern.selection,
        tiers=tier_dirs,
    output:
        # Kept while the job runs and swapped in whole: queries over it never find it missing.
        update(pattern.catalog),
    log:
        pattern.log("build_catalog"),
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        root=character_root,  # image files are relative to it
        tier_sizes=lambda wildcards: tier_sizes(),  # of input.tiers, in order
        code=script_code("build_catalog"),
    script:
        "../workflow/scripts/build_catalog.py"


rule build_duckdb:
    input:
        all_catalogs,
    output:
        # update(): Snakemake keeps the old file while the job runs (and restores it if the
        # job fails); build_duckdb swaps the new one in, so audits never find it missing.
        update(results.duckdb),
    log:
        results.log("build_duckdb"),
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        code=script_code("build_duckdb"),
    script:
        "../workflow/scripts/build_duckdb.py"


rule write_report:
    input:
        catalog=pattern.catalog,
        report=pattern.selection_report,
        images=shard_images,  # the report's thumbnails
    output:
        # update(): an open report reloads the old page, never a missing one, during a rerun.
        update(
            report(
                pattern.report,
                caption="../workflow/report/curation_report.rst",
                category="Curation",
                labels={"character": "{character}", "artifact": "report"},
            )
        ),
    log:
        pattern.log("write_report"),
    benchmark:
        pattern.benchmark("write_report")
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        root=character_root,  # image files are relative to it
        max_pixels=lookup(dpath="quality/max_pixels", within=config),
        review_dir=lookup(dpath="review_dir", within=config),  # the Review section names it
        code=script_code("write_report"),
    script:
        "../workflow/scripts/write_report.py"
