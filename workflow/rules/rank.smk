include: "rank.functions.smk"


rule elo_judge_games:
    input:
        unpack(elo_judge_inputs),
    output:
        paths.ELO_GAMES,
    log:
        paths.log("elo_judge_games", "{task}/{scope}"),
    benchmark:
        paths.benchmark("elo_judge_games", "{task}/{scope}")
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
        paths.ELO,
    log:
        paths.log("elo", "{task}/{scope}"),
    benchmark:
        paths.benchmark("elo", "{task}/{scope}")
    conda:
        "../../envs/scoring.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        elo=elo_params,
    script:
        "../scripts/elo.py"
