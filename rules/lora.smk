# PEFT LoRA training on a tier (or its balanced / refined copy: training.tier_variant, an
# input, so changing it retrains). The files are the outputs, not the folder: a failed or
# killed job keeps lora/.../state/, and rerunning the rule resumes from it.
rule train_lora:
    input:
        tier=training_tier,
    output:
        diffusers="results/{character}/lora/{preset}/tier_{n}/lora_diffusers.safetensors",
        kohya="results/{character}/lora/{preset}/tier_{n}/lora_kohya.safetensors",
        summary="results/{character}/lora/{preset}/tier_{n}/summary.json",
        training_config="results/{character}/lora/{preset}/tier_{n}/training_config.json",
    log:
        "results/{character}/logs/train_lora/{preset}_tier_{n}.log",
    benchmark:
        "results/{character}/benchmarks/train_lora/{preset}_tier_{n}.tsv"
    conda:
        "../envs/gpu.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 24000 * attempt,
        runtime=lambda wildcards, attempt: 240 * attempt,
    params:
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
        version=versions.LORA,
    script:
        "../workflow/scripts/train_lora.py"
