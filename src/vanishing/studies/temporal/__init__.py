"""Vanishing gradients through time: Elman RNN (tanh, sigmoid, ReLU) vs LSTM and GRU — seeds ``004`` §9 and ``000``.

Seed 004 (“Vanishing Gradient Problem: One of the most critical problems in
the history of deep learning development”, 2021), §9 *RNN and LSTM*:
“Recurrent Neural Networks (RNNs) also suffer from the vanishing gradient
problem. Early RNNs use the hyperbolic tangent function as their activation
function … In 1997, Sepp Hochreiter and Jürgen Schmidhuber introduced Long
Short-Term Memory (LSTM) to solve this problem. They used the sigmoid
functions as a gating mechanism (forget, input, and output gates).”

Seed 000 (S. J. Robinson, “Backpropagation's vanishing gradient problem:
sigmoid vs ReLU …”) cites Hochreiter (1998), “The vanishing gradient problem
during learning recurrent neural nets and problem solutions”: temporal
dependencies spanning many time steps make gradient-based learning take too
much time; and it concludes that “there may remain a place for the sigmoid …
within recurrent networks”. Hochreiter's analysis: the error flowing back k
steps is a product of k factors f′(a)·w (matrices Wᵀ diag(f′) for a layer),
so it vanishes exponentially in k when those factors are below one — always,
for the logistic sigmoid (f′ ≤ ¼), unless ‖W‖ > 4.

Neither seed gives an experiment or a number. The study makes the claims
measurable on two long-range tasks generated in-package — the adding
problem and the copy-memory task (:mod:`vanishing.recurrent.tasks`), at
sequence lengths T ∈ {10, 25, 50, 100, 200} — for five cells with Keras'
defaults (the framework of seed 000: Glorot-uniform input weights, orthogonal
recurrent weights, zero biases, LSTM forget-gate bias 1), Adam (lr 1e-3),
batch 32, global-norm clipping at 1 (the clipped fraction is recorded). It
measures ‖∂L/∂h_{T−k}‖ for every lag k at init and during training, with the
linearised-RNN theory line (products of W_hhᵀ diag(f′) along the actual
trajectory), its mean-field rate and Hochreiter's bound, the spectral radius
of the recurrent weights, and the final task error vs T. Ablations: the
LSTM's forget-gate bias (0 = PyTorch's default, 3) and PyTorch's default
init U(±1/√H) for the tanh RNN (close to the 1997 paper's U(±0.2)), trained
at the ablation lengths (the longest by default); and, probed at init only at
the longest length, more variants (b_f = 5, PyTorch's init for every cell, a
sigmoid RNN with orthogonal gain 4 so that σ′(0)·‖W‖ = 1).

Reproduces (redrawn from our measurements; the seeds have no figures for
this): gradient norm vs k per model (log scale) with the theory lines; final
task error vs T per model; training dynamics (error, gradient attenuation,
spectral radius, clipped fraction); the init profiles of the ablations; the
paper-vs-measured verdicts for the claims of both seeds.
"""

from __future__ import annotations

from ..base import Study
from .common import ABLATIONS, BRIDGED, CELL_NAMES, CELL_ORDER, INIT_ONLY, TASK_METRIC, TORCH_INIT
from .common import _fmt, _fmt_log, _geo, _log_mean  # noqa: F401 — the summaries, for callers of the old module
from .protocol import PAPER_BUDGET, SCALES, add_arguments, plan, run, run_measures

STUDY = Study(
    name="temporal",
    title="Vanishing gradients through time — RNN (tanh, sigmoid, ReLU) vs LSTM and GRU",
    citation="Seed 004, “Vanishing Gradient Problem” (2021), §9 RNN and LSTM; seed 000, S. J. Robinson, citing "
    "S. Hochreiter, “The vanishing gradient problem during learning recurrent neural nets and problem solutions”, "
    "IJUFKS 6(2):107–116, 1998",
    reproduces=("gradient norm ‖∂L/∂h_{T−k}‖ vs k per model, at init and during training, with the linearised-RNN "
                "theory line", "final task error vs sequence length T per model",
                "training dynamics: attenuation, spectral radius, clipped fraction",
                "forget-gate bias and init ablations", "paper-vs-measured verdicts for the claims of seeds 004 §9 and 000"),
    scales=SCALES,
    run=run,
    add_arguments=add_arguments,
    notes="The seeds state the claims but no experiment: the tasks (adding problem, copy memory), the lengths, the "
    "optimizer (Adam lr 1e-3, batch 32, clipping at global norm 1) and the init (Keras' defaults: Glorot-uniform "
    "input weights, orthogonal recurrent weights, zero biases, LSTM forget-gate bias 1) are ours; PyTorch's "
    "default init and the forget-gate bias are ablations. Sequences are generated afresh at every step, so there is "
    "no epoch: budgets are in optimizer steps (--steps). Gradients are probed in float64. " + PAPER_BUDGET,
)

__all__ = ["ABLATIONS", "BRIDGED", "CELL_NAMES", "CELL_ORDER", "INIT_ONLY", "PAPER_BUDGET", "SCALES", "STUDY",
           "TASK_METRIC", "TORCH_INIT", "add_arguments", "plan", "run", "run_measures"]
