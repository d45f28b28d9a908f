# Shot-type balance of a tier (close-up, medium, full-body, wide; multi-character,
# occlusion, complex background) against the recommended ranges, and a balanced copy.
rule analyze_balance:
    input:
        faces=pattern.faces,
        tier=pattern.tier("{n}"),
        images=shard_images,  # the tier's links point into them
    output:
        table=pattern.balance_table("{n}"),
        report=pattern.balance_report("{n}"),
    log:
        pattern.log("analyze_balance_{n}"),
    benchmark:
        pattern.benchmark("analyze_balance/tier_{n}")
    conda:
        "../envs/cpu.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        root=character_root,  # image files are relative to it
        targets=lookup(dpath="balance/targets", within=config),
        rules=lookup(dpath="balance/rules", within=config),
        code=script_code("analyze_balance"),
    script:
        "../workflow/scripts/analyze_balance.py"


rule augment_tier:
    input:
        tier=pattern.tier("{n}"),
        balance=pattern.balance_table("{n}"),
        faces=pattern.faces,
    output:
        directory(pattern.tier("{n}", "balanced")),
    log:
        pattern.log("augment_tier_{n}"),
    benchmark:
        pattern.benchmark("augment_tier/tier_{n}")
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        root=character_root,  # image files are relative to it
        targets=lookup(dpath="balance/targets", within=config),
        rules=lookup(dpath="balance/rules", within=config),
        augment=lookup(dpath="balance/augment", within=config),
        link_mode=lookup(dpath="curation/link_mode", within=config),
        caption=caption_fields,
        code=script_code("augment_tier"),
    script:
        "../workflow/scripts/augment_tier.py"
