from pathlib import Path

from classbench.config import load_study
from classbench.embeddings.encode import embed_dataset
from classbench.logs import to_log_file

to_log_file(snakemake.log[0])
# The batch size is run-only (not in params); it comes from the registry.
study = load_study(
    snakemake.config, Path(snakemake.scriptdir).parent / "schemas", check_packages=False
)
embed_dataset(
    snakemake.input.manifest.rsplit("/", 1)[0],
    {**study.model_spec(snakemake.wildcards.encoder), **snakemake.params.encoder},
    snakemake.output.images,
    snakemake.output.classes,
)
