# PEFT LoRA training on a tier (or its balanced / refined copy: training.tier_variant, an
# input, so changing it retrains). The files are the outputs, not the folder: a failed or
# killed job keeps lora/.../state/, and rerunning the rule resumes from it.
rule train_lora:
    input:
        tier=training_tier,
    output:
        diffusers=pattern.lora_diffusers("{preset}", "{n}"),
        kohya=pattern.lora_kohya("{preset}", "{n}"),
        summary=pattern.lora_summary("{preset}", "{n}"),
        training_config=pattern.lora_training_config("{preset}", "{n}"),
    log:
        pattern.log("train_lora/{preset}_tier_{n}"),
    benchmark:
        pattern.benchmark("train_lora/{preset}_tier_{n}")
    conda:
        "../envs/gpu.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 24000 * attempt,
        runtime=lambda wildcards, attempt: 240 * attempt,
    params:
        run=pattern.lora_run("{preset}", "{n}"),
        preset=training_preset,
        user_presets=lookup(dpath="training/user_presets", within=config),
        model=lookup(dpath="generation/model", within=config),
        backend=lookup(dpath="training/backend", within=config),
        backend_options=lookup(
            dpath=f"training/{config['training']['backend']}",
            within=config,
            default={},
        ),
        device=lookup(dpath="training/device", within=config),
        model_cache=lookup(dpath="model_cache", within=config),
        code=script_code("train_lora"),
    script:
        "../workflow/scripts/train_lora.py"
