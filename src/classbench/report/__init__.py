"""The report stage: the study's tables, figures, error gallery and backend parity.

- :mod:`~classbench.report.build`: which tables and figures a study gets, and how each is made;
- :mod:`~classbench.report.frames`: numeric frames from the summary, shared by tables and figures;
- :mod:`~classbench.report.tables`: the paper tables' builders;
- :mod:`~classbench.report.formatting`: the tables written as CSV, Markdown and LaTeX;
- :mod:`~classbench.report.figures`: the paper figures, drawn with
  :mod:`~classbench.report.figure_parts` (style, colours, saving, point labels);
- :mod:`~classbench.report.gallery`: the HTML error gallery, every model's answer per image, with
  :mod:`~classbench.report.thumbnails` (its images) and ``static/`` (its CSS and JavaScript);
- :mod:`~classbench.report.parity`: how far apart one model's answers are on two backends.

The package imports none of them: import the one you need (``tables`` never loads matplotlib).
"""

__all__ = [
    "build",
    "figure_parts",
    "figures",
    "formatting",
    "frames",
    "gallery",
    "parity",
    "tables",
    "thumbnails",
]
