# Shot-type balance of a tier (close-up, medium, full-body, wide; multi-character,
# occlusion, complex background) against the recommended ranges, and a balanced copy.
rule analyze_balance:
    input:
        faces="results/{character}/faces.parquet",
        tier="results/{character}/tier_{n}",
        images=shard_images,  # the tier's links point into them
    output:
        table="results/{character}/balance/tier_{n}.parquet",
        report="results/{character}/balance/tier_{n}.json",
    log:
        "results/{character}/logs/analyze_balance_{n}.log",
    benchmark:
        "results/{character}/benchmarks/analyze_balance/tier_{n}.tsv"
    conda:
        "../envs/cpu.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        targets=lookup(dpath="balance/targets", within=config),
        rules=lookup(dpath="balance/rules", within=config),
        code=script_code("analyze_balance"),
    script:
        "../workflow/scripts/analyze_balance.py"


rule augment_tier:
    input:
        tier="results/{character}/tier_{n}",
        balance="results/{character}/balance/tier_{n}.parquet",
        faces="results/{character}/faces.parquet",
    output:
        directory("results/{character}/tier_{n}_balanced"),
    log:
        "results/{character}/logs/augment_tier_{n}.log",
    benchmark:
        "results/{character}/benchmarks/augment_tier/tier_{n}.tsv"
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        targets=lookup(dpath="balance/targets", within=config),
        rules=lookup(dpath="balance/rules", within=config),
        augment=lookup(dpath="balance/augment", within=config),
        link_mode=lookup(dpath="curation/link_mode", within=config),
        caption=caption_fields,
        code=script_code("augment_tier"),
    script:
        "../workflow/scripts/augment_tier.py"
