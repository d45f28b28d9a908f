# Storyboards (specs 004): a story -> frames.json -> a storyboard in the configured mode,
# the ablation's modes on the same frames and seeds, each evaluated, and the ablation table.
rule split_story:
    output:
        "results/{character}/story/{story}/frames.json",
    log:
        "results/{character}/logs/split_story/{story}.log",
    conda:
        "../envs/cpu.yaml"
    threads: 2
    resources:
        gpu=llama_job_gpus("story/splitter"),
        mem_mb=llama_job_mem_mb("story/splitter", base_mb=2000),
        runtime=20,
    params:
        story=story_settings,
        splitter=lookup(dpath="story/splitter", within=config),
        model_cache=lookup(dpath="model_cache", within=config),
        version=versions.STORY_FRAMES,
    script:
        "../workflow/scripts/split_story.py"


# The storyboard in story.mode; storyboard.json is written last (it marks the board complete).
# One thread: the work is on the GPU, and tiny CPU renders are slower with more (contention).
rule render_storyboard:
    input:
        unpack(storyboard_files),
    output:
        storyboard="results/{character}/story/{story}/storyboard.json",
        sheet="results/{character}/story/{story}/contact_sheet.png",
    log:
        "results/{character}/logs/render_storyboard/{story}.log",
    benchmark:
        "results/{character}/benchmarks/render_storyboard/{story}.tsv"
    conda:
        "../envs/gpu.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 16000 * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
    params:
        settings=storyboard_settings,
        character=story_character,
        prompt_adherence=lookup(dpath="prompt_adherence", within=config),
        backend=lookup(dpath="training/backend", within=config),
        backend_options=lookup(
            dpath=f"training/{config['training']['backend']}",
            within=config,
            default={},
        ),
        model_cache=lookup(dpath="model_cache", within=config),
        version=versions.STORYBOARD,
    script:
        "../workflow/scripts/render_storyboard.py"


# The same story in each of story.ablation.modes (baseline: no LoRA), same frames and seeds.
rule render_ablation:
    input:
        unpack(storyboard_files),
    output:
        storyboard="results/{character}/ablation/{story}/{mode}/storyboard.json",
        sheet="results/{character}/ablation/{story}/{mode}/contact_sheet.png",
    log:
        "results/{character}/logs/render_ablation/{story}_{mode}.log",
    benchmark:
        "results/{character}/benchmarks/render_ablation/{story}_{mode}.tsv"
    conda:
        "../envs/gpu.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 16000 * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
    params:
        settings=storyboard_settings,
        character=story_character,
        prompt_adherence=lookup(dpath="prompt_adherence", within=config),
        backend=lookup(dpath="training/backend", within=config),
        backend_options=lookup(
            dpath=f"training/{config['training']['backend']}",
            within=config,
            default={},
        ),
        model_cache=lookup(dpath="model_cache", within=config),
        version=versions.STORYBOARD,
    script:
        "../workflow/scripts/render_storyboard.py"


# Face consistency, CLIP prompt adherence and diversity of any storyboard (story or ablation).
rule evaluate_storyboard:
    input:
        "results/{character}/{board}/storyboard.json",
    output:
        "results/{character}/{board}/evaluation.json",
    log:
        "results/{character}/logs/evaluate_storyboard/{board}.log",
    benchmark:
        "results/{character}/benchmarks/evaluate_storyboard/{board}.tsv"
    wildcard_constraints:
        board=r"story/[a-z0-9][a-z0-9_]*|ablation/[a-z0-9][a-z0-9_]*/(baseline|simple|reference_guided)",
    conda:
        "../envs/gpu.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        faces=lookup(dpath="faces", within=config),
        prompt_adherence=lookup(dpath="prompt_adherence", within=config),
        model_cache=lookup(dpath="model_cache", within=config),
        version=versions.STORY_EVALUATION,
    script:
        "../workflow/scripts/evaluate_storyboard.py"


rule tabulate_ablation:
    input:
        unpack(ablation_boards),
    output:
        table="results/{character}/ablation.parquet",
        html=report(
            "results/{character}/ablation.html",
            caption="../workflow/report/ablation.rst",
            category="Storyboards",
            labels={"character": "{character}", "artifact": "ablation"},
        ),
    log:
        "results/{character}/logs/tabulate_ablation.log",
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        version=versions.ABLATION,
    script:
        "../workflow/scripts/tabulate_ablation.py"
