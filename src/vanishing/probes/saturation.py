"""``saturation``: the share of (example, node) pairs where the activation function is flat.

A node saturates on an example when the slope of its activation function at
the pre-activation a is below a fraction τ of the function's largest slope
(``Activation.saturated``; τ = 5 % by default)::

    saturation = (1/(N·s)) Σ_n Σ_j [ |f′(a_nj)| < τ · max_a |f′(a)| ]

For sigmoid (max f′ = ¼) this means f′ < 0.0125, i.e. an output within
≈ 0.0127 of 0 or 1 (|a| > 4.37); for tanh |a| > 2.18 (output within 0.025 of ±1). These are the units
that pass almost no gradient back (Glorot & Bengio 2010 §4.1 on saturated
top-layer sigmoids; Tan & Lim 2019, seed 002; Pretorius et al. 2019, seed 001,
who read saturation from medians near 0 and 1). Defined for activations that
saturate (``Activation.saturates``: sigmoid, tanh, hardtanh, elu, selu, gelu,
silu, mish, softplus, relu6, hardswish); NaN (``defined = False``) for the
rectifiers whose flat side is a dead region instead (relu, leaky_relu, prelu,
rrelu) and for linear. A fraction in [0, 1]. Cost: f′ on the probe set's
pre-activations per scheduled epoch. Default: at init and log-spaced epochs.
"""

from __future__ import annotations

import numpy as np
import torch

from .base import Columns, ProbeSetView, SnapshotProbe, layer_column, register


def saturation_fraction(pre: torch.Tensor, activation, threshold: float = 0.05) -> torch.Tensor:
    """Fraction of entries of the pre-activations ``pre`` where |f′(a)| < threshold · max|f′|."""
    return activation.saturated(pre.float(), threshold).sum().double() / pre.numel()


@register
class Saturation(SnapshotProbe):
    """Per hidden layer: fraction of (example, node) pairs with |f′(a)| < threshold · max|f′|."""

    name = "saturation"
    tables = ("saturation",)
    defaults = {"epochs": "log", "k": 5, "threshold": 0.05}

    @classmethod
    def check_options(cls, options, field_name):
        super().check_options(options, field_name)
        from ..errors import ConfigError

        t = options["threshold"]
        if not 0.0 < t < 1.0:
            raise ConfigError(f"{field_name}: saturation(threshold=...) must lie in (0, 1), got {t!r}")

    def compute(self, view: ProbeSetView) -> dict[str, Columns]:
        threshold = float(self.options["threshold"])
        values, defined = [], []
        for act, pre in zip(view.activations, view.pre):
            ok = act is not None and bool(act.saturates)
            defined.append(ok)
            values.append(float(saturation_fraction(pre, act, threshold)) if ok else float("nan"))
        n = len(view.layers)
        return {
            "saturation": {
                "layer": layer_column(view.layers, 1),
                "saturation": np.asarray(values, dtype=np.float64),
                "defined": np.asarray(defined, dtype=bool),
                "threshold": np.full(n, threshold),
            }
        }
