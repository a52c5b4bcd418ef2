"""Optimizers: the torch ones by name with SPEC §4 defaults (see :mod:`.factory`)."""

from .factory import REGISTRY, build_optimizer, canonical, default_lr, format_optimizer, names, register

__all__ = ["REGISTRY", "build_optimizer", "canonical", "default_lr", "format_optimizer", "names", "register"]
