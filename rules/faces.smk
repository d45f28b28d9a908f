# The one-face gate: every image's faces, boxes, confidence and main-face descriptor.
rule detect_faces:
    input:
        tables=shard_tables,
        images=shard_images,
    output:
        pattern.faces,
    log:
        pattern.log("detect_faces"),
    benchmark:
        pattern.benchmark("detect_faces")
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        gpu=lambda wildcards: int(config["faces"]["backend"] == "insightface"),
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
        runtime=lambda wildcards, attempt: 120 * attempt,
    params:
        root=character_root,  # image files are relative to it
        faces=lookup(dpath="faces", within=config),
        max_pixels=lookup(dpath="quality/max_pixels", within=config),
        model_cache=lookup(dpath="model_cache", within=config),
        code=script_code("detect_faces"),
    script:
        "../workflow/scripts/detect_faces.py"
