"""Inference: one (dataset, task, model) job (:mod:`.job`) in resumable chunks (:mod:`.chunks`)."""
