include: "sensitivity.functions.smk"


rule sensitivity_infer:
    input:
        unpack(sensitivity_infer_inputs),
    output:
        paths.SENSITIVITY_PREDICTIONS,
    log:
        paths.log("sensitivity_infer", paths.SENSITIVITY_RUN),
    benchmark:
        paths.benchmark("sensitivity_infer", paths.SENSITIVITY_RUN)
    wildcard_constraints:
        model=_alternatives(_models_with(GENERATIVE_BACKENDS)),
        setting=_alternatives(SENSITIVITY_SETTINGS),
    conda:
        "../../envs/models.yaml"
    resources:
        gpu=sensitivity_resource("gpus"),
        gpu_model=sensitivity_resource("gpu_model"),
        mem_mb=sensitivity_resource("mem_mb"),
        runtime=sensitivity_resource("runtime"),
        cpus_per_gpu=sensitivity_resource("cpus_per_gpu"),
    params:
        job=sensitivity_infer_params,
    script:
        "../scripts/infer.py"


rule sensitivity:
    input:
        unpack(sensitivity_inputs),
    output:
        csv=report(
            paths.fill(paths.TABLE, table=paths.SENSITIVITY, ext="csv"),
            caption="../report/sensitivity.rst",
            category="Sensitivity",
        ),
        md=paths.fill(paths.TABLE, table=paths.SENSITIVITY, ext="md"),
        tex=paths.fill(paths.TABLE, table=paths.SENSITIVITY, ext="tex"),
        png=report(
            paths.fill(paths.FIGURE, figure=paths.SENSITIVITY, ext="png"),
            caption="../report/sensitivity_figure.rst",
            category="Sensitivity",
        ),
        pdf=paths.fill(paths.FIGURE, figure=paths.SENSITIVITY, ext="pdf"),
    log:
        paths.log("sensitivity", "sensitivity"),
    benchmark:
        paths.benchmark("sensitivity", "sensitivity")
    conda:
        "../../envs/scoring.yaml"
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        sensitivity=sensitivity_params,
    script:
        "../scripts/sensitivity.py"
