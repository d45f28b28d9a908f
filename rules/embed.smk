# Image embeddings, streamed to disk; {model} names the configured embedder.
rule embed_images:
    input:
        tables=shard_tables,
        images=shard_images,
    output:
        npy=pattern.embeddings("{model}"),
        index=pattern.embedding_index("{model}"),
    log:
        pattern.log("embed_images/{model}"),
    benchmark:
        pattern.benchmark("embed_images/{model}")
    conda:
        "../envs/gpu.yaml"
    threads: 2
    resources:
        gpu=lambda wildcards: int(config["embeddings"]["backend"] == "open_clip"),
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
    params:
        root=character_root,  # image files are relative to it
        embeddings=lookup(dpath="embeddings", within=config),
        model_cache=lookup(dpath="model_cache", within=config),
        code=script_code("embed_images"),
    script:
        "../workflow/scripts/embed_images.py"
