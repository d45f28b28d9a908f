# One job per seed group: the model loads once and renders the whole shard in batches.
rule generate_images:
    input:
        scenarios="results/{character}/scenarios.parquet",
    output:
        images=directory("results/{character}/images/seed_{seed}"),
        table="results/{character}/images/seed_{seed}.parquet",
    log:
        "results/{character}/logs/generate_images/seed_{seed}.log",
    benchmark:
        "results/{character}/benchmarks/generate_images/seed_{seed}.tsv"
    conda:
        "../envs/gpu.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 16000 * attempt,
        runtime=lambda wildcards, attempt: 360 * attempt,
    params:
        character=prompt_fields,
        distribution=lookup(dpath="distribution", within=config),
        generation=lookup(dpath="generation", within=config),
        model_cache=lookup(dpath="model_cache", within=config),
        code=script_code("generate_images"),
    script:
        "../workflow/scripts/generate_images.py"


# A character with `image_folder` takes its images from that folder instead. The folder's
# listing is a param: a file added, changed or deleted reruns ingest and what follows.
rule ingest_folder:
    output:
        "results/{character}/images/folder.parquet",
    log:
        "results/{character}/logs/ingest_folder.log",
    benchmark:
        "results/{character}/benchmarks/ingest_folder.tsv"
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        folder=image_folder,
        listing=image_folder_listing,
        max_bytes=lookup(dpath="ingest/max_bytes", within=config),
        code=script_code("ingest_folder"),
    script:
        "../workflow/scripts/ingest_folder.py"
