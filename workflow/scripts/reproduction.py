"""The reproduction table and figure: the anchor papers' published numbers beside ours."""

import logging

from classbench.io import read_parquet
from classbench.logs import to_log_file
from classbench.report.reproduction import compare

to_log_file(snakemake.log[0])
params = snakemake.params.reproduction
table = compare(
    read_parquet(snakemake.input.summary),
    params["published"],
    table_stem=snakemake.output.csv[: -len(".csv")],
    figure_stem=snakemake.output.png[: -len(".png")],
    variants=params["variants"],
    caption=params["caption"],
)
inside = int(table["in_interval"].fillna(False).sum())
logging.info("%d published numbers matched, %d inside our interval", len(table), inside)
