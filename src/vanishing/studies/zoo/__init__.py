"""The activation zoo: how activation functions evolved against vanishing gradients — seed ``004``.

"Vanishing Gradient Problem: one of the most critical problems in the
history of deep learning development" (blog article, 15 Aug 2021; section 1,
"How activation functions have evolved"). The article walks through the
sigmoid, tanh, ReLU, leaky ReLU, PReLU, RReLU and ELU (and names ReLU6,
swish, hard swish as variants) and states:

* the sigmoid's derivative σ(1 − σ) is at most 0.25 (at x = 0), so chained
  derivatives shrink layer after layer and the gradients vanish;
* tanh = 2σ(2x) − 1 has a maximum derivative of 1.0 at x = 0 — better than
  the sigmoid, but its derivative is below 1 elsewhere, so deep tanh nets can
  still suffer;
* ReLU's derivative is 1 for x > 0, which solves the vanishing gradient; it
  is cheap (no exponential) and sparse (exact zeros); but units can die —
  output only 0 for every input — which careful (He) initialisation and
  batch normalisation counter;
* leaky ReLU, PReLU and RReLU keep a slope below zero (RReLU uses the mean of
  its slope range, (1/8 + 1/3)/2, at test time) and avoid the dying ReLU;
* ELU keeps the mean activation closer to zero than ReLU (less bias shift)
  and makes training converge faster.

The article has no experiment. This study measures each statement on a deep
MLP (``depth`` hidden layers of ``width`` units, default 8 × 256) trained on
MNIST with **every activation of the registry** (16), through the sweep
machinery, with SGD + momentum (the optimizer under which vanishing gradients
show in the accuracy; the article names none), and records per layer: the
weight-gradient norms over training, the per-example δ at init and after
training beside the mean-field prediction, dead units, saturation, sparsity
and the mean activation. A remedy grid trains sigmoid, tanh and ReLU with
torch's default init, with Xavier/He init, + batch norm and + residual
connections; a dying-ReLU stress test (Adam at lr 0.01) compares ReLU with
leaky ReLU, PReLU, RReLU, ELU and ReLU + batch norm, counting from the
trained weights the units whose pre-activation is ≤ 0 on every probe example
and those that get no gradient at all.

Reproduces: the function and derivative plots of every activation (the
article's figures), and — as measurements the article only asserts — the
gradient norms per layer, δ by layer against mean-field theory, dead units,
saturation, sparsity, the effect of He init, batch norm and residual
connections, and the dying-ReLU comparison.
"""


from __future__ import annotations

from ..base import Study
from .protocol import SCALES, activation_cost, add_arguments, load_trained, run, unit_census  # noqa: F401
from .common import *  # noqa: F403
from .claims import claim_rows, function_claim_rows, qualitative_row

STUDY = Study(
    name="zoo",
    title="The activation zoo — how activation functions evolved against vanishing gradients",
    citation="'Vanishing Gradient Problem: one of the most critical problems in the history of deep learning "
    "development', §1 How activation functions have evolved (blog article, 2021; seed 004)",
    reproduces=("function and derivative plots of every activation", "per-layer gradient norms and δ (with "
                "mean-field theory) for every activation", "dead units, saturation, sparsity",
                "He init, batch norm and residual connections", "the dying-ReLU comparison (leaky ReLU, PReLU, "
                "RReLU, ELU)"),
    scales=SCALES,
    run=run,
    add_arguments=add_arguments,
    notes="The article runs no experiment and names no network, optimizer or data set. The study trains a deep "
    "MLP on MNIST with SGD + momentum 0.9 at lr 0.01 (batch 128, 10% of the training set held out for validation), "
    "the setting in which vanishing gradients show in the accuracy (Adam rescales each weight's step and hides "
    "them), and a dying-ReLU stress test with Adam at lr 0.01. Dead units and sparsity are defined for activations "
    "with a hard zero (relu, relu6, hardswish), saturation for those that saturate. The paper scale is the medium "
    "protocol on 3 seeds.",
)