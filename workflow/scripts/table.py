import pandas as pd

from classbench.io import read_metadata, read_parquet
from classbench.logs import to_log_file
from classbench.report.build import make_table

to_log_file(snakemake.log[0])
params = snakemake.params.table
elo, elo_left_out, cost = None, None, None
if "elo_keys" in params:
    paths = dict(zip(params["elo_keys"], snakemake.input.elo, strict=True))
    elo = {key: read_parquet(path) for key, path in paths.items()}
    elo_left_out = {key: read_metadata(path).get("left_out", {}) for key, path in paths.items()}
if "jobs" in params:
    rows = []
    for job, path in zip(params["jobs"], snakemake.input.predictions, strict=True):
        meta = read_metadata(path)
        wall = (meta.get("throughput") or {}).get("generation_s")
        rows.append({**job, "n_samples": meta.get("samples"), "wall_s": wall})
    cost = pd.DataFrame(rows).dropna(subset=["wall_s"])
make_table(
    params["spec"],
    snakemake.output.csv[: -len(".csv")],
    summary=read_parquet(snakemake.input.summary),
    protocols=params["protocols"],
    elo=elo,
    elo_left_out=elo_left_out,
    cost=cost,
)
