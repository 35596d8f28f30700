"""Thumbnails of the images a dataset's gallery pages show, shared by all its tasks."""

import logging
from pathlib import Path

import pandas as pd

from classbench.io import read_parquet
from classbench.logs import to_log_file
from classbench.report.gallery import gallery_samples, make_thumbnails

to_log_file(snakemake.log[0])
params = snakemake.params.images
manifest_path = Path(snakemake.input.manifest)
manifest = read_parquet(manifest_path)
# One page per task; tasks with their own sample limit show their own subset.
samples = pd.concat(
    [
        gallery_samples(
            manifest,
            limit=limit,
            gallery_limit=params["gallery_limit"],
            seed=params["seed"],
            dataset=snakemake.wildcards.dataset,
        )
        for limit in params["limits"]
    ]
).drop_duplicates("sample_id")
stats = make_thumbnails(samples, manifest_path.parent, snakemake.output[0])
logging.info("thumbnails: %s", stats)
