include: "infer.functions.smk"


rule infer:
    input:
        unpack(infer_inputs),
    output:
        paths.PREDICTIONS,
    log:
        paths.log("infer", paths.JOB),
    benchmark:
        paths.benchmark("infer", paths.JOB)
    wildcard_constraints:
        model=_alternatives(_models_with(GENERATIVE_BACKENDS)),
    conda:
        "../../envs/models.yaml"
    resources:
        gpu=resource("gpus"),
        gpu_model=resource("gpu_model"),
        mem_mb=resource("mem_mb"),
        runtime=resource("runtime"),
        cpus_per_gpu=resource("cpus_per_gpu"),
    params:
        job=infer_params,
    script:
        "../scripts/infer.py"


rule zeroshot:
    input:
        unpack(zeroshot_inputs),
    output:
        paths.PREDICTIONS,
    log:
        paths.log("zeroshot", paths.JOB),
    benchmark:
        paths.benchmark("zeroshot", paths.JOB)
    wildcard_constraints:
        model=_alternatives(_models_with(EMBEDDING_BACKENDS)),
    conda:
        "../../envs/models.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        job=infer_params,
    script:
        "../scripts/zeroshot.py"


rule classify:
    input:
        unpack(classify_inputs),
    output:
        paths.PREDICTIONS,
    log:
        paths.log("classify", paths.JOB),
    benchmark:
        paths.benchmark("classify", paths.JOB)
    wildcard_constraints:
        model=_alternatives(_models_with(CLASSIFIER_BACKENDS)),
    conda:
        "../../envs/models.yaml"
    resources:
        gpu=resource("gpus"),
        gpu_model=resource("gpu_model"),
        mem_mb=resource("mem_mb"),
        runtime=resource("runtime"),
        cpus_per_gpu=resource("cpus_per_gpu"),
    params:
        job=infer_params,
        imagenet=classify_params,
    script:
        "../scripts/classify.py"
