# Raw, unthresholded measurements: thresholds are applied only by selection.
rule score_quality:
    input:
        tables=shard_tables,
        images=shard_images,
        faces=pattern.faces,
    output:
        pattern.quality,
    log:
        pattern.log("score_quality"),
    benchmark:
        pattern.benchmark("score_quality")
    conda:
        "../envs/cpu.yaml"
    threads: 8
    resources:
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
        runtime=60,
    params:
        root=character_root,  # image files are relative to it
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
        pattern.duplicates,
    log:
        pattern.log("hash_images"),
    benchmark:
        pattern.benchmark("hash_images")
    conda:
        "../envs/cpu.yaml"
    threads: 4
    resources:
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
        runtime=60,
    params:
        root=character_root,  # image files are relative to it
        max_pixels=lookup(dpath="quality/max_pixels", within=config),
        code=script_code("hash_images"),
    script:
        "../workflow/scripts/hash_images.py"
