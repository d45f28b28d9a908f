# One job per seed group: the model loads once and renders the whole shard in batches.
rule generate_images:
    input:
        scenarios="results/{character}/scenarios.parquet",
    output:
        images=directory("results/{character}/images/seed_{seed}"),
        table="results/{character}/images/seed_{seed}.parquet",
    params:
        character=prompt_fields,
        distribution=lookup(dpath="distribution", within=config),
        generation=lookup(dpath="generation", within=config),
        model_cache=lookup(dpath="model_cache", within=config),
        version=versions.GENERATION,
    log:
        "results/{character}/logs/generate_images/seed_{seed}.log",
    benchmark:
        "results/{character}/benchmarks/generate_images/seed_{seed}.tsv"
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 16000 * attempt,
        runtime=lambda wildcards, attempt: 360 * attempt,
    conda:
        "../envs/gpu.yaml"
    script:
        "../workflow/scripts/generate_images.py"
