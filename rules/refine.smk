# Targeted refinement (specs 003, Strategy B) of each training tier, as a chain of rounds:
# round_0 is the tier as analysed; round r (>= 1) plans modifiers for the shot types still
# missing from round r-1's report, renders one fill-in per modifier with the image backend,
# and curates them with the main images' gates into round r's pool. A round after the
# target is reached plans zero images, so the rest of the chain is cheap no-ops.
# tier_{n}_refined/ is the tier plus every accepted fill-in, in a tier's layout.
rule start_refinement:
    input:
        tier=pattern.tier("{n}"),
        balance=pattern.balance_table("{n}"),
        duplicates=pattern.duplicates,
    output:
        pool=pattern.round_pool("{n}", 0),
        report=pattern.round_report("{n}", 0),
    log:
        pattern.log("refine/tier_{n}_round_0"),
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        targets=lookup(dpath="balance/targets", within=config),
        rules=lookup(dpath="balance/rules", within=config),
        code=script_code("start_refinement"),
    script:
        "../workflow/scripts/start_refinement.py"


rule plan_refinement:
    input:
        unpack(previous_round),
    output:
        scenarios=pattern.round_scenarios("{n}", "{round}"),
        plan=pattern.round_plan("{n}", "{round}"),
    log:
        pattern.log("refine/tier_{n}_round_{round}_plan"),
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        # not balance.refine.rounds: adding a round must not rerun the earlier ones
        images_per_round=lookup(dpath="balance/refine/images_per_round", within=config),
        pass_rate_prior=lookup(dpath="balance/refine/pass_rate_prior", within=config),
        seed=lookup(dpath="balance/refine/seed", within=config),
        code=script_code("plan_refinement"),
    script:
        "../workflow/scripts/plan_refinement.py"


rule generate_refinement:
    input:
        scenarios=pattern.round_scenarios("{n}", "{round}"),
    output:
        images=directory(pattern.round_images("{n}", "{round}")),
        table=pattern.round_table("{n}", "{round}"),
    log:
        pattern.log("refine/tier_{n}_round_{round}_generate"),
    benchmark:
        pattern.benchmark("refine/tier_{n}_round_{round}_generate")
    conda:
        "../envs/gpu.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 16000 * attempt,
        runtime=lambda wildcards, attempt: 120 * attempt,
    params:
        root=character_root,  # image files are relative to it
        character=prompt_fields,
        generation=lookup(dpath="generation", within=config),
        model_cache=lookup(dpath="model_cache", within=config),
        code=script_code("generate_refinement"),
    script:
        "../workflow/scripts/generate_refinement.py"


# The main images' gates (faces, thresholds, score, the tier's floor, duplicates against the
# pool), then each accepted fill-in must fill an open shot-type quota.
rule curate_refinement:
    input:
        unpack(previous_round),
        images=pattern.round_images("{n}", "{round}"),
        table=pattern.round_table("{n}", "{round}"),
        plan=pattern.round_plan("{n}", "{round}"),
    output:
        curated=pattern.round_curated("{n}", "{round}"),
        pool=pattern.round_pool("{n}", "{round}"),
        report=pattern.round_report("{n}", "{round}"),
    log:
        pattern.log("refine/tier_{n}_round_{round}_curate"),
    benchmark:
        pattern.benchmark("refine/tier_{n}_round_{round}_curate")
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        gpu=lambda wildcards: int(config["faces"]["backend"] == "insightface"),
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
    params:
        root=character_root,  # image files are relative to it
        faces=lookup(dpath="faces", within=config),
        weights=lookup(dpath="quality/weights", within=config),
        max_pixels=lookup(dpath="quality/max_pixels", within=config),
        working_resolution=lookup(dpath="quality/working_resolution", within=config),
        thresholds=lookup(dpath="curation/thresholds", within=config),
        duplicate_distance=lookup(dpath="curation/duplicate_distance", within=config),
        floor=tier_floor,
        targets=lookup(dpath="balance/targets", within=config),
        rules=lookup(dpath="balance/rules", within=config),
        model_cache=lookup(dpath="model_cache", within=config),
        code=script_code("curate_refinement"),
    script:
        "../workflow/scripts/curate_refinement.py"


rule build_refined_tier:
    input:
        unpack(refine_rounds),
        tier=pattern.tier("{n}"),
    output:
        tier=directory(pattern.tier("{n}", "refined")),
        report=pattern.refinement_report("{n}"),
    log:
        pattern.log("refine/tier_{n}_refined"),
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
        code=script_code("build_refined_tier"),
    script:
        "../workflow/scripts/build_refined_tier.py"
