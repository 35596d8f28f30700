from classbench.io import read_parquet, write_parquet
from classbench.logs import to_log_file
from classbench.summary.aggregate import build_summary

to_log_file(snakemake.log[0])
params = snakemake.params.summary
entries = [
    {**entry, "scores": read_parquet(path)}
    for entry, path in zip(params["entries"], snakemake.input, strict=True)
]
summary = build_summary(
    entries,
    n_resamples=params["settings"]["bootstrap_resamples"],
    confidence=params["settings"]["confidence"],
    seed=params["seed"],
)
write_parquet(summary, snakemake.output[0], metadata={"settings": params["settings"]})
