"""The report stage: the study's tables, figures, error gallery and backend parity.

- :mod:`~classbench.report.build`: which tables and figures a study gets, and how each is made;
- :mod:`~classbench.report.tables`: paper tables as CSV, Markdown and LaTeX;
- :mod:`~classbench.report.figures`: paper figures as PNG and PDF;
- :mod:`~classbench.report.gallery`: the HTML error gallery, every model's answer per image;
- :mod:`~classbench.report.parity`: how far apart one model's answers are on two backends.

The package imports none of them: import the one you need (``tables`` never loads matplotlib).
"""

__all__ = ["build", "figures", "gallery", "parity", "tables"]
