# One Parquet row per image, a DuckDB file over every character, and a report per character.
rule build_catalog:
    input:
        unpack(cluster_files),
        tables=shard_tables,
        faces="results/{character}/faces.parquet",
        quality="results/{character}/quality.parquet",
        duplicates="results/{character}/duplicates.parquet",
        selection="results/{character}/selection.parquet",
        tiers=tier_dirs,
    output:
        # Kept while the job runs and swapped in whole: queries over it never find it missing.
        update("results/{character}/catalog.parquet"),
    log:
        "results/{character}/logs/build_catalog.log",
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        code=script_code("build_catalog"),
    script:
        "../workflow/scripts/build_catalog.py"


rule build_duckdb:
    input:
        all_catalogs,
    output:
        # update(): Snakemake keeps the old file while the job runs (and restores it if the
        # job fails); build_duckdb swaps the new one in, so audits never find it missing.
        update("results/catalog.duckdb"),
    log:
        "results/logs/build_duckdb.log",
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
        catalog="results/{character}/catalog.parquet",
        report="results/{character}/selection_report.json",
        images=shard_images,  # the report's thumbnails
    output:
        # update(): an open report reloads the old page, never a missing one, during a rerun.
        update(
            report(
                "results/{character}/report.html",
                caption="../workflow/report/curation_report.rst",
                category="Curation",
                labels={"character": "{character}", "artifact": "report"},
            )
        ),
    log:
        "results/{character}/logs/write_report.log",
    benchmark:
        "results/{character}/benchmarks/write_report.tsv"
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        max_pixels=lookup(dpath="quality/max_pixels", within=config),
        code=script_code("write_report"),
    script:
        "../workflow/scripts/write_report.py"
