"""The results store: run directories, the SQLite index, and ``load()``."""

from .index import FINAL, STATUSES, Index
from .results import Results, load
from .rundir import RunDir, Store

__all__ = ["FINAL", "STATUSES", "Index", "Results", "RunDir", "Store", "load"]
