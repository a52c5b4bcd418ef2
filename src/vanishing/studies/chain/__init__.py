"""Errasti (2022): why ReLU works so well — the sigmoid chain bound — seed ``003``.

P. Errasti, "Have you ever stopped to think about why ReLU function works so
well?", Bedrock — Human Intelligence (Medium), 9 Aug 2022 (after Bengio 2012,
*Practical recommendations for gradient-based training of deep
architectures*, and Grosse's lecture notes on exploding and vanishing
gradients). The article takes a network of m hidden layers with **one neuron
each**, weights ω⁽¹⁾ … ω⁽ᵐ⁾ drawn with expected value 1, sigmoid units, and
argues from the backpropagation recursion

    ∂J/∂y⁽ᵗ⁾ = ω⁽ᵗ⁺¹⁾ · φ′(v⁽ᵗ⁺¹⁾) · ∂J/∂y⁽ᵗ⁺¹⁾

that, since φ′ ≤ ¼ for the sigmoid, each layer multiplies ∂J/∂y by less than
¼·|ω|; moving back r layers the gradient is below (¼)^r — "if r equals, say,
10, the gradient updates fall up to 10⁻⁶ of the value they originally had" —
so the first layers learn far more slowly than the last ones, "unless we
initialise each weight … so the product ω·φ′ is exactly one". ReLU acts as
the identity where its input is positive (gradient one), but a unit whose
input is positive and whose weight is negative outputs zero for ever (the
dying ReLU); tanh's derivative reaches 1.

This study builds the article's chains and measures what it argues. For
``seeds`` random chains of ``depth`` single-neuron layers,
z_k = w_k·y_{k−1} + b_k, y_k = φ(z_k), y_0 = x, with w_k ~ N(w_mean,
w_std²) (default N(1, 0.5²): mean 1 as in the article; the spread is not
given there and is configurable), b_k ~ N(0, b_std²) (default 0: the article
has no biases) and a positive input x ~ U(0, 1) (the article's dying-ReLU
case; pixel-like), it computes ∂J/∂y_k at every layer with ∂J/∂y_r = 1 at the
top (a vectorised float64 recursion, checked in the tests against
:func:`vanishing.theory.scalar_chain`) and compares it with

* the chain bound M^t · Π |w_j| over the t layers above (M = sup|φ′|: ¼ for
  the sigmoid, 1 for tanh and ReLU; :func:`vanishing.theory.scalar_chain_bound`
  is the same bound for ∂J/∂b), which must hold for every chain, and
* the article's (¼)^t alone, which assumes |w| = 1 and can fail.

Sigmoid, tanh and ReLU chains are drawn with the same weights. Each chain is
one "seed": claims report mean ± s.e. over chains. A spread sweep
(``spreads``) shows how often (¼)^t alone is exceeded as the weights spread
out, and a tuned chain (w = 4, b_k = −4·y_{k−1}, so every z_k = 0 and
w·σ′ = 1) shows the article's "exactly one" condition.

Reproduces: the article's argument as numbers — the sigmoid and tanh
derivative plots (max ¼ and 1), the per-layer factor ≤ ¼|w|, the (¼)^r decay
and its 10⁻⁶ at r = 10, the "w·φ′ = 1" condition, ReLU's unit gradient where
active and its dying units — with figures of ∂J/∂y per layer against both
bounds (sigmoid, tanh, ReLU), the per-layer factors against |w|, the share of
chains below (¼)^r per spread, and the surviving ReLU chains against
P(w > 0)^r. No data set and no training: every scale runs in seconds to
minutes; the scales differ in the number of chains and their depth.
"""

from __future__ import annotations

from ..base import Study
from .compute import (ACTIVATIONS, EXACT, LOG_TOLERANCE, PAPER_DEPTH, alive_fraction, back_profile, chain_gradients,
                      draw_chains, step_factors, tuned_chain)
from .protocol import SCALES, add_arguments, run

STUDY = Study(
    name="chain",
    title="Errasti 2022 — the sigmoid chain bound: why ReLU works so well",
    citation="P. Errasti, Have you ever stopped to think about why ReLU function works so well? (Bedrock — Human "
    "Intelligence, Medium, 2022; seed 003)",
    reproduces=("σ′ ≤ ¼ and tanh′ ≤ 1 (the derivative plots)", "per-layer factor ≤ ¼·|w|",
                "the (¼)ʳ decay and 10⁻⁶ at r = 10, measured against (¼)ʳ·Π|w| and (¼)ʳ alone",
                "the w·φ′ = 1 condition", "ReLU: unit gradient where active, dying units"),
    scales=SCALES,
    run=run,
    add_arguments=add_arguments,
    notes="No data set and no training: each 'seed' is one random chain of single-neuron layers, and claims are "
    "mean ± s.e. over chains. The article gives the weights' mean (1) but not their spread, nor biases or inputs: "
    "the study draws w ~ N(1, 0.5²) (and a sweep over spreads), b = 0 and x ~ U(0, 1) (positive, as in the "
    "article's dying-ReLU case). The bound is stated for ∂J/∂y (the neuron's output), as in the article. "
    "Magnitudes that span decades agree when within 0.3 decade (a factor of 2) or 2 s.e.",
)

__all__ = ["ACTIVATIONS", "EXACT", "LOG_TOLERANCE", "PAPER_DEPTH", "SCALES", "STUDY", "add_arguments",
           "alive_fraction", "back_profile", "chain_gradients", "draw_chains", "run", "step_factors", "tuned_chain"]
