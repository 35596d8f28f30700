from functools import cache

from classbench.data import load_classes
from classbench.data.label_sets import label_sets_by_id
from classbench.io import read_metadata, read_parquet, write_parquet
from classbench.logs import to_log_file
from classbench.scoring.models import ScoringModels
from classbench.scoring.score import score_predictions
from classbench.scoring.text_encoders import load_mapping_encoder

to_log_file(snakemake.log[0])
params = snakemake.params.scoring
predictions = read_parquet(snakemake.input.predictions)
judge_path = snakemake.input.get("judge")
judge = read_parquet(judge_path) if judge_path else None
models = ScoringModels(
    sentence_encoder=params["sentence_encoder"],
    encoder_precision=params["scoring"]["encoder_precision"],
    spacy_model=params["spacy_model"],
    nli_spec=params.get("nli_model"),
)
manifest_path = snakemake.input.get("manifest")
label_sets = label_sets_by_id(read_parquet(manifest_path)) if manifest_path else None
classes_path = snakemake.input.get("classes")
classes = load_classes(classes_path.rsplit("/", 1)[0]) if classes_path else None
scores = score_predictions(
    predictions,
    params["task_spec"],
    settings=params["scoring"],
    encoder_loader=models.encoder,
    nlp_loader=models.nlp,
    judge=judge,
    nli_loader=models.nli,
    classes=classes,
    mapping_encoder_loader=cache(lambda: load_mapping_encoder(params["mapping_encoder"])),
    label_sets=label_sets,
)
metadata = {
    "predictions": read_metadata(snakemake.input.predictions),
    "scoring": params,
    # Which encoder (and at which precision), which spaCy pipeline and NLI model really ran.
    "models": models.info(),
}
write_parquet(scores, snakemake.output[0], metadata=metadata)
