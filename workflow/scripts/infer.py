import sys
from pathlib import Path

from classbench.config import load_study
from classbench.inference.job import ModelFailedError, evaluate
from classbench.logs import to_log_file

to_log_file(snakemake.log[0])
job = snakemake.params.job
# Run-only settings (batch size, chunk size, workers) come from the registry and the config,
# not from params, so that changing them never re-runs a finished job.
study = load_study(
    snakemake.config, Path(snakemake.scriptdir).parent / "schemas", check_packages=False
)
try:
    evaluate(
        dataset_root=snakemake.input.manifest.rsplit("/", 1)[0],
        dataset_name=job["dataset"],
        dataset_spec=job["dataset_spec"],
        task_name=job["task"],
        task=job["task_spec"],
        model_name=job["model"],
        model_spec={**study.model_spec(job["model"]), **job["model_spec"]},
        output=snakemake.output[0],
        seed=job["seed"],
        limit=job["limit"],
        options_path=snakemake.input.get("options"),
        chunk_size=study.config["inference"]["chunk_size"],
        image_workers=study.config["inference"]["image_workers"],
        workflow_dir=snakemake.scriptdir,
    )
except ModelFailedError as err:
    # The log holds the traceback; the console gets the one line that names the model.
    print(f"classbench: {err}", file=sys.__stderr__)
    raise
