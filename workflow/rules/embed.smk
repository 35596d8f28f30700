rule embed:
    input:
        unpack(embed_inputs),
    output:
        images="resources/embeddings/{dataset}/{encoder}.images.parquet",
        classes="resources/embeddings/{dataset}/{encoder}.classes.parquet",
    log:
        "logs/embed/{dataset}/{encoder}.log",
    benchmark:
        "benchmarks/embed/{dataset}/{encoder}.tsv"
    conda:
        "../../envs/models.yaml"
    resources:
        gpu=resource("gpus", "encoder"),
        gpu_model=resource("gpu_model", "encoder"),
        mem_mb=resource("mem_mb", "encoder"),
        runtime=resource("runtime", "encoder"),
        cpus_per_gpu=resource("cpus_per_gpu", "encoder"),
    params:
        encoder=encoder_spec,
    script:
        "../scripts/embed.py"


rule mine_options:
    input:
        unpack(mine_inputs),
    output:
        "resources/options/{dataset}/{encoder}-k{k}.parquet",
    log:
        "logs/mine_options/{dataset}/{encoder}-k{k}.log",
    benchmark:
        "benchmarks/mine_options/{dataset}/{encoder}-k{k}.tsv"
    conda:
        "../../envs/models.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../scripts/mine_options.py"
