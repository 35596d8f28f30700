# Input and params functions of embed.smk.


def embed_inputs(wildcards):
    return {**dataset_files(wildcards.dataset), **_model_inputs(wildcards.encoder)}


def mine_inputs(wildcards):
    return {
        "manifest": dataset_files(wildcards.dataset)["manifest"],
        **embeddings(wildcards.dataset, wildcards.encoder),
    }


def encoder_spec(wildcards):
    return _model_spec(wildcards.encoder)
