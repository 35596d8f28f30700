"""classbench: evaluate large multimodal models as image classifiers."""

__version__ = "0.1.0"
