import sys
from pathlib import Path

from classbench.config import load_study
from classbench.data import load_manifest
from classbench.inference.job import ModelFailedError, evaluate
from classbench.logs import to_log_file
from classbench.sensitivity.plan import sample_ids

to_log_file(snakemake.log[0])
job = snakemake.params.job
# Run-only settings (batch size, chunk size, workers) come from the registry and the config,
# not from params, so that changing them never re-runs a finished job.
study = load_study(
    snakemake.config, Path(snakemake.scriptdir).parent / "schemas", check_packages=False
)
dataset_root = snakemake.input.manifest.rsplit("/", 1)[0]
# A changed run of the sensitivity report answers only the report's images.
sample = job.get("sample")
ids = None
if sample is not None:
    ids = sample_ids(
        load_manifest(dataset_root),
        dataset=job["dataset"],
        study_limit=job["limit"],
        study_seed=job["seed"],
        images=sample["images"],
        seed=sample["seed"],
    )
try:
    evaluate(
        dataset_root=dataset_root,
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
        sample_ids=ids,
    )
except ModelFailedError as err:
    # The log holds the traceback; the console gets the one line that names the model.
    print(f"classbench: {err}", file=sys.__stderr__)
    raise
