# The checkpoint report (specs 003): a standard prompt suite rendered with every checkpoint
# of every trained LoRA at fixed seeds, scored (identity, prompt adherence, quality), ranked.
rule make_checkpoint_suite:
    output:
        "results/{character}/checkpoints/suite.parquet",
    log:
        "results/{character}/logs/make_checkpoint_suite.log",
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
        version=versions.CHECKPOINT_SUITE,
    script:
        "../workflow/scripts/make_checkpoint_suite.py"


# One job per trained LoRA: the base model loads once and the checkpoints swap on it.
rule render_checkpoints:
    input:
        summary="results/{character}/lora/{preset}/tier_{n}/summary.json",
        lora="results/{character}/lora/{preset}/tier_{n}/lora_diffusers.safetensors",
        suite="results/{character}/checkpoints/suite.parquet",
        faces="results/{character}/faces.parquet",
        tier="results/{character}/tier_{n}",
    output:
        scores="results/{character}/checkpoints/{preset}/tier_{n}/scores.parquet",
        run="results/{character}/checkpoints/{preset}/tier_{n}/run.json",
        images=directory("results/{character}/checkpoints/{preset}/tier_{n}/images"),
    log:
        "results/{character}/logs/render_checkpoints/{preset}_tier_{n}.log",
    benchmark:
        "results/{character}/benchmarks/render_checkpoints/{preset}_tier_{n}.tsv"
    conda:
        "../envs/gpu.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 16000 * attempt,
        runtime=lambda wildcards, attempt: 120 * attempt,
    params:
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
        version=versions.CHECKPOINT_SCORES,
    script:
        "../workflow/scripts/render_checkpoints.py"


rule write_checkpoint_report:
    input:
        unpack(checkpoint_runs),
        suite="results/{character}/checkpoints/suite.parquet",
    output:
        html=report(
            "results/{character}/checkpoint_report.html",
            caption="../workflow/report/checkpoint_report.rst",
            category="LoRA",
            labels={"character": "{character}", "artifact": "checkpoint report"},
        ),
        json="results/{character}/checkpoint_report.json",
        table="results/{character}/checkpoint_scores.parquet",
    log:
        "results/{character}/logs/write_checkpoint_report.log",
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        ranking_weights=lookup(dpath="evaluation/ranking_weights", within=config),
        version=versions.CHECKPOINT_REPORT,
    script:
        "../workflow/scripts/write_checkpoint_report.py"
