"""One study per paper of ``shared/seeds``: ``vanishing study NAME [--quick|--medium|--full]``.

Each study module defines ``STUDY`` (a :class:`~vanishing.studies.base.Study`)
and its docstring cites the paper and names the figures and tables it
reproduces. The registry maps names to modules; modules are imported on
first use.
"""

from __future__ import annotations

import importlib

from ..errors import ConfigError
from .base import SCALES, Study, StudyContext, run_study

MODULES = {
    "robinson": "robinson",
    "pretorius": "pretorius",
    "tan-lim": "tan_lim",
    "chain": "chain",
    "zoo": "zoo",
    "temporal": "temporal",
}


def available() -> list[str]:
    """Names of the studies whose module is present."""
    import importlib.util

    return [name for name, mod in MODULES.items() if importlib.util.find_spec(f"{__name__}.{mod}") is not None]


def get(name: str) -> Study:
    """The study called ``name``; an unknown name lists the valid ones."""
    names = available()
    if name not in names:
        raise ConfigError(f"study: unknown study {name!r} (valid: {', '.join(names)})")
    return importlib.import_module(f"{__name__}.{MODULES[name]}").STUDY


__all__ = ["MODULES", "SCALES", "Study", "StudyContext", "available", "get", "run_study"]
