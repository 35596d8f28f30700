from classbench.data import prepare_dataset
from classbench.logs import to_log_file

to_log_file(snakemake.log[0])
prepare_dataset(
    snakemake.wildcards.dataset,
    snakemake.params.spec,
    snakemake.output.manifest.rsplit("/", 1)[0],
)
