import pandas as pd

from classbench.io import read_metadata, read_parquet
from classbench.logs import to_log_file
from classbench.report.build import make_table

to_log_file(snakemake.log[0])
params = snakemake.params.table
elo, cost = None, None
if "elo_keys" in params:
    elo = {
        key: read_parquet(path)
        for key, path in zip(params["elo_keys"], snakemake.input.elo, strict=True)
    }
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
    cost=cost,
)
