from classbench.embed import embed_dataset
from classbench.logs import to_log_file

to_log_file(snakemake.log[0])
embed_dataset(
    snakemake.input.manifest.rsplit("/", 1)[0],
    snakemake.params.encoder,
    snakemake.output.images,
    snakemake.output.classes,
)
