include: "data.functions.smk"


localrules:
    prepare_dataset,
    build_tiny_model,


rule prepare_dataset:
    input:
        unpack(prepare_inputs),
    output:
        manifest=paths.MANIFEST,
        classes=paths.CLASSES,
        meta=paths.DATASET_META,
    log:
        paths.log("prepare_dataset", "{dataset}"),
    benchmark:
        paths.benchmark("prepare_dataset", "{dataset}")
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        spec=dataset_spec,
    script:
        "../scripts/prepare_dataset.py"


rule build_tiny_model:
    output:
        directory(paths.MODEL_DIR),
    log:
        paths.log("build_tiny_model", "{model}"),
    benchmark:
        paths.benchmark("build_tiny_model", "{model}")
    conda:
        "../../envs/models.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        build=build_model_params,
    script:
        "../scripts/build_tiny_model.py"
