from collections import defaultdict

import pandas as pd

from classbench.io import read_parquet, write_parquet
from classbench.leaderboards import rank_models
from classbench.logs import to_log_file

to_log_file(snakemake.log[0])
params = snakemake.params.elo
per_model = defaultdict(list)
for job, path in zip(params["jobs"], snakemake.input, strict=True):
    scores = read_parquet(path)
    scores["doc"] = job["dataset"] + "/" + scores["sample_id"].astype(str)
    per_model[job["model"]].append(scores)
board, stats = rank_models(
    {model: pd.concat(frames, ignore_index=True) for model, frames in per_model.items()},
    settings=params["settings"],
    seed=params["seed"],
    keys=(snakemake.wildcards.task, snakemake.wildcards.scope),
)
write_parquet(board, snakemake.output[0], metadata=stats)
