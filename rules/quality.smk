# Raw, unthresholded measurements: thresholds are applied only by selection.
rule score_quality:
    input:
        tables=shard_tables,
        images=shard_images,
        faces="results/{character}/faces.parquet",
    output:
        "results/{character}/quality.parquet",
    log:
        "results/{character}/logs/score_quality.log",
    benchmark:
        "results/{character}/benchmarks/score_quality.tsv"
    conda:
        "../envs/cpu.yaml"
    threads: 8
    resources:
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
        runtime=60,
    params:
        weights=lookup(dpath="quality/weights", within=config),
        max_pixels=lookup(dpath="quality/max_pixels", within=config),
        working_resolution=lookup(dpath="quality/working_resolution", within=config),
        code=script_code("score_quality"),
    script:
        "../workflow/scripts/score_quality.py"


rule hash_images:
    input:
        tables=shard_tables,
        images=shard_images,
    output:
        "results/{character}/duplicates.parquet",
    log:
        "results/{character}/logs/hash_images.log",
    benchmark:
        "results/{character}/benchmarks/hash_images.tsv"
    conda:
        "../envs/cpu.yaml"
    threads: 4
    resources:
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
        runtime=60,
    params:
        max_pixels=lookup(dpath="quality/max_pixels", within=config),
        code=script_code("hash_images"),
    script:
        "../workflow/scripts/hash_images.py"
