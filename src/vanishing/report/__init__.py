"""Reports: figures (DataFrame → matplotlib Figure), tables, and self-contained HTML pages (SPEC §11).

* :mod:`~vanishing.report.figures` — one function per kind of figure, taking
  the DataFrames of :func:`vanishing.load`; :func:`~vanishing.report.figures.save`
  writes PNG + PDF.
* :mod:`~vanishing.report.tables` — runs per configuration, sparsity /
  saturation / dead-unit tables, the paper-vs-measured verdicts, HTML tables.
* :mod:`~vanishing.report.html` — :class:`Report`, the page a study or a
  results root writes (figures embedded, everything escaped, works offline).
* :mod:`~vanishing.report.results_report` — the page of a whole results root
  (``vanishing report DIR``).

The report layer reads the store and never imports training code. Names are
imported on first use, so ``vanishing report --help`` does not load matplotlib.
See ``docs/report.md``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Report": "html",
    "environment_info": "html",
    "results_report": "results_report",
    "write_results_report": "results_report",
    "save": "figures",
    "figures": None,
    "tables": None,
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = _EXPORTS[name]
        if module is None:
            return importlib.import_module(f".{name}", __name__)
        return getattr(importlib.import_module(f".{module}", __name__), name)
    raise AttributeError(f"module 'vanishing.report' has no attribute {name!r}")
