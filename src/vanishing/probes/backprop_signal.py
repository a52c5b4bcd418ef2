"""``backprop_signal``: size of δ = ∂E/∂a, the error signal at each hidden layer's pre-activation.

This is the quantity the vanishing-gradient problem is about (Hochreiter
1991; Glorot & Bengio 2010 §4.2; Schoenholz et al. 2017 compare its layer-to-
layer ratio with √χ₁): δ_l = f′(a_l) ⊙ W_{l+1}ᵀ δ_{l+1}. Two versions:

**Per example, on the probe set** (``backprop_signal``, a snapshot probe).
δ_n = ∂E_n/∂a_n of each example's own loss E_n, in eval mode. One backward
pass of Σ_n E_n gives every δ_n in its own row, because in eval mode no layer
couples examples (batch norm uses its running statistics): ∂(Σ_m E_m)/∂a_n =
∂E_n/∂a_n. Per hidden layer, over the N probe examples::

    rms         = ( (1/N) Σ_n ‖δ_n‖₂² )^½
    mean_norm   = (1/N) Σ_n ‖δ_n‖₂
    median_norm = median_n ‖δ_n‖₂
    rms_node    = ( (1/(N·width)) Σ_n Σ_j δ_nj² )^½ = rms / √width

The ratio rms_{l}/rms_{l+1} between consecutive layers is what theory
predicts (√χ^(l), SPEC §7) and what ``diagnose`` thresholds. Unit: loss per
unit of pre-activation. Cost: one forward and one backward pass of the probe
set per scheduled epoch. Default: at init and at log-spaced epochs.

**Mini-batch, in the training step** (``backprop_signal_batch``, a step probe).
With E = (1/B) Σ_n E_n the engine's δ is G = ∂E/∂A (B × width); B·G_n is the
per-example signal as far as the training-mode network does not couple
examples (batch norm in training mode does). Per hidden layer::

    delta_rms       = ( (1/B) Σ_n ‖B·G_n‖₂² )^½ = √B · ‖G‖_F
    delta_mean_norm = ‖Σ_n G_n‖₂ = ‖(1/B) Σ_n B·G_n‖₂   (what ∂E/∂b sees)

delta_mean_norm ≤ delta_rms; their ratio shows how much the examples' signals
cancel (the cross-sample correlation SPEC §7 warns about). Cost: the step runs
``forward_with_intermediates`` and keeps a.grad on scheduled steps. Default
schedule (``full`` preset): every 10 steps.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .base import Columns, ProbeSetView, SnapshotProbe, StepProbe, StepView, layer_column, register, to_numpy

BATCH_COLUMNS = ("delta_rms", "delta_mean_norm")
EXAMPLE_COLUMNS = ("rms", "mean_norm", "median_norm", "rms_node")


def batch_delta_stats(deltas: Sequence[torch.Tensor]) -> torch.Tensor:
    """Per layer [√B‖G‖_F, ‖Σ_n G_n‖₂] for mini-batch δ's G (B, width, …), shape (L, 2). No host sync."""
    rows = []
    for g in deltas:
        b = g.shape[0]
        flat = g.reshape(b, -1)
        rows.append(torch.stack([torch.linalg.vector_norm(flat) * b**0.5, torch.linalg.vector_norm(flat.sum(0))]))
    return torch.stack(rows)


def per_example_delta_stats(delta: torch.Tensor) -> torch.Tensor:
    """[rms, mean_norm, median_norm, rms_node] of per-example δ's (N, width, …), shape (4,).

    ``median_norm`` is the midpoint median (mean of the two middle values for even N).
    """
    n = delta.shape[0]
    flat = delta.reshape(n, -1)
    norms = torch.linalg.vector_norm(flat, dim=1)
    rms = norms.square().mean().sqrt()
    return torch.stack([rms, norms.mean(), torch.quantile(norms, 0.5), rms / flat.shape[1] ** 0.5])


@register
class BackpropSignal(SnapshotProbe):
    """Per hidden layer: RMS / mean / median of the per-example ‖δ_n‖ on the probe set (eval mode)."""

    name = "backprop_signal"
    tables = ("backprop_signal",)
    needs_deltas = True

    def compute(self, view: ProbeSetView) -> dict[str, Columns]:
        assert view.deltas is not None, "backprop_signal needs per-example deltas"
        if not view.deltas:  # no hidden weight layer (e.g. embedding → nn.LSTM → Linear head): an empty table, not a crash
            empty: Columns = {"layer": np.zeros(0, dtype=str), **{c: np.zeros(0) for c in EXAMPLE_COLUMNS}}
            empty["n_samples"] = np.zeros(0, dtype=np.int64)
            return {"backprop_signal": empty}
        stats = torch.stack([per_example_delta_stats(d if d.dtype == torch.float64 else d.float()) for d in view.deltas])
        table: Columns = {"layer": layer_column(view.layers, 1)}
        for j, col in enumerate(EXAMPLE_COLUMNS):
            table[col] = to_numpy(stats[:, j])
        table["n_samples"] = np.full(len(view.layers), len(view.labels), dtype=np.int64)
        return {"backprop_signal": table}


@register
class BatchBackpropSignal(StepProbe):
    """Per hidden layer and scheduled step: √B‖G‖_F and ‖Σ_n G_n‖ of the mini-batch δ."""

    name = "backprop_signal_batch"
    columns = BATCH_COLUMNS
    layer_kind = "hidden"
    tables = ("backprop_signal_batch",)
    needs_deltas = True
    defaults = {"every": 10, "log": 0}

    def _compute(self, view: StepView) -> torch.Tensor:
        assert view.deltas is not None, "backprop_signal_batch needs the step's deltas"
        return batch_delta_stats(view.deltas)
