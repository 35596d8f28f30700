"""Scoring: per-sample metrics, label mapping and the LLM-inclusion judge."""
