localrules:
    prepare_dataset,
    build_tiny_model,


rule prepare_dataset:
    input:
        unpack(prepare_inputs),
    output:
        manifest="resources/datasets/{dataset}/manifest.parquet",
        classes="resources/datasets/{dataset}/classes.parquet",
        meta="resources/datasets/{dataset}/meta.json",
    log:
        "logs/prepare_dataset/{dataset}.log",
    benchmark:
        "benchmarks/prepare_dataset/{dataset}.tsv"
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
        directory("resources/models/{model}"),
    log:
        "logs/build_tiny_model/{model}.log",
    benchmark:
        "benchmarks/build_tiny_model/{model}.tsv"
    conda:
        "../../envs/models.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        build=build_model_params,
    script:
        "../scripts/build_tiny_model.py"
