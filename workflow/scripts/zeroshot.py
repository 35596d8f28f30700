from classbench.logs import to_log_file
from classbench.protocols.zeroshot import predict_zeroshot

to_log_file(snakemake.log[0])
job = snakemake.params.job
predict_zeroshot(
    snakemake.input.manifest.rsplit("/", 1)[0],
    snakemake.input.images,
    snakemake.input.classes,
    snakemake.input.options,
    snakemake.output[0],
    metadata={key: job[key] for key in ("dataset", "task", "model", "model_spec", "seed")},
    limit=job["limit"],
    seed=job["seed"],
    dataset_name=job["dataset"],
)
