"""Paper tables (:mod:`classbench.report.tables`) and figures (:mod:`classbench.report.figures`).

The submodules are imported on demand so that writing tables never loads matplotlib.
"""

__all__ = ["figures", "tables"]
