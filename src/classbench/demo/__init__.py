"""The offline demo: tiny randomly initialised models and synthetic image sets."""
