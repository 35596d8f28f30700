rule judge:
    input:
        unpack(judge_inputs),
    output:
        "results/judge/{dataset}/{task}/{model}.parquet",
    log:
        "logs/judge/{dataset}/{task}/{model}.log",
    benchmark:
        "benchmarks/judge/{dataset}/{task}/{model}.tsv"
    conda:
        "../../envs/models.yaml"
    resources:
        gpu=resource("gpus", "judge"),
        gpu_model=resource("gpu_model", "judge"),
        mem_mb=resource("mem_mb", "judge"),
        runtime=resource("runtime", "judge"),
        cpus_per_gpu=resource("cpus_per_gpu", "judge"),
    params:
        judge=judge_params,
    script:
        "../scripts/judge.py"


rule score:
    input:
        unpack(score_inputs),
    output:
        "results/scores/{dataset}/{task}/{model}.parquet",
    log:
        "logs/score/{dataset}/{task}/{model}.log",
    benchmark:
        "benchmarks/score/{dataset}/{task}/{model}.tsv"
    conda:
        "../../envs/scoring.yaml"
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        scoring=score_params,
    script:
        "../scripts/score.py"


rule summary:
    input:
        summary_inputs,
    output:
        "results/summary.parquet",
    log:
        "logs/summary/summary.log",
    benchmark:
        "benchmarks/summary/summary.tsv"
    conda:
        "../../envs/scoring.yaml"
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        summary=summary_params,
    script:
        "../scripts/summary.py"
