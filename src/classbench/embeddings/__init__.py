"""Contrastive embeddings of a dataset and the multiple-choice options mined from them."""
