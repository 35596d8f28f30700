include: "embed.functions.smk"


rule embed:
    input:
        unpack(embed_inputs),
    output:
        images=paths.EMBEDDINGS_IMAGES,
        classes=paths.EMBEDDINGS_CLASSES,
    log:
        paths.log("embed", "{dataset}/{encoder}"),
    benchmark:
        paths.benchmark("embed", "{dataset}/{encoder}")
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
        paths.OPTIONS,
    log:
        paths.log("mine_options", "{dataset}/{encoder}-k{k}"),
    benchmark:
        paths.benchmark("mine_options", "{dataset}/{encoder}-k{k}")
    conda:
        "../../envs/models.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../scripts/mine_options.py"
