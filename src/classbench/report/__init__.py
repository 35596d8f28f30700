"""Paper tables (:mod:`classbench.report.tables`) and figures (:mod:`classbench.report.figures`).

Import the submodule you need: ``from classbench.report import tables`` never loads matplotlib.
"""

__all__ = ["figures", "tables"]
