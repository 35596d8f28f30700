from classbench.evaluate import evaluate
from classbench.logs import to_log_file

to_log_file(snakemake.log[0])
job = snakemake.params.job
evaluate(
    dataset_root=snakemake.input.manifest.rsplit("/", 1)[0],
    dataset_name=job["dataset"],
    dataset_spec=job["dataset_spec"],
    task_name=job["task"],
    task=job["task_spec"],
    model_name=job["model"],
    model_spec=job["model_spec"],
    output=snakemake.output[0],
    seed=job["seed"],
    limit=job["limit"],
    options_path=snakemake.input.get("options"),
    chunk_size=snakemake.params.inference["chunk_size"],
    image_workers=snakemake.params.inference["image_workers"],
    workflow_dir=snakemake.scriptdir,
)
