from classbench.demo import build_tiny_model
from classbench.logs import to_log_file

to_log_file(snakemake.log[0])
build_tiny_model(
    snakemake.params.build["family"], snakemake.output[0], seed=snakemake.params.build["seed"]
)
