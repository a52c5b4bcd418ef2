"""vanishing — make the vanishing-gradient problem visible, measurable, predictable and fixable.

Python API::

    import vanishing
    result = vanishing.run(vanishing.RunConfig(...))   # train one configuration, stored under ./vanishing-results
    tables = vanishing.load("vanishing-results")        # pandas DataFrames: .runs, .epochs
    res = vanishing.sweep("sweep.toml")                 # grid × seeds, resumable (see docs/sweeps.md)

Attributes are imported on first use, so ``import vanishing`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "DataConfig": "config",
    "ExecConfig": "config",
    "ModelConfig": "config",
    "OptimConfig": "config",
    "RunConfig": "config",
    "TrainConfig": "config",
    "RunResult": "runner",
    "run": "runner",
    "load": "store",
    "sweep": "sweep",
    "watch": "watch",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'vanishing' has no attribute {name!r}")
