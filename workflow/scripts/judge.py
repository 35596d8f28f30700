from classbench.io import read_parquet, write_parquet
from classbench.logs import to_log_file
from classbench.scoring.judge import judge_predictions

to_log_file(snakemake.log[0])
settings = snakemake.params.judge
verdicts, info = judge_predictions(
    read_parquet(snakemake.input.predictions),
    settings["model_spec"],
    question_mode=settings["question"],
    reply=settings["reply"],
    batch_size=settings["batch_size"],
    max_new_tokens=settings["max_new_tokens"],
)
write_parquet(verdicts, snakemake.output[0], metadata=info)
