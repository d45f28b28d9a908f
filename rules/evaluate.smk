# The checkpoint report (specs 003): a standard prompt suite rendered with every checkpoint
# of every trained LoRA at fixed seeds, scored (identity, prompt adherence, quality), ranked.
rule make_checkpoint_suite:
    output:
        pattern.checkpoint_suite,
    log:
        pattern.log("make_checkpoint_suite"),
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        trigger=suite_trigger,
        categories=lookup(dpath="evaluation/categories", within=config),
        per_category=lookup(dpath="evaluation/prompts_per_category", within=config),
        seed=lookup(dpath="evaluation/seed", within=config),
        code=script_code("make_checkpoint_suite"),
    script:
        "../workflow/scripts/make_checkpoint_suite.py"


# One job per trained LoRA: the base model loads once and the checkpoints swap on it.
rule render_checkpoints:
    input:
        summary=pattern.lora_summary("{preset}", "{n}"),
        lora=pattern.lora_diffusers("{preset}", "{n}"),
        suite=pattern.checkpoint_suite,
        faces=pattern.faces,
        tier=pattern.tier("{n}"),
    output:
        scores=pattern.checkpoint_scores("{preset}", "{n}"),
        run=pattern.checkpoint_record("{preset}", "{n}"),
        images=directory(pattern.checkpoint_images("{preset}", "{n}")),
    log:
        pattern.log("render_checkpoints/{preset}_tier_{n}"),
    benchmark:
        pattern.benchmark("render_checkpoints/{preset}_tier_{n}")
    conda:
        "../envs/gpu.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 16000 * attempt,
        runtime=lambda wildcards, attempt: 120 * attempt,
    params:
        run=pattern.checkpoint_run("{preset}", "{n}"),
        settings=checkpoint_render_settings,
        negative_prompt=suite_negative_prompt,
        backend=lookup(dpath="training/backend", within=config),
        backend_options=lookup(
            dpath=f"training/{config['training']['backend']}",
            within=config,
            default={},
        ),
        faces=lookup(dpath="faces", within=config),
        prompt_adherence=lookup(dpath="prompt_adherence", within=config),
        quality_weights=lookup(dpath="quality/weights", within=config),
        checkpoints=lookup(dpath="evaluation/checkpoints", within=config),
        model_cache=lookup(dpath="model_cache", within=config),
        code=script_code("render_checkpoints"),
    script:
        "../workflow/scripts/render_checkpoints.py"


rule write_checkpoint_report:
    input:
        unpack(checkpoint_runs),
        unpack(ratings_input),
        suite=pattern.checkpoint_suite,
    output:
        html=report(
            pattern.checkpoint_report,
            caption="../workflow/report/checkpoint_report.rst",
            category="LoRA",
            labels={"character": "{character}", "artifact": "checkpoint report"},
        ),
        json=pattern.checkpoint_report_json,
        table=pattern.checkpoint_table,
    log:
        pattern.log("write_checkpoint_report"),
    benchmark:
        pattern.benchmark("write_checkpoint_report")
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        ranking_weights=lookup(dpath="evaluation/ranking_weights", within=config),
        character_root=character_root,
        code=script_code("write_checkpoint_report"),
    script:
        "../workflow/scripts/write_checkpoint_report.py"
