# One job per seed group: the model loads once and renders the whole shard in batches.
rule generate_images:
    input:
        scenarios=pattern.scenarios,
    output:
        images=directory(pattern.seed_images("{seed}")),
        table=pattern.seed_table("{seed}"),
    log:
        pattern.log("generate_images/seed_{seed}"),
    benchmark:
        pattern.benchmark("generate_images/seed_{seed}")
    conda:
        "../envs/gpu.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 16000 * attempt,
        runtime=lambda wildcards, attempt: 360 * attempt,
    params:
        root=character_root,  # image files are relative to it
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
        pattern.folder_table,
    log:
        pattern.log("ingest_folder"),
    benchmark:
        pattern.benchmark("ingest_folder")
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        root=character_root,  # image files are relative to it
        folder=image_folder,
        listing=image_folder_listing,
        max_bytes=lookup(dpath="ingest/max_bytes", within=config),
        code=script_code("ingest_folder"),
    script:
        "../workflow/scripts/ingest_folder.py"
