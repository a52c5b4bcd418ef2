"""Robinson (2024): sigmoid vs ReLU in a multilayer perceptron on MNIST — seed ``000``.

S. J. Robinson, "Backpropagation's vanishing gradient problem: sigmoid vs ReLU
activation functions within the multilayer perceptron". The paper trains, in
TensorFlow/Keras, "an input layer, three hidden layers, and an output layer of
ten" — four Dense layers carrying the activation plus a 10-way softmax —
with sigmoid or ReLU, on MNIST (60k/10k, pixels / 255, one-hot targets, the
test set as validation) for 5 and 10 epochs, and reports:

* ReLU val_accuracy ≈ 91% after 5 epochs and 93.7% after 10;
* sigmoid stalls at 10.6% with no epochal improvement (5 and 10 epochs);
* no speed difference between the two;
* an output-activation ablation: with ReLU (sigmoid) on the output layer
  instead of softmax, the ReLU net reaches only ~9% and the sigmoid net
  stalls at 10–11% whatever its output layer;
* the pixels are also said to be "divided by 784" when flattened.

It does not give the widths, the optimizer or the learning rate. This study
therefore runs the plausible settings — Keras' defaults (SGD, lr 0.01, batch
32, Glorot-uniform init, zero bias) and Adam (lr 1e-3), at width 128 (and
more widths at ``--full``) — and shows under which ones the sigmoid stalls,
with the per-layer gradient norms and per-example δ that explain it. Both
readings of the input scaling (÷255 and ÷255÷784) are run, and the output
ablation uses Keras' cross-entropy semantics for non-softmax outputs.

Reproduces: the 5- and 10-epoch accuracy table (sigmoid vs ReLU), the epoch
times, the output-activation ablation, and — beyond the paper — the per-layer
gradient norms and δ that explain the stall.
"""

from __future__ import annotations

from ..base import Study
from .claims import PAPER
from .protocol import PROBES, SCALES, SETTINGS, add_arguments, run

STUDY = Study(
    name="robinson",
    title="Robinson 2024 — sigmoid vs ReLU in an MLP on MNIST",
    citation="S. J. Robinson, Backpropagation's vanishing gradient problem: sigmoid vs ReLU activation functions "
    "within the multilayer perceptron (seed 000)",
    reproduces=("accuracy after 5 and 10 epochs, sigmoid vs ReLU", "epoch times",
                "output-activation ablation", "input scaling ÷255 vs ÷784",
                "per-layer gradient norms and δ (beyond the paper)"),
    scales=SCALES,
    run=run,
    add_arguments=add_arguments,
    notes="The paper does not state the widths, the optimizer or the learning rate; the study runs Keras' defaults "
    "(SGD lr 0.01, batch 32, Glorot-uniform, zero bias) and Adam lr 1e-3 and says under which the sigmoid stalls. "
    "The test set serves as validation, as in the paper, so headline numbers are those of the stated epoch. "
    "The paper scale is the medium protocol on the paper's 3 seeds.",
)

__all__ = ["PAPER", "PROBES", "SCALES", "SETTINGS", "STUDY", "add_arguments", "run"]
