# The input functions and the published-numbers check of report.smk's `reproduction` rule:
# the anchor papers' published numbers (config reproduction.published) beside ours. Kept apart
# from the rules, as Snakemake's linter asks.
from classbench.report.reproduction import (
    CAPTION as REPRODUCTION_CAPTION,
    PublishedError,
    check_published,
    load_published,
)

PUBLISHED_FILES = config["reproduction"]["published"]
REPRODUCTION = "reproduction"  # the name of its table and of its figure
try:
    # Checked when the workflow is read: a misnamed model in a published file stops the dry run,
    # not the last job of a study.
    PUBLISHED_PROBLEMS = check_published(
        load_published(PUBLISHED_FILES),
        models=STUDY.models,
        datasets=STUDY.datasets,
        tasks=STUDY.tasks,
    )
except (OSError, PublishedError) as error:
    raise WorkflowError(f"Invalid published numbers: {error}") from None
if PUBLISHED_PROBLEMS:
    raise WorkflowError(
        "Invalid published numbers: " + "; ".join(PUBLISHED_PROBLEMS[:5])
    )


def reproduction_files():
    if not PUBLISHED_FILES:
        return []
    return [
        *expand(paths.TABLE, table=REPRODUCTION, ext=paths.TABLE_FORMATS),
        *expand(paths.FIGURE, figure=REPRODUCTION, ext=paths.FIGURE_FORMATS),
    ]


def reproduction_inputs(wildcards):
    return {"summary": paths.SUMMARY, "published": PUBLISHED_FILES}


def reproduction_params(wildcards):
    # A variant (variant_of: the precision or class prompt a paper used) is compared with the
    # numbers published for the model it is a variant of.
    variants = {model: STUDY.published_model(model) for model in config["models"]}
    return {
        "variants": {model: base for model, base in variants.items() if base != model},
        "published": list(PUBLISHED_FILES),
        "caption": REPRODUCTION_CAPTION,
    }
