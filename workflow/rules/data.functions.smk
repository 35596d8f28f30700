# Input and params functions of data.smk.


def prepare_inputs(wildcards):
    # A curated class-name file is an input, so editing it re-prepares the dataset. Downloads
    # (archives, split files) are not: they live in resources/downloads, pinned by sha256, and
    # gated sets read their token from the environment inside the library, never from params.
    classes_file = STUDY.datasets[wildcards.dataset].get("classes_file")
    return {"classes_file": classes_file} if classes_file else {}


def dataset_spec(wildcards):
    return _dataset_spec(wildcards.dataset)


def build_model_params(wildcards):
    spec = STUDY.models[wildcards.model]
    return {"family": spec["tiny"], "seed": spec.get("seed", 0)}
