# Clusters, the selection funnel and the tiers. Thresholds, preset, strategy and tier sizes
# are params of select_images/build_tier only, and a reviewer's decisions (the review file)
# an input of select_images only, so changing them reruns nothing upstream.
rule cluster_images:
    input:
        unpack(embedding_files),
        faces=pattern.faces,
    output:
        clusters=pattern.clusters("{k}"),
        collapse=pattern.collapse("{k}"),
    log:
        pattern.log("cluster_images_k{k}"),
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
        runtime=30,
    params:
        random_state=lookup(dpath="curation/random_state", within=config),
        collapse=lookup(dpath="curation/collapse", within=config),
        code=script_code("cluster_images"),
    script:
        "../workflow/scripts/cluster_images.py"


rule select_images:
    input:
        unpack(cluster_files),
        unpack(embedding_files),  # npy, index: compared with the faces' descriptors
        unpack(review_decisions),  # review: accept/reject/star, when the file exists
        tables=shard_tables,
        faces=pattern.faces,
        quality=pattern.quality,
        duplicates=pattern.duplicates,
    output:
        table=pattern.selection,
        report=report(
            pattern.selection_report,
            caption="../workflow/report/selection_report.rst",
            category="Curation",
            labels={"character": "{character}", "artifact": "selection report"},
        ),
    log:
        pattern.log("select_images"),
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        thresholds=lookup(dpath="curation/thresholds", within=config),
        working_resolution=lookup(dpath="quality/working_resolution", within=config),
        strategy=lookup(dpath="curation/strategy", within=config),
        per_cluster=lookup(dpath="curation/per_cluster", within=config),
        tiers=lookup(dpath="curation/tiers", within=config),
        duplicate_distance=lookup(dpath="curation/duplicate_distance", within=config),
        near_duplicates=lookup(dpath="curation/near_duplicates", within=config),
        code=script_code("select_images"),
    script:
        "../workflow/scripts/select_images.py"


rule build_tier:
    input:
        unpack(tier_captions),
        selection=tier_selection,
        report=pattern.selection_report,
    output:
        directory(pattern.tier("{n}")),
    log:
        pattern.log("build_tier_{n}"),
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        root=character_root,  # image files are relative to it
        caption=caption_fields,
        link_mode=lookup(dpath="curation/link_mode", within=config),
        val_fraction=lookup(dpath="curation/val_fraction", within=config),
        code=script_code("build_tier"),
    script:
        "../workflow/scripts/build_tier.py"
