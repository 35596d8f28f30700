rule elo:
    input:
        elo_inputs,
    output:
        "results/elo/{task}/{scope}.parquet",
    params:
        elo=elo_params,
    log:
        "logs/elo/{task}/{scope}.log",
    benchmark:
        "benchmarks/elo/{task}/{scope}.tsv"
    conda:
        "../../envs/scoring.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../scripts/elo.py"
