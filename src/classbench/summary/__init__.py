"""Summary: per-(dataset, task, model, metric) means with bootstrap confidence intervals."""
