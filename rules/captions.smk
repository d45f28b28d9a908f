# Captions for images without a prompt (characters with image_folder): a captioner backend
# (the template, or a local VLM through transformers or llama.cpp) and the caption lint.
# build_tier reads them for those characters; generated images are captioned from prompts.
rule caption_images:
    input:
        tables=shard_tables,
        images=shard_images,
        faces=pattern.faces,
    output:
        pattern.captions,
    log:
        pattern.log("caption_images"),
    benchmark:
        pattern.benchmark("caption_images")
    conda:
        "../envs/gpu.yaml"
    threads: 2
    resources:
        gpu=lambda wildcards: int(config["captions"]["backend"] != "template"),
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
        runtime=lambda wildcards, attempt: 120 * attempt,
    params:
        root=character_root,  # image files are relative to it
        captions=lookup(dpath="captions", within=config),
        caption=caption_fields,
        shots=lookup(dpath="balance/rules/shots", within=config),
        max_pixels=lookup(dpath="quality/max_pixels", within=config),
        model_cache=lookup(dpath="model_cache", within=config),
        code=script_code("caption_images"),
    script:
        "../workflow/scripts/caption_images.py"
