"""Judge one scope's Elo games with the LLM judge (criterion ``llm_judge``).

The games are the ones the semantic-similarity criterion would play (same seeded sampling); the
judge sees each distinct (answer A, answer B, ground truth) once, with lmms-owc's pairwise prompt.
"""

from collections import defaultdict

import pandas as pd

from classbench.backends import JUDGE, load_model
from classbench.io import read_parquet, write_parquet
from classbench.logs import to_log_file
from classbench.ranking.leaderboards import judge_games

to_log_file(snakemake.log[0])
params = snakemake.params.games
per_model = defaultdict(list)
for job, path in zip(params["jobs"], snakemake.input.predictions, strict=True):
    frame = read_parquet(path)[["sample_id", "answer", "label", "error"]]
    frame["doc"] = job["dataset"] + "/" + frame["sample_id"].astype(str)
    per_model[job["model"]].append(frame)
settings = params["judge"]
judge = load_model(
    settings["model_spec"],
    role=JUDGE,
    batch_size=settings["batch_size"],
    max_new_tokens=settings["max_new_tokens"],
)
games, stats = judge_games(
    {model: pd.concat(frames, ignore_index=True) for model, frames in per_model.items()},
    judge.pairwise,
    settings=params["settings"],
    seed=params["seed"],
    keys=(snakemake.wildcards.task, snakemake.wildcards.scope),
    reply=settings["reply"],
)
stats["judge"] = judge.info()
judge.close()
write_parquet(games, snakemake.output[0], metadata=stats)
