"""``dead_units``: nodes that are inactive on every probe example.

A node j is dead on the probe set when its output y_nj = f(a_nj) ≤ 0 for all
N probe examples — its activation-function derivative is then 0 (for relu)
on all of them, so no gradient reaches its incoming weights: the "dying
ReLU" (Lu et al. 2020, "Dying ReLU and initialization"; Tan & Lim 2019, seed
002, §II.B). Per hidden layer::

    dead     = #{ j : Σ_n [y_nj ≤ 0] = N }
    fraction = dead / width

Like ``sparsity`` it needs an activation with a hard zero region; NaN
(``defined = False``) otherwise. Cost: one comparison and reduction per
scheduled epoch. Default: at init and at log-spaced epochs.
"""

from __future__ import annotations

import numpy as np
import torch

from .base import Columns, ProbeSetView, SnapshotProbe, layer_column, register, samples_by_node
from .sparsity import has_hard_zero


def dead_mask(outputs: torch.Tensor) -> torch.Tensor:
    """Per node: True when the output is ≤ 0 on every sample, shape (width,)."""
    v, _ = samples_by_node(outputs)
    return (v <= 0).all(dim=0)


@register
class DeadUnits(SnapshotProbe):
    """Per hidden layer: number and fraction of nodes inactive on 100 % of the probe set."""

    name = "dead_units"
    tables = ("dead_units",)

    def compute(self, view: ProbeSetView) -> dict[str, Columns]:
        dead, width, defined = [], [], []
        for act, out in zip(view.activations, view.out):
            mask = dead_mask(out)
            ok = has_hard_zero(act)
            defined.append(ok)
            width.append(int(mask.numel()))
            dead.append(float(mask.sum()) if ok else float("nan"))
        dead_a, width_a = np.asarray(dead, dtype=np.float64), np.asarray(width, dtype=np.int64)
        return {
            "dead_units": {
                "layer": layer_column(view.layers, 1),
                "dead": dead_a,
                "width": width_a,
                "fraction": dead_a / width_a,
                "defined": np.asarray(defined, dtype=bool),
            }
        }
