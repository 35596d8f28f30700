from classbench.embeddings.encode import mine_options
from classbench.logs import to_log_file

to_log_file(snakemake.log[0])
mine_options(
    snakemake.input.manifest.rsplit("/", 1)[0],
    snakemake.input.images,
    snakemake.input.classes,
    int(snakemake.wildcards.k),
    snakemake.output[0],
)
