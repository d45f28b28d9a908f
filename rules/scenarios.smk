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
        # llama.cpp: a GPU when it offloads layers, memory for the whole GGUF
        gpu=llama_job_gpus("scenarios"),
        mem_mb=llama_job_mem_mb("scenarios", base_mb=4000),
        runtime=60,
    params:
        scenarios=lookup(dpath="scenarios", within=config),
        character=prompt_fields,
        model_cache=lookup(dpath="model_cache", within=config),
        code=script_code("make_scenarios"),
    script:
        "../workflow/scripts/make_scenarios.py"
