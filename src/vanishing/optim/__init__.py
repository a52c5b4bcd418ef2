"""Optimizers: the torch ones by name with SPEC §4 defaults (see :mod:`.factory`), and SDAGD (:mod:`.sdagd`)."""

from . import curvature
from .factory import REGISTRY, build_optimizer, canonical, default_lr, format_optimizer, names, register
from .sdagd import SDAGD, SDAGDStats

__all__ = [
    "REGISTRY", "SDAGD", "SDAGDStats", "build_optimizer", "canonical", "curvature", "default_lr",
    "format_optimizer", "names", "register",
]
