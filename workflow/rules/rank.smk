rule elo_judge_games:
    input:
        unpack(elo_judge_inputs),
    output:
        "results/elo/{task}/{scope}.games.parquet",
    log:
        "logs/elo_judge_games/{task}/{scope}.log",
    benchmark:
        "benchmarks/elo_judge_games/{task}/{scope}.tsv"
    conda:
        "../../envs/models.yaml"
    resources:
        gpu=resource("gpus", "judge"),
        gpu_model=resource("gpu_model", "judge"),
        mem_mb=resource("mem_mb", "judge"),
        runtime=resource("runtime", "judge"),
        cpus_per_gpu=resource("cpus_per_gpu", "judge"),
    params:
        games=elo_judge_params,
    script:
        "../scripts/elo_judge_games.py"


rule elo:
    input:
        unpack(elo_inputs),
    output:
        "results/elo/{task}/{scope}.parquet",
    log:
        "logs/elo/{task}/{scope}.log",
    benchmark:
        "benchmarks/elo/{task}/{scope}.tsv"
    conda:
        "../../envs/scoring.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        elo=elo_params,
    script:
        "../scripts/elo.py"
