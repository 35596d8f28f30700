# classbench: evaluate large multimodal models as image classifiers.
# The table of contents; rules live in workflow/rules, logic in src/classbench.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/embed.smk"
include: "workflow/rules/infer.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/rank.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/sensitivity.smk"


onstart:
    check_backend_packages()
    run_preflight()


rule all:
    default_target: True
    input:
        final_targets(),
