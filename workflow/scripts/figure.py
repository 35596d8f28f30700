import pandas as pd

from classbench.io import read_parquet
from classbench.logs import to_log_file
from classbench.report.build import letter_counts, make_figure

to_log_file(snakemake.log[0])
params = snakemake.params.figure
spec = params["spec"]
elo, letters = None, None
if spec["kind"] == "elo":
    elo = {spec["task"]: read_parquet(snakemake.input.elo)}
if spec["kind"] == "letter_bias":
    frames = {}
    for model, path in zip(params["models"], snakemake.input.predictions, strict=True):
        frames.setdefault(model, []).append(read_parquet(path))
    letters = letter_counts({m: pd.concat(f) for m, f in frames.items()})
make_figure(
    spec,
    snakemake.output.png[: -len(".png")],
    summary=read_parquet(snakemake.input.summary),
    elo=elo,
    letters=letters,
)
