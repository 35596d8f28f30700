from collections import defaultdict

import pandas as pd

from classbench.io import read_metadata, read_parquet, write_parquet
from classbench.logs import to_log_file
from classbench.ranking.leaderboards import rank_games, rank_models

to_log_file(snakemake.log[0])
params = snakemake.params.elo
keys = (snakemake.wildcards.task, snakemake.wildcards.scope)
if params["settings"]["criterion"] == "llm_judge":
    # llm_judge: the games were judged by the elo_judge_games rule; only rate them here.
    board, stats = rank_games(
        read_parquet(snakemake.input.games),
        params["models"],
        settings=params["settings"],
        seed=params["seed"],
        keys=keys,
    )
    stats["games"] = read_metadata(snakemake.input.games)
else:
    per_model = defaultdict(list)
    for job, path in zip(params["jobs"], snakemake.input.scores, strict=True):
        scores = read_parquet(path)
        scores["doc"] = job["dataset"] + "/" + scores["sample_id"].astype(str)
        per_model[job["model"]].append(scores)
    board, stats = rank_models(
        {model: pd.concat(frames, ignore_index=True) for model, frames in per_model.items()},
        settings=params["settings"],
        seed=params["seed"],
        keys=keys,
    )
write_parquet(board, snakemake.output[0], metadata=stats)
