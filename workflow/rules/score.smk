include: "score.functions.smk"


rule judge:
    input:
        unpack(judge_inputs),
    output:
        paths.JUDGE,
    log:
        paths.log("judge", paths.JOB),
    benchmark:
        paths.benchmark("judge", paths.JOB)
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
        paths.SCORES,
    log:
        paths.log("score", paths.JOB),
    benchmark:
        paths.benchmark("score", paths.JOB)
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
        paths.SUMMARY,
    log:
        paths.log("summary", "summary"),
    benchmark:
        paths.benchmark("summary", "summary")
    conda:
        "../../envs/scoring.yaml"
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        summary=summary_params,
    script:
        "../scripts/summary.py"
