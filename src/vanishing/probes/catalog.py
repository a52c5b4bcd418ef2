"""The probe catalogue: importing this module registers every probe, in the canonical order.

One line per quantity; each module's :func:`vanishing.probes.base.register`
decorator adds its class to :data:`vanishing.probes.base.REGISTRY`. Adding a
probe = its module + one import line here + its test. This module imports only
the quantity modules (which import only ``base``, ``schedules``, ``callspec``
and ``errors``), so :mod:`vanishing.config` can validate probe specs through
:mod:`vanishing.probes.spec` without pulling in the recorder, which sits above
:mod:`vanishing.train` (docs/architecture.md).
"""

from __future__ import annotations

from . import grad_norms  # noqa: F401  isort: skip
from . import backprop_signal  # noqa: F401  isort: skip
from . import update_ratio  # noqa: F401  isort: skip
from . import activation_stats  # noqa: F401  isort: skip
from . import sparsity  # noqa: F401  isort: skip
from . import dead_units  # noqa: F401  isort: skip
from . import saturation  # noqa: F401  isort: skip
from . import jacobian_spectrum  # noqa: F401  isort: skip
from .base import REGISTRY

__all__ = ["REGISTRY"]
