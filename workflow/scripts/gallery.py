"""One error-gallery page (dataset x task): every model's answer per image, with filters."""

from classbench.io import read_parquet
from classbench.logs import to_log_file
from classbench.report.gallery import GalleryModel, gallery_samples, write_gallery

to_log_file(snakemake.log[0])
params = snakemake.params.gallery
samples = gallery_samples(
    read_parquet(snakemake.input.manifest),
    limit=params["limit"],
    gallery_limit=params["gallery_limit"],
    seed=params["seed"],
    dataset=snakemake.wildcards.dataset,
)
models = [
    GalleryModel(model, read_parquet(predictions), read_parquet(scores))
    for model, predictions, scores in zip(
        params["models"], snakemake.input.predictions, snakemake.input.scores, strict=True
    )
]
evaluated = len({sid for model in models for sid in model.predictions["sample_id"]})
write_gallery(
    samples,
    models,
    snakemake.output.page,
    image_dir=snakemake.input.images,
    standalone=snakemake.output.standalone,
    dataset=snakemake.wildcards.dataset,
    task=snakemake.wildcards.task,
    protocol=params["protocol"],
    generic_similarity=params["generic_similarity"],
    evaluated=evaluated,
    title=params["title"],
)
