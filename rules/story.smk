# Storyboards (specs 004): a story -> frames.json -> a storyboard in the configured mode,
# the ablation's modes on the same frames and seeds, each evaluated, and the ablation table.
rule split_story:
    output:
        pattern.frames("{story}"),
    log:
        pattern.log("split_story/{story}"),
    benchmark:
        pattern.benchmark("split_story/{story}")
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
        code=script_code("split_story"),
    script:
        "../workflow/scripts/split_story.py"


# The storyboard in story.mode; storyboard.json is written last (it marks the board complete).
# One thread: the work is on the GPU, and tiny CPU renders are slower with more (contention).
rule render_storyboard:
    input:
        unpack(storyboard_files),
    output:
        storyboard=pattern.storyboard(board_name("{story}")),
        sheet=pattern.contact_sheet(board_name("{story}")),
    log:
        pattern.log("render_storyboard/{story}"),
    benchmark:
        pattern.benchmark("render_storyboard/{story}")
    conda:
        "../envs/gpu.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 16000 * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
    params:
        results=results_root,  # the LoRAs trained for the character
        board=storyboard_dir,
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
        code=script_code("render_storyboard"),
    script:
        "../workflow/scripts/render_storyboard.py"


# The same story in each of story.ablation.modes (baseline: no LoRA), same frames and seeds.
use rule render_storyboard as render_ablation with:
    output:
        storyboard=pattern.storyboard(board_name("{story}", "{mode}")),
        sheet=pattern.contact_sheet(board_name("{story}", "{mode}")),
    log:
        pattern.log("render_ablation/{story}_{mode}"),
    benchmark:
        pattern.benchmark("render_ablation/{story}_{mode}")


# Face consistency, CLIP prompt adherence and diversity of any storyboard (story or ablation).
rule evaluate_storyboard:
    input:
        pattern.storyboard("{board}"),
    output:
        pattern.evaluation("{board}"),
    log:
        pattern.log("evaluate_storyboard/{board}"),
    benchmark:
        pattern.benchmark("evaluate_storyboard/{board}")
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
        code=script_code("evaluate_storyboard"),
    script:
        "../workflow/scripts/evaluate_storyboard.py"


rule tabulate_ablation:
    input:
        unpack(ablation_boards),
        unpack(ratings_input),
    output:
        table=pattern.ablation_table,
        html=report(
            pattern.ablation_page,
            caption="../workflow/report/ablation.rst",
            category="Storyboards",
            labels={"character": "{character}", "artifact": "ablation"},
        ),
    log:
        pattern.log("tabulate_ablation"),
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        character_root=character_root,
        code=script_code("tabulate_ablation"),
    script:
        "../workflow/scripts/tabulate_ablation.py"
