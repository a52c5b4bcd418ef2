"""The verdict vocabulary of the diagnosis: what a verdict can say, the thresholds that decide it, its remedies.

The kinds of verdict (:data:`KINDS`), the decision thresholds (:class:`Thresholds`), the remedies named for each
kind (:data:`REMEDIES`), the finding itself (:class:`Verdict`), :class:`MissingProbeError`, the constants of the
through-time reading (:data:`TIME_STEPS`, :data:`HORIZON`), and the small helpers both
:mod:`vanishing.watch.diagnose` (the layer rules) and :mod:`vanishing.watch.time_verdicts` (the through-time
rules) use: JSON-safe numbers (``_num``, ``_jsonable``), the printed number formats (``_g``, ``_pct``, ``_int``)
and a probe table's rows at one snapshot (``_at``). Imports no other module of the diagnosis.

RMS_l = ((1/N) Σ_n ‖δ_{l,n}‖²)^½ is the RMS per-example δ_n = ∂E_n/∂a_n of hidden layer l = 1 … L (input side
first) and r_l = RMS_l / RMS_{l+1} the factor by which it changes going one layer back (SPEC §7; see
:mod:`vanishing.watch.diagnose`).

Thresholds (:class:`Thresholds`; every one can be changed):

===================  =======  ================================================================
verdict              default  rule
===================  =======  ================================================================
vanishing            0.5      geometric mean of r_l < 0.5 (SPEC §12): the signal at least
                              halves per layer back, so L layers scale the first layer's
                              updates by ≤ 2^−(L−1). Theory: sigmoid with torch default
                              init √χ₁ ≈ 0.14, Xavier 0.24; critical inits (He + ReLU,
                              Xavier + tanh) give ≈ 1. 0.5 lies between.
                     0.01     or RMS_1 / RMS_L < 0.01 (with ≥ 3 hidden layers): a milder
                              per-layer decay that compounds over depth — tanh with torch's
                              default init (√χ₁ ≈ 0.58) loses 100× over 10 layers.
exploding            2.0      geometric mean of r_l > 2 (SPEC §12), the mirror image;
                     100      or RMS_1 / RMS_L > 100; or a non-finite δ or gradient.
saturated            0.25     a layer with > 25 % of its (example, node) pairs at
                              |f′(a)| < 5 % of max |f′| (the ``saturation`` probe). Such a
                              pair passes < 1/20 of the gradient it could; at a quarter of
                              the layer the loss of signal is no longer a few outliers but
                              the layer's operating point. Healthy sigmoid/tanh nets sit at
                              a few %; Glorot & Bengio (2010) saw top sigmoid layers at ~100 %.
dead units           0.10     a layer with > 10 % of its nodes inactive (f(a) ≤ 0) on
                              every probe example (``dead_units``). A dead ReLU gets no
                              gradient, so it never recovers: its capacity is lost. At He
                              init with zero bias a node is dead on N examples with
                              probability ≈ 2^−N, so 10 % on a probe batch of ≥ 32 is
                              not chance.
===================  =======  ================================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import UsageError

KINDS = ("vanishing", "exploding", "saturated", "dead_units", "healthy", "not_judged", "vanishing_through_time",
         "exploding_through_time", "gate_saturated")
TIME_STEPS = 3  # a module applied at least this many times per forward pass (a cell stepped in a loop) is read through time
HORIZON = 0.1  # memory horizon: the lag at which ‖∂L/∂h‖ falls below 10 % of its value at the last application


class MissingProbeError(UsageError):
    """The run has no per-example δ table, so no diagnosis can be made."""


@dataclass(frozen=True)
class Thresholds:
    """The decision rules of :func:`~.diagnose.diagnose_tables` (see the module docstring for the why of each)."""

    vanishing: float = 0.5  # geometric-mean ratio RMS_l/RMS_{l+1} below this → vanishing
    exploding: float = 2.0  # … above this → exploding
    vanishing_total: float = 0.01  # RMS_first/RMS_last below this (≥ 3 hidden layers) → vanishing
    exploding_total: float = 100.0  # RMS_first/RMS_last above this (≥ 3 hidden layers) → exploding
    starved: float = 0.1  # evidence: layers with RMS_l/RMS_last below this (above 1/this: flooded)
    saturation: float = 0.25  # a layer's saturated share of (example, node) pairs above this → saturated
    dead: float = 0.10  # a layer's share of dead nodes above this → dead units
    min_total_layers: int = 3  # hidden layers needed for the end-to-end rules
    gate_saturation: float = 0.25  # a recurrent layer's forget/update-gate values < 0.05 (or > 0.95) above this share

    def __post_init__(self) -> None:
        if not 0 < self.vanishing < 1 < self.exploding:
            raise ValueError(f"thresholds: need 0 < vanishing < 1 < exploding, got {self.vanishing}, {self.exploding}")
        if not 0 < self.vanishing_total < 1 < self.exploding_total:
            raise ValueError("thresholds: need 0 < vanishing_total < 1 < exploding_total")
        for name in ("saturation", "dead", "starved", "gate_saturation"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"thresholds: {name} must lie in (0, 1), got {getattr(self, name)}")


REMEDIES: dict[str, list[str]] = {
    "vanishing": [
        "Use a ReLU-family activation (relu, leaky_relu, elu) instead of sigmoid/tanh: f′ = 1 on the active side, "
        "where sigmoid's f′ ≤ 1/4 shrinks δ at every layer (Glorot, Bordes & Bengio 2011).",
        "Initialise for the activation: He (nn.init.kaiming_normal_, σ_w² = 2/fan_in) for ReLU, Xavier "
        "(nn.init.xavier_uniform_) for tanh/sigmoid — it moves χ₁ = σ_w² E[f′(a)²] towards 1 "
        "(Glorot & Bengio 2010; He et al. 2015). torch's default init (σ_w² = 1/3) is in the ordered phase.",
        "Add batch normalisation before the activations (Ioffe & Szegedy 2015): it keeps pre-activations in "
        "the region where f′ is large.",
        "Add residual connections (y = x + F(x)): the identity path carries δ past every block (He et al. 2016).",
        "Use an optimizer with per-parameter step sizes — Adam, or SDAGD (vanishing run --optimizer sdagd) — "
        "so that small gradients still move the first layers.",
        "Use a shallower network: with a per-layer ratio r, L layers scale the first layer's signal by r^(L−1).",
    ],
    "exploding": [
        "Clip the gradient norm: torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm) before optimizer.step().",
        "Initialise with smaller weights: He for ReLU, Xavier for tanh/sigmoid, not larger gains (χ₁ > 1 is the "
        "chaotic phase).",
        "Add batch normalisation, or lower the learning rate.",
        "Use Adam or SDAGD, whose steps do not grow with the gradient.",
        "Use a shallower network: with a per-layer ratio r > 1, L layers multiply the signal by r^(L−1).",
    ],
    "saturated": [
        "Use a ReLU-family activation, which has no saturating positive side.",
        "Initialise with Xavier (or smaller) weights and standardise the inputs, so that pre-activations start "
        "in the linear region of sigmoid/tanh.",
        "Add batch normalisation before the activations.",
        "Lower the learning rate: large steps push pre-activations into the flat tails.",
    ],
    "dead_units": [
        "Use leaky_relu, elu or prelu: a negative slope keeps a gradient for inactive units.",
        "Lower the learning rate (a large step can push a unit's bias so far that it never fires again).",
        "Initialise with He and a small positive bias, or use Adam with a smaller step.",
        "Add batch normalisation before the activations, which re-centres each unit's input.",
    ],
    "healthy": [],
    "vanishing_through_time": [
        "Use a gated cell (nn.LSTM / nn.GRU) instead of a plain tanh RNN: the cell state's additive path carries "
        "∂L/∂h back over many steps (Hochreiter & Schmidhuber 1997).",
        "Initialise the LSTM forget-gate bias to 1 (or more), so that the cell starts out remembering (Jozefowicz et al. 2015).",
        "Initialise the recurrent matrix orthogonally (nn.init.orthogonal_(weight_hh)), so that its singular values are 1.",
        "Shorten the dependency the task needs, or add skip connections / attention across time.",
    ],
    "exploding_through_time": [
        "Clip the gradient norm: torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm) before optimizer.step().",
        "Initialise the recurrent matrix orthogonally or with a spectral radius below 1.",
        "Truncate backpropagation through time to fewer steps (detach the hidden state every k steps).",
        "Use a gated cell (nn.LSTM / nn.GRU).",
    ],
    "gate_closed": [
        "Initialise the LSTM forget-gate bias to 1 (rows H:2H of bias_ih — torch's gate order is i, f, g, o — with "
        "bias_hh's f rows 0): f = σ(1) ≈ 0.73 keeps most of the cell state from the start (Gers, Schmidhuber & "
        "Cummins 2000; Jozefowicz, Zaremba & Sutskever 2015).",
        "For a GRU, give the update gate z (rows H:2H of bias_ih — gate order r, z, n) a positive bias, so that "
        "h_t = (1 − z) ⊙ n + z ⊙ h_{t−1} starts close to keeping h_{t−1}.",
        "Lower the learning rate or clip the gradient norm: large steps push gate pre-activations into σ's flat tails.",
        "Standardise the inputs and keep the recurrent weights small (nn.init.orthogonal_), so that gate "
        "pre-activations start near 0.",
    ],
    "gate_open": [
        "A gate stuck at 1 copies the state unchanged and its own weights get almost no gradient (σ′ < 0.05): if the "
        "task needs to forget, lower an over-large forget-gate bias, the learning rate, or clip the gradient norm.",
    ],
    "not_judged": [
        "Modules with parameters of a type the layer registry does not know are not watched: register them with "
        "vanishing.watch.register_layer(Type, LayerRule('weight', node_dim=...)), or add a Linear layer between "
        "them and the output layer so that it has a hidden layer to judge.",
    ],
}


@dataclass
class Verdict:
    """One finding: ``kind`` (one of KINDS), a one-line ``summary``, the ``layers`` it names, the numbers, the remedies."""

    kind: str
    summary: str
    layers: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    remedies: list[str] = field(default_factory=list)



# --------------------------------------------------------------------------- formatting helpers


def _num(x: Any) -> Any:
    if isinstance(x, (float, np.floating)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return _num(obj)


def _g(x: Any, digits: int = 3) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(x):
        return "–" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return f"{x:.{digits}g}"


def _pct(x: Any) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "–"
    return "–" if not math.isfinite(x) else f"{100 * x:.1f}%"


def _int(x: Any) -> str:
    try:
        return str(int(x))
    except (TypeError, ValueError):
        return "–"



# --------------------------------------------------------------------------- probe tables


def _at(table: pd.DataFrame | None, epoch: int) -> pd.DataFrame | None:
    if table is None or len(table) == 0 or "epoch" not in table:
        return None
    rows = table[table["epoch"] == epoch]
    return rows if len(rows) else None

