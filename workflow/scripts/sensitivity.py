"""The sensitivity report: the study's predictions (the default) and each changed run, scored
on the report's image sample, as a table and a figure."""

import logging

from classbench.data import load_classes
from classbench.data.label_sets import label_sets_by_id
from classbench.io import read_parquet
from classbench.logs import to_log_file
from classbench.scoring.models import ScoringModels
from classbench.sensitivity.measure import measure_report, study_scorer
from classbench.sensitivity.report import write_sensitivity

to_log_file(snakemake.log[0])
params = snakemake.params.sensitivity
manifest = read_parquet(snakemake.input.manifest)
models = ScoringModels(
    sentence_encoder=params["sentence_encoder"],
    encoder_precision=params["scoring"]["encoder_precision"],
    spacy_model=params["spacy_model"],
    nli_spec=params["nli_model"],
)
score = study_scorer(
    settings=params["scoring"],
    encoder_loader=models.encoder,
    nlp_loader=models.nlp,
    nli_loader=models.nli,
    classes=load_classes(snakemake.input.classes.rsplit("/", 1)[0]),
    mapping_encoders=params["mapping_encoders"],
    label_sets=label_sets_by_id(manifest),
)
defaults = {
    tuple(key): read_parquet(path)
    for key, path in zip(params["defaults"], snakemake.input.defaults, strict=True)
}
changed = {
    tuple(key): read_parquet(path)
    for key, path in zip(params["changed"], snakemake.input.changed, strict=True)
}
results = measure_report(
    dataset=params["dataset"],
    runs=params["runs"],
    manifest=manifest,
    limits=params["limits"],
    images=params["images"],
    seed=params["seed"],
    study_seed=params["study_seed"],
    defaults=defaults,
    changed=changed,
    score=score,
    default_scoring={"mapping_encoder": params["scoring"]["mapping_encoder"]},
    n_resamples=params["summary"]["bootstrap_resamples"],
    confidence=params["summary"]["confidence"],
)
for line in params["skipped"]:
    logging.info("no setting (not applicable, or the default): %s", line)
write_sensitivity(
    results,
    snakemake.output.csv[: -len(".csv")],
    snakemake.output.png[: -len(".png")],
    skipped=params["skipped"],
    caption=params["caption"],
)
exceeding = int(results["exceeds"].fillna(False).sum())
logging.info("%d rows, %d differences beyond their interval", len(results), exceeding)
