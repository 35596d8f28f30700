# Input and params functions of data.smk.


def prepare_inputs(wildcards):
    # A curated class-name file is an input, so editing it re-prepares the dataset. Downloads
    # (archives, split files) are not: they live in resources/downloads, pinned by sha256, and
    # gated sets read their token from the environment inside the library, never from params.
    spec = STUDY.datasets[wildcards.dataset]
    files = {
        "classes_file": spec.get("classes_file"),
        "label_order": spec.get("label_order", {}).get("file"),
    }
    inputs = {key: path for key, path in files.items() if path}
    # a local label-set file too (a download is pinned by its sha256 instead)
    if "path" in spec.get("label_sets", {}):
        inputs["label_sets"] = spec["label_sets"]["path"]
    return inputs


def dataset_spec(wildcards):
    return _dataset_spec(wildcards.dataset)


def build_model_params(wildcards):
    spec = STUDY.models[wildcards.model]
    return {"family": spec["tiny"], "seed": spec.get("seed", 0)}
