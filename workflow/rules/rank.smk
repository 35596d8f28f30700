rule elo:
    input:
        elo_inputs,
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
