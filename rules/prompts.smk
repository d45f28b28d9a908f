rule make_scenarios:
    output:
        "results/{character}/scenarios.parquet",
    log:
        "results/{character}/logs/make_scenarios.log",
    benchmark:
        "results/{character}/benchmarks/make_scenarios.tsv"
    conda:
        "../envs/cpu.yaml"
    threads: 2
    resources:
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
        runtime=60,
    params:
        scenarios=lookup(dpath="scenarios", within=config),
        character=prompt_fields,
        model_cache=lookup(dpath="model_cache", within=config),
        version=versions.SCENARIOS,
    script:
        "../workflow/scripts/make_scenarios.py"
