rule make_scenarios:
    output:
        pattern.scenarios,
    log:
        pattern.log("make_scenarios"),
    benchmark:
        pattern.benchmark("make_scenarios")
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
