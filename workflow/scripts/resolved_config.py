"""The config this run resolved, next to its results (provenance)."""

from classbench.config import resolved_config_text
from classbench.io import write_text
from classbench.logs import to_log_file

to_log_file(snakemake.log[0])
write_text(resolved_config_text(snakemake.params.config), snakemake.output[0])
