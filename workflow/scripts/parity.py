from classbench.io import read_parquet, write_text
from classbench.logs import to_log_file
from classbench.report.parity import parity_table
from classbench.report.tables import escape_latex


def escape_latex_cell(value):
    return escape_latex(value) if isinstance(value, str) else value


to_log_file(snakemake.log[0])
pairs = snakemake.params.pairs
frames = iter(snakemake.input.predictions)
table = parity_table(
    [
        {**pair, "candidate": read_parquet(next(frames)), "baseline": read_parquet(next(frames))}
        for pair in pairs
    ],
    read_parquet(snakemake.input.summary),
)
table.to_csv(snakemake.output.csv, index=False)
caption = (
    "Backend parity: the same model through two backends. Agreement of the raw text and of the "
    "parsed answer over the samples both answered; metric differences (candidate - reference)."
)
latex = (
    table.rename(columns=escape_latex)
    .map(escape_latex_cell)
    .to_latex(index=False, float_format="%.3f")
)
write_text(f"% {caption}\n{latex}", snakemake.output.tex)
write_text(f"{caption}\n\n{table.to_markdown(index=False, floatfmt='.3f')}\n", snakemake.output.md)
