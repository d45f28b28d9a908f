# Targeted refinement (specs 003, Strategy B) of each training tier, as a chain of rounds:
# round_0 is the tier as analysed; round r (>= 1) plans modifiers for the shot types still
# missing from round r-1's report, renders one fill-in per modifier with the image backend,
# and curates them with the main images' gates into round r's pool. A round after the
# target is reached plans zero images, so the rest of the chain is cheap no-ops.
# tier_{n}_refined/ is the tier plus every accepted fill-in, in a tier's layout.
rule start_refinement:
    input:
        tier="results/{character}/tier_{n}",
        balance="results/{character}/balance/tier_{n}.parquet",
        duplicates="results/{character}/duplicates.parquet",
    output:
        pool="results/{character}/refine/tier_{n}/round_0/pool.parquet",
        report="results/{character}/refine/tier_{n}/round_0/round.json",
    log:
        "results/{character}/logs/refine/tier_{n}_round_0.log",
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
        scenarios="results/{character}/refine/tier_{n}/round_{round}/scenarios.parquet",
        plan="results/{character}/refine/tier_{n}/round_{round}/plan.json",
    log:
        "results/{character}/logs/refine/tier_{n}_round_{round}_plan.log",
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
        scenarios="results/{character}/refine/tier_{n}/round_{round}/scenarios.parquet",
    output:
        images=directory("results/{character}/refine/tier_{n}/round_{round}/images"),
        table="results/{character}/refine/tier_{n}/round_{round}/images.parquet",
    log:
        "results/{character}/logs/refine/tier_{n}_round_{round}_generate.log",
    benchmark:
        "results/{character}/benchmarks/refine/tier_{n}_round_{round}_generate.tsv"
    conda:
        "../envs/gpu.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 16000 * attempt,
        runtime=lambda wildcards, attempt: 120 * attempt,
    params:
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
        images="results/{character}/refine/tier_{n}/round_{round}/images",
        table="results/{character}/refine/tier_{n}/round_{round}/images.parquet",
        plan="results/{character}/refine/tier_{n}/round_{round}/plan.json",
    output:
        curated="results/{character}/refine/tier_{n}/round_{round}/curated.parquet",
        pool="results/{character}/refine/tier_{n}/round_{round}/pool.parquet",
        report="results/{character}/refine/tier_{n}/round_{round}/round.json",
    log:
        "results/{character}/logs/refine/tier_{n}_round_{round}_curate.log",
    benchmark:
        "results/{character}/benchmarks/refine/tier_{n}_round_{round}_curate.tsv"
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        gpu=lambda wildcards: int(config["faces"]["backend"] == "insightface"),
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
    params:
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
        tier="results/{character}/tier_{n}",
    output:
        tier=directory("results/{character}/tier_{n}_refined"),
        report="results/{character}/refine/tier_{n}/report.json",
    log:
        "results/{character}/logs/refine/tier_{n}_refined.log",
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        caption=caption_fields,
        link_mode=lookup(dpath="curation/link_mode", within=config),
        val_fraction=lookup(dpath="curation/val_fraction", within=config),
        code=script_code("build_refined_tier"),
    script:
        "../workflow/scripts/build_refined_tier.py"
