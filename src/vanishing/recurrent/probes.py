"""The time-step gradient probe ‖∂L/∂h_{T−k}‖, its theory lines, and the recurrent spectrum.

**Time-step gradients** (:func:`time_gradients`). On a fixed probe set of n
sequences the cell is unrolled step by step in float64 (:func:`.models.unroll`,
so gradients far below float32's range — 1e-100 after 200 sigmoid steps —
are still resolved), L = Σ_n L_n is the task loss summed over the probe
examples, and one backward pass gives, for every lag k = 0 … T − 1,

    g_n(k) = ∂L_n/∂h_{T−k}        (the *total* derivative: through the readout and every later step)

because the examples do not interact. Recorded per k: the RMS over examples
√(mean_n ‖g_n(k)‖²) (``grad_rms``), the median of ‖g_n(k)‖ (``grad_median``),
and for the LSTM the same for the cell state, ∂L/∂c_{T−k} (``cell_rms``).

**Theory lines** (Hochreiter 1991, 1998; Bengio et al. 1994; Pascanu et al.
2013). For an Elman cell h_t = f(a_t), a_t = W_ih x_t + W_hh h_{t−1} + b, the
error flows back as

    ∂L/∂h_{t−1} = W_hhᵀ diag(f′(a_t)) ∂L/∂h_t  (+ the readout's direct term at answered steps),

so ∂L/∂h_{T−k} is a product of k matrices Wᵀ diag(f′) along the trajectory:

* ``linear``: that product evaluated explicitly on the recorded
  pre-activations a_t, starting from the readout's direct gradients — the
  linearised RNN. It equals the autograd measurement up to rounding (a
  test), which is the point: the gradient through time *is* this product.
* ``meanfield``: its typical size if Wᵀ diag(f′) shrank every vector by the
  same factor, r_t = √(σ_w² · ⟨f′(a_t)²⟩) with σ_w² = H · mean(W_hh²) (= g²
  for orthogonal(gain=g)) and ⟨·⟩ over examples and units — the mean-field
  rate χ^{1/2} of :mod:`vanishing.theory` applied to time instead of depth:
  grad_rms(k) ≈ grad_rms(k₀) · Π r_t.
* ``bound``: ‖Wᵀ diag(f′) v‖ ≤ max|f′(a_t)| · ‖W_hh‖₂ · ‖v‖, so
  grad_rms(k) ≤ grad_rms(k₀) · Π max|f′(a_t)| ‖W_hh‖₂ — Hochreiter's
  argument: with the logistic sigmoid (max f′ = ¼) the error flow must vanish
  whenever ‖W_hh‖₂ < 4.

k₀ = S − 1 is the earliest answered step (0 for adding), where the last
direct term enters. Gated cells have no single Wᵀ diag(f′); their line is
the *direct path* that gating adds: the LSTM's constant-error carousel
∂c_T/∂c_{T−k} ⊃ Π f_t (the forget gates; Hochreiter & Schmidhuber 1997,
Gers et al. 2000) applied to the measured ∂L/∂c at k₀, and the GRU's
Π z_t (update gates) applied to ∂L/∂h at k₀ — how much of the gradient the
gates alone carry.

**Spectrum** (:func:`spectral_stats`): per H × H recurrent block (Elman
W_hh; LSTM i f g o; GRU r z n) the spectral radius max|λ| and the spectral
norm ‖W‖₂ = σ_max.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import activations
from .models import ELMAN, RecurrentNet, parameters_of, recurrent_blocks, unroll
from .tasks import Task

COLUMNS = ("k", "grad_rms", "grad_median", "cell_rms", "linear", "meanfield", "bound")


def _rms(g: torch.Tensor) -> float:
    return float(g.pow(2).sum(dim=1).mean().sqrt())


def time_gradients(model: RecurrentNet, task: Task, x: torch.Tensor, y: torch.Tensor) -> dict[str, np.ndarray]:
    """The probe table of one snapshot: a column per :data:`COLUMNS` entry, one row per lag k = 0 … T − 1."""
    cell = model.cell
    P = parameters_of(model, torch.float64)
    x64 = x.to(torch.float64)
    y64 = y.to(torch.float64) if y.is_floating_point() else y
    T, S = x.shape[1], task.readout_steps
    with torch.enable_grad():
        states, extras = unroll(cell, P, x64, track=True)
        hs = [s[0] for s in states]
        nodes = hs + ([s[1] for s in states] if cell == "lstm" else [])
        answered = torch.stack(hs[T - S:], dim=1)
        loss = task.loss(model.readout(answered, P["W_o"], P["b_o"]), y64, reduction="sum")
        grads = torch.autograd.grad(loss, nodes)
        # the readout's direct term ∂L/∂h_t at the answered steps, with the recurrence cut
        cut = answered.detach().requires_grad_(True)
        direct = torch.autograd.grad(task.loss(model.readout(cut, P["W_o"], P["b_o"]), y64, reduction="sum"), cut)[0]
    gh = [g.detach() for g in grads[:T]]
    gc = [g.detach() for g in grads[T:]] if cell == "lstm" else None

    k = np.arange(T)
    col = {name: np.full(T, np.nan) for name in COLUMNS}
    col["k"] = k
    for j in range(T):  # j = 0-based index of h_{j+1}; k = T − 1 − j
        norms = gh[j].norm(dim=1)
        col["grad_rms"][T - 1 - j] = _rms(gh[j])
        col["grad_median"][T - 1 - j] = float(norms.median())
        if gc is not None:
            col["cell_rms"][T - 1 - j] = _rms(gc[j])

    anchor = T - S  # index j of the earliest answered step; k₀ = S − 1
    if cell in ELMAN:
        act = activations.get(ELMAN[cell])
        W = P["W_hh"]
        dfs = [act.df(e["a"].detach()) for e in extras]
        # linearised RNN: v_{j} = (f′(a_{j+1}) ⊙ v_{j+1}) W_hh + direct_j
        v = torch.zeros_like(gh[0])
        for j in range(T - 1, -1, -1):
            if j < T - 1:
                v = (dfs[j + 1] * v) @ W
            if j >= anchor:
                v = v + direct[:, j - anchor]
            col["linear"][T - 1 - j] = _rms(v)
        sigma2 = W.shape[0] * float(W.pow(2).mean())
        norm2 = float(torch.linalg.matrix_norm(W, ord=2))
        mf = bd = col["grad_rms"][S - 1]
        col["meanfield"][S - 1] = col["bound"][S - 1] = mf
        for j in range(anchor - 1, -1, -1):
            d = dfs[j + 1]
            mf *= math.sqrt(sigma2 * float(d.pow(2).mean()))
            bd *= float(d.abs().max()) * norm2
            col["meanfield"][T - 1 - j] = mf
            col["bound"][T - 1 - j] = bd
    else:
        gate = "f" if cell == "lstm" else "z"
        base = (gc if cell == "lstm" else gh)[anchor]
        path = torch.ones_like(base)
        col["linear"][S - 1] = _rms(base)
        for j in range(anchor - 1, -1, -1):
            path = path * extras[j + 1][gate].detach()
            col["linear"][T - 1 - j] = _rms(path * base)
    return col


def spectral_stats(model: RecurrentNet) -> dict[str, np.ndarray]:
    """Per recurrent block: ``block``, spectral radius ``radius`` = max|λ(W)|, spectral norm ``norm2`` = σ_max(W)."""
    names, radius, norm2 = [], [], []
    for name, W in recurrent_blocks(model).items():
        W64 = W.to(torch.float64)
        names.append(name)
        radius.append(float(torch.linalg.eigvals(W64).abs().max()))
        norm2.append(float(torch.linalg.matrix_norm(W64, ord=2)))
    return {"block": np.array(names), "radius": np.array(radius), "norm2": np.array(norm2)}


def decay_rate(grad_rms: np.ndarray, k0: int = 0, k1: int | None = None) -> float:
    """Geometric-mean factor per step between lags k₀ and k₁: (g(k₁)/g(k₀))^{1/(k₁ − k₀)}; 0 if g(k₁) = 0."""
    g = np.asarray(grad_rms, dtype=float)
    k1 = len(g) - 1 if k1 is None else k1
    if k1 <= k0 or not (g[k0] > 0):
        return math.nan
    return float((g[k1] / g[k0]) ** (1.0 / (k1 - k0))) if g[k1] > 0 else 0.0
