# Image embeddings, streamed to disk; {model} names the configured embedder.
rule embed_images:
    input:
        tables=shard_tables,
        images=shard_images,
    output:
        npy="results/{character}/embeddings/{model}.npy",
        index="results/{character}/embeddings/{model}.parquet",
    log:
        "results/{character}/logs/embed_images/{model}.log",
    benchmark:
        "results/{character}/benchmarks/embed_images/{model}.tsv"
    conda:
        "../envs/gpu.yaml"
    threads: 2
    resources:
        gpu=lambda wildcards: int(config["embeddings"]["backend"] == "open_clip"),
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
    params:
        embeddings=lookup(dpath="embeddings", within=config),
        model_cache=lookup(dpath="model_cache", within=config),
        code=script_code("embed_images"),
    script:
        "../workflow/scripts/embed_images.py"
