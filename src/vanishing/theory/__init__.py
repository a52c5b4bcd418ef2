"""Theory of the vanishing gradient: chain bounds and mean-field signal propagation (SPEC §7).

* :mod:`~vanishing.theory.chain` — the chain-rule bound for a chain of
  single-neuron sigmoid layers, |∂C/∂b₁| ≤ (¼)^r Π_{k=2..r}|w_k| |∂C/∂y_r|
  (the seed 003 article), and its layer version ‖δ_l‖ ≤ (¼)^{L−l} Π ‖W_k‖₂ ‖δ_L‖
  on the actual weights (sup|φ′| of the registry for other activations).
* :mod:`~vanishing.theory.gaussian` — Gaussian expectations by Gauss–Hermite
  quadrature with an even number of nodes; closed forms for the ReLU family;
  a piecewise rule for the other kinked activations.
* :mod:`~vanishing.theory.meanfield` — the q-map (Poole et al. 2016), χ, the
  fixed point q*, χ₁, depth scale ξ = −1/ln χ₁ and trainable depth ≈ 6ξ
  (Schoenholz et al. 2017); per-layer predictions of the ratio √χ^(l) of
  per-example δ norms from a model config and the input statistics.
* :mod:`~vanishing.theory.measure` — the measured counterpart: per-example δ
  (one backward of the summed loss, eval mode), their RMS per layer, the
  measured q, and the prediction/measurement comparison.
* :mod:`~vanishing.theory.commands` — ``vanishing theory``;
  :mod:`~vanishing.theory.figure` — the prediction-vs-measurement figure of
  ``docs/theory.md`` (``python -m vanishing.theory.figure``).

Conventions: σ_w² = fan_in·Var(W); q₁ = σ²_{w,1}·mean(x²) + σ²_{b,1} from the
data. See ``docs/theory.md``.
"""

from .chain import (
    check_layer_bound,
    layer_bound_factors,
    model_bound_factors,
    scalar_chain,
    scalar_chain_bound,
    spectral_norm,
)
from .gaussian import (
    DEFAULT_NODES,
    gauss_hermite_rule,
    gaussian_expectation,
    has_closed_form,
    piecewise_expectation,
    second_moments,
)
from .meanfield import (
    FixedPoint,
    LayerVariance,
    bias_moments,
    chi,
    depth_scale,
    fixed_point,
    fixed_point_summary,
    input_second_moment,
    layer_variances,
    phase,
    predict,
    predict_from_model,
    predict_layers,
    q_map,
    reference_values,
    weight_sigma2,
)
from .measure import (
    compare,
    delta_table,
    hidden_ratio_errors,
    measured_q,
    per_example_deltas,
    rms_norm,
)

__all__ = [
    "DEFAULT_NODES",
    "FixedPoint",
    "LayerVariance",
    "bias_moments",
    "check_layer_bound",
    "chi",
    "compare",
    "delta_table",
    "depth_scale",
    "fixed_point",
    "fixed_point_summary",
    "gauss_hermite_rule",
    "gaussian_expectation",
    "has_closed_form",
    "hidden_ratio_errors",
    "input_second_moment",
    "layer_bound_factors",
    "layer_variances",
    "measured_q",
    "model_bound_factors",
    "per_example_deltas",
    "phase",
    "piecewise_expectation",
    "predict",
    "predict_from_model",
    "predict_layers",
    "q_map",
    "reference_values",
    "rms_norm",
    "scalar_chain",
    "scalar_chain_bound",
    "second_moments",
    "spectral_norm",
    "weight_sigma2",
]
