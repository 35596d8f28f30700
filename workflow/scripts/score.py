from functools import cache

from classbench.backends import NLI, load_model
from classbench.io import read_metadata, read_parquet, write_parquet
from classbench.logs import to_log_file
from classbench.scoring.metrics import load_sentence_encoder, load_spacy
from classbench.scoring.score import score_predictions

to_log_file(snakemake.log[0])
params = snakemake.params.scoring
predictions = read_parquet(snakemake.input.predictions)
judge_path = snakemake.input.get("judge")
judge = read_parquet(judge_path) if judge_path else None
scores = score_predictions(
    predictions,
    params["task_spec"],
    settings=params["scoring"],
    encoder_loader=cache(lambda: load_sentence_encoder(params["sentence_encoder"])),
    nlp_loader=cache(lambda: load_spacy(params["spacy_model"])),
    judge=judge,
    nli_loader=cache(lambda: load_model(params["nli_model"], role=NLI)),
)
metadata = {"predictions": read_metadata(snakemake.input.predictions), "scoring": params}
write_parquet(scores, snakemake.output[0], metadata=metadata)
