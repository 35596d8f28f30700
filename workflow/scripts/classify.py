from pathlib import Path

from classbench.config import load_study
from classbench.logs import to_log_file
from classbench.protocols.supervised import predict_supervised

to_log_file(snakemake.log[0])
job = snakemake.params.job
# The batch size is run-only (not in params); it comes from the registry.
study = load_study(
    snakemake.config, Path(snakemake.scriptdir).parent / "schemas", check_packages=False
)
predict_supervised(
    snakemake.input.manifest.rsplit("/", 1)[0],
    {**job["dataset_spec"], **snakemake.params.imagenet},
    {**study.model_spec(job["model"]), **job["model_spec"]},
    snakemake.output[0],
    metadata={
        key: job[key] for key in ("dataset", "task", "model", "model_spec", "task_spec", "seed")
    },
    limit=job["limit"],
    seed=job["seed"],
    dataset_name=job["dataset"],
)
