"""Thumbnails of the images a dataset's gallery pages show, shared by all its tasks."""

import logging
from pathlib import Path

from classbench.io import read_parquet
from classbench.logs import to_log_file
from classbench.report.gallery import gallery_samples, make_thumbnails

to_log_file(snakemake.log[0])
params = snakemake.params.images
manifest_path = Path(snakemake.input.manifest)
samples = gallery_samples(
    read_parquet(manifest_path),
    limit=params["limit"],
    gallery_limit=params["gallery_limit"],
    seed=params["seed"],
    dataset=snakemake.wildcards.dataset,
)
stats = make_thumbnails(samples, manifest_path.parent, snakemake.output[0])
logging.info("thumbnails: %s", stats)
