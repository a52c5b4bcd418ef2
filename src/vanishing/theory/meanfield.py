"""Mean-field signal propagation: the q-map, χ, the fixed point q*, depth scales and per-layer predictions.

References: Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli (2016), "Exponential
expressivity in deep neural networks through transient chaos" (the q-map);
Schoenholz, Gilmer, Ganguli & Sohl-Dickstein (2017), "Deep information
propagation" (χ₁, the gradient depth scale ξ_∇ = −1/ln χ₁ and trainable depth
≈ 6ξ); Glorot & Bengio (2010), "Understanding the difficulty of training deep
feedforward neural networks" (the variance argument behind Xavier init).

**Conventions.** Hidden layer l computes a_l = W_l y_{l−1} + b_l, y_l = φ_l(a_l),
y_0 = x; W_l has fan_in = n_{l−1} i.i.d. entries of variance s_l², the bias
entries have mean μ_l and variance σ²_{b,l}. The mean-field weight variance is

    σ²_{w,l} = fan_in · Var(W_l)      (torch default init: 1/3; Xavier: 2·fan_in/(fan_in+fan_out); He: 2).

Over the random weights, each pre-activation is Gaussian, a_l ~ N(μ_l, v_l),
with second moment q_l = E[a_l²] = v_l + μ_l² (= v_l for zero-mean biases,
the usual case), and

    q-map:  v_{l+1} = σ²_{w,l+1} · E[φ_l(a_l)²] + σ²_{b,l+1}
    χ:      χ^(l)   = σ²_{w,l+1} · E[φ_l′(a_l)²]

(with μ = 0: q_{l+1} = σ_w² E[φ(√q_l z)²] + σ_b², χ = σ_w² E[φ′(√q_l z)²]).
χ^(l) is the predicted ratio of the squared norms of the backpropagated
signal δ_l = ∂E/∂a_l = φ_l′(a_l) ⊙ W_{l+1}ᵀ δ_{l+1} of one example:
E‖δ_l‖² = χ^(l) · E‖δ_{l+1}‖² (E over the weights W_{l+1}, treated as
independent of the forward pass — the "gradient independence" assumption),
so the predicted ratio of norms is √χ^(l). For the last hidden layer L,
W_{L+1} is the output layer. Per unit (RMS over units) the ratio is
√χ^(l) · √(n_{l+1}/n_l).

**q₁ from the data.** For a fixed input x, over W_1: a_1 ~ N(μ_1,
s_1²‖x‖² + σ²_{b,1}), so averaged over the data set

    v_1 = σ²_{w,1} · m₂ + σ²_{b,1},   m₂ = (1/(N·n_0)) Σ_n ‖x_n‖²  (mean of x² over examples and features)

(:func:`input_second_moment`). This is the expectation, over the weights, of
the *measured* q₁ = mean over examples and units of a_1² (what
:func:`vanishing.theory.measure.measured_q` returns on an actual network).
Inputs are not centred: MNIST pixels /255 have m₂ ≈ 0.112.

**Fixed point and depth scales** (a deep stack of identical layers):
q* solves q = σ_w² E[φ(√q z)²] + σ_b² (reached by iterating the q-map from q₀);
χ₁ = σ_w² E[φ′(√q* z)²]. Ordered phase χ₁ < 1: gradients vanish, ‖δ_l‖² ∝
e^{−(L−l)/ξ} with depth scale ξ = −1/ln χ₁, trainable depth ≈ 6ξ (Schoenholz
et al. use the correlation depth ξ_c, equal to ξ in the ordered phase; over 6ξ
layers ‖δ‖² falls by e⁻⁶ ≈ 1/400). χ₁ = 1: critical, ξ = ∞. χ₁ > 1: chaotic
/ exploding, ‖δ‖² grows e-fold every 1/ln χ₁ layers (reported as the depth
scale; "trainable depth" is then 6/ln χ₁, the depth over which ‖δ‖² grows by
e⁶ — an analogue, not Schoenholz et al.'s bound, which uses ξ_c).

Note for sigmoid: φ(0) = ½, so q* > 0 even with σ_b = 0 (q* ≈ σ_w²/4 for
small σ_w²), and χ₁ = σ_w² E[σ′²] ≤ σ_w²/16.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch

from .. import activations
from .. import init as init_mod
from ..callspec import parse_call
from .gaussian import DEFAULT_NODES, second_moments

CRITICAL_TOL = 1e-6  # |χ − 1| ≤ this → "critical"
PHASES = ("ordered / vanishing", "critical", "chaotic / exploding")


# --------------------------------------------------------------------------- maps


def q_map(activation, q, sigma_w2: float, sigma_b2: float = 0.0, *, bias_mean: float = 0.0, n: int = DEFAULT_NODES):
    """One step of the q-map (Poole et al. 2016, eq. 3): σ_w² E[φ(a)²] + σ_b², a ~ N(μ, q − μ²).

    ``q`` is the second moment of the incoming pre-activation (its variance
    when ``bias_mean`` μ = 0); returns the *variance* of the next layer's
    pre-activation about its own bias mean (add the next μ² for its q).
    Vectorised over ``q``.
    """
    v = np.asarray(q, dtype=np.float64) - bias_mean**2
    e_f2, _ = second_moments(activation, np.maximum(v, 0.0), bias_mean, n=n)
    return sigma_w2 * e_f2 + sigma_b2


def chi(activation, q, sigma_w2: float, *, bias_mean: float = 0.0, n: int = DEFAULT_NODES):
    """χ = σ_w² E[φ′(a)²], a ~ N(μ, q − μ²) (Schoenholz et al. 2017, eq. 9 at q; χ₁ at q = q*).

    The predicted ratio ‖δ_l‖²/‖δ_{l+1}‖² when a_l has second moment q and
    σ_w² belongs to the weights W_{l+1} between the two layers.
    """
    v = np.asarray(q, dtype=np.float64) - bias_mean**2
    _, e_df2 = second_moments(activation, np.maximum(v, 0.0), bias_mean, n=n)
    return sigma_w2 * e_df2


def fixed_point(
    activation,
    sigma_w2: float,
    sigma_b2: float = 0.0,
    *,
    bias_mean: float = 0.0,
    q0: float = 1.0,
    n: int = DEFAULT_NODES,
    v_max: float = 1e12,
) -> float:
    """q* = lim q_l of the q-map iterated from q₀ (second moment; variance + μ²).

    The map v ↦ σ_w² E[φ(μ + √v z)²] + σ_b² is increasing for the usual φ, so
    the iteration moves monotonically from v₀ to the nearest fixed point in
    the direction of g(v₀) = map(v₀) − v₀: this function scans a geometric
    grid in that direction for the first sign change of g and bisects it.
    v* = 0 when the scan reaches 10⁻¹⁰·max(v₀, 1) and the map fixes 0 (φ(μ) = 0,
    σ_b = 0): e.g. tanh with σ_w² ≤ 1. Returns ``inf`` when the scan passes
    ``v_max`` (relu-type φ with σ_w² above critical). Every v is a fixed point
    of relu with σ_w² = 2, σ_b = 0: then q₀ is returned.
    """
    mu = float(bias_mean)

    def m(v):
        return q_map(activation, np.asarray(v) + mu * mu, sigma_w2, sigma_b2, bias_mean=mu, n=n)

    def g(v):
        return m(v) - np.asarray(v)

    v0 = max(float(q0) - mu * mu, 0.0)
    if v0 == 0.0:
        v0 = 1.0
    g0 = float(g(v0))
    if abs(g0) <= 1e-13 * max(v0, 1e-300):
        return v0 + mu * mu
    if g0 < 0:  # decreasing towards the largest fixed point below v0
        v_min = 1e-10 * max(v0, 1.0)
        grid = v0 * np.logspace(0, math.log10(v_min / v0) if v_min < v0 else -1, 400)[1:]
        vals = g(grid)
        hit = np.nonzero(vals >= 0)[0]
        if len(hit) == 0:
            if sigma_b2 == 0.0 and float(activations.get(activation).f(torch.tensor(mu, dtype=torch.float64))) == 0.0:
                return 0.0 + mu * mu  # the map fixes v = 0 and nothing above v_min: the iteration goes to 0
            lo, hi = 0.0, float(grid[-1])  # g(0) = m(0) > 0, g(hi) < 0
        else:
            i = int(hit[0])
            lo, hi = float(grid[i]), float(grid[i - 1]) if i > 0 else v0
    else:  # increasing towards the smallest fixed point above v0
        grid = v0 * np.logspace(0, math.log10(max(v_max / v0, 10.0)), 400)[1:]
        vals = g(grid)
        hit = np.nonzero(vals <= 0)[0]
        if len(hit) == 0:
            return math.inf
        i = int(hit[0])
        lo, hi = float(grid[i - 1]) if i > 0 else v0, float(grid[i])
    # bisection on g between lo and hi (g changes sign)
    g_lo = float(g(lo))
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        g_mid = float(g(mid))
        if (g_mid > 0) == (g_lo > 0):
            lo, g_lo = mid, g_mid
        else:
            hi = mid
    return 0.5 * (lo + hi) + mu * mu


# --------------------------------------------------------------------------- depth scales


def phase(chi1: float, tol: float = CRITICAL_TOL) -> str:
    """"ordered / vanishing" (χ₁ < 1), "critical" (|χ₁ − 1| ≤ tol) or "chaotic / exploding" (χ₁ > 1)."""
    if not math.isfinite(chi1) and chi1 > 0:
        return PHASES[2]
    if abs(chi1 - 1.0) <= tol:
        return PHASES[1]
    return PHASES[0] if chi1 < 1.0 else PHASES[2]


def depth_scale(chi1: float, tol: float = CRITICAL_TOL) -> float:
    """1/|ln χ₁|: ξ = −1/ln χ₁ in the ordered phase, the growth scale 1/ln χ₁ in the chaotic one; ∞ at criticality.

    0 for χ₁ = 0 (the signal dies in one layer).
    """
    if abs(chi1 - 1.0) <= tol:
        return math.inf
    if chi1 <= 0:
        return 0.0
    if not math.isfinite(chi1):
        return 0.0
    return 1.0 / abs(math.log(chi1))


@dataclass(frozen=True)
class FixedPoint:
    """The deep-network summary of one layer type (φ, σ_w², σ_b²) at its fixed point q*."""

    activation: str
    sigma_w2: float
    sigma_b2: float
    bias_mean: float
    q_star: float
    chi1: float  # σ_w² E[φ′(√q* z)²]
    ratio: float  # √χ₁: predicted ‖δ_l‖/‖δ_{l+1}‖ deep in the network
    depth_scale: float  # ξ = 1/|ln χ₁| (∞ at criticality)
    trainable_depth: float  # 6ξ
    phase: str

    def as_dict(self) -> dict:
        return asdict(self)


def fixed_point_summary(
    activation,
    sigma_w2: float,
    sigma_b2: float = 0.0,
    *,
    bias_mean: float = 0.0,
    q0: float = 1.0,
    n: int = DEFAULT_NODES,
    tol: float = CRITICAL_TOL,
) -> FixedPoint:
    """q*, χ₁ = σ_w² E[φ′(√q* z)²], √χ₁, ξ, 6ξ and the phase (Schoenholz et al. 2017, §3).

    Example (the SPEC §7 reference values)::

        >>> round(fixed_point_summary("sigmoid", 1.0).chi1, 3)
        0.056
    """
    spec = activations.canonical(activation) if isinstance(activation, str) else activation.spec
    q_star = fixed_point(activation, sigma_w2, sigma_b2, bias_mean=bias_mean, q0=q0, n=n)
    # q* = ∞ (unbounded φ above criticality): χ at a very large q, its limit for the registry's φ
    q_eval = 1e8 if math.isinf(q_star) else q_star
    c = float(chi(activation, q_eval, sigma_w2, bias_mean=bias_mean, n=n))
    xi = depth_scale(c, tol)
    return FixedPoint(
        activation=spec,
        sigma_w2=float(sigma_w2),
        sigma_b2=float(sigma_b2),
        bias_mean=float(bias_mean),
        q_star=float(q_star),
        chi1=c,
        ratio=math.sqrt(c) if math.isfinite(c) else math.inf,
        depth_scale=xi,
        trainable_depth=6.0 * xi,
        phase=phase(c, tol),
    )


# --------------------------------------------------------------------------- per-layer predictions


def input_second_moment(x: torch.Tensor | np.ndarray) -> float:
    """m₂ = mean over examples and features of x² (the input statistic that sets q₁ = σ²_{w,1}·m₂ + σ²_{b,1})."""
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float64)
        return float(x.reshape(len(x), -1).square().mean())
    x = np.asarray(x, dtype=np.float64)
    return float(np.mean(np.square(x.reshape(len(x), -1))))


@dataclass(frozen=True)
class LayerVariance:
    """σ²_w = fan_in·Var(W), σ²_b = Var(b) and the bias mean μ_b of one Linear layer's init."""

    name: str
    fan_in: int
    fan_out: int
    sigma_w2: float
    sigma_b2: float
    bias_mean: float


def weight_sigma2(scheme: str, fan_in: int, fan_out: int, activation_name: str) -> float:
    """σ_w² = fan_in · Var(W) for an init scheme of :mod:`vanishing.init`.

    ``orthogonal(gain)``: entries are not i.i.d., but ‖W x‖² and ‖Wᵀ δ‖² average
    as for i.i.d. entries of variance gain²/max(fan_in, fan_out), so σ_w² =
    gain²·fan_in/max(fan_in, fan_out) (= gain² for square W).
    """
    std = init_mod.weight_std(scheme, fan_in, fan_out, activation_name)
    if std is not None:
        return fan_in * std * std
    call = parse_call(init_mod.canonical_weight_init(scheme), "model.init")
    gain = float(call.kwargs.get("gain", 1.0))
    return gain * gain * fan_in / max(fan_in, fan_out)


def bias_moments(scheme: str, fan_in: int) -> tuple[float, float]:
    """(μ_b, σ_b²) of a bias scheme: zeros (0, 0); constant(value) (value, 0); normal(std) (0, std²); torch_default (0, 1/(3·fan_in))."""
    call = parse_call(init_mod.canonical_bias_init(scheme), "model.bias_init")
    if call.name == "zeros":
        return 0.0, 0.0
    if call.name == "constant":
        return float(call.kwargs["value"]), 0.0
    if call.name == "normal":
        return 0.0, float(call.kwargs["std"]) ** 2
    return 0.0, 1.0 / (3.0 * fan_in)  # torch_default: U(±1/√fan_in)


def _hidden_activations(config) -> list[str]:
    acts = config.activation
    acts = [acts] * len(config.hidden) if isinstance(acts, str) else list(acts)
    if len(acts) != len(config.hidden):
        raise ValueError(f"got {len(acts)} activations for {len(config.hidden)} hidden layers")
    return [activations.canonical(a) for a in acts]


def layer_variances(config, n_in: int, n_out: int) -> list[LayerVariance]:
    """σ_w², σ_b², μ_b of every Linear layer of the MLP a :class:`~vanishing.config.ModelConfig` builds.

    L + 1 entries: ``hidden1`` … ``hiddenL``, ``output``. ``auto`` init is
    resolved per layer from the activation that follows it (the output
    activation for the output layer), as :func:`vanishing.model.build_model`.
    """
    acts = _hidden_activations(config)
    widths = [int(n_in), *map(int, config.hidden), int(n_out)]
    follow = [activations.get(a).name for a in acts] + [config.output]
    names = [f"hidden{i}" for i in range(1, len(acts) + 1)] + ["output"]
    out = []
    for k, name in enumerate(names):
        fan_in, fan_out = widths[k], widths[k + 1]
        mu, sb2 = bias_moments(config.bias_init, fan_in)
        out.append(LayerVariance(name, fan_in, fan_out, weight_sigma2(config.init, fan_in, fan_out, follow[k]), sb2, mu))
    return out


COLUMNS = (
    "layer", "name", "activation", "width", "sigma_w2", "sigma_b2", "q", "e_phi2", "e_dphi2",
    "sigma_w2_next", "chi", "ratio", "ratio_node", "decay", "depth_scale", "phase",
)


def predict_layers(
    acts: Sequence[str],
    widths: Sequence[int],
    sigma_w2: Sequence[float],
    sigma_b2: Sequence[float] | float = 0.0,
    bias_mean: Sequence[float] | float = 0.0,
    *,
    q1: float | None = None,
    input_m2: float | None = None,
    n: int = DEFAULT_NODES,
    tol: float = CRITICAL_TOL,
) -> pd.DataFrame:
    """Per-hidden-layer mean-field predictions as a DataFrame (one row per hidden layer l = 1 … L).

    ``acts``: L activation specs. ``widths``: n_0 (input), n_1 … n_L, n_out
    (L + 2 numbers). ``sigma_w2``, ``sigma_b2``, ``bias_mean``: per Linear layer
    (L + 1 values, the output layer last) or one value for all. The first
    hidden layer starts at q₁ = ``q1`` if given, else v₁ = σ²_{w,1}·``input_m2``
    + σ²_{b,1} (q₁ = v₁ + μ₁²), else at the fixed point of layer 1's
    parameters; then the q-map runs downward.

    Columns: ``layer`` (1…L), ``name``, ``activation``, ``width`` n_l,
    ``sigma_w2`` / ``sigma_b2`` of the layer's incoming weights / bias, ``q``
    (predicted E[a_l²]), ``e_phi2`` = E[φ(a_l)²], ``e_dphi2`` = E[φ′(a_l)²],
    ``sigma_w2_next`` (σ² of W_{l+1}; the output layer's for l = L), ``chi`` =
    χ^(l) = sigma_w2_next·e_dphi2, ``ratio`` = √χ^(l) (predicted
    ‖δ_l‖/‖δ_{l+1}‖ per example), ``ratio_node`` (the same for the per-unit
    RMS: ratio·√(n_{l+1}/n_l)), ``decay`` = Π_{k=l}^{L−1} √χ^(k) (predicted
    ‖δ_l‖/‖δ_L‖; row 1 is the total decay to the first layer), ``depth_scale``
    = 1/|ln χ^(l)| and ``phase`` of χ^(l) — the local depth scale and phase
    if every layer had this χ; on the last row (whose χ involves the output
    layer's σ_w², e.g. ≈ 2 for Xavier 700 → 10) they are NaN and
    ``"to output"``. ``df.attrs`` holds ``q1``,
    ``q1_source`` ("given", "inputs" or "fixed point"), ``input_m2`` and
    ``fixed_point`` (the :class:`FixedPoint` dict of the last hidden layer's φ,
    σ_w², σ_b², μ_b — the deep limit of the stack).
    """
    L = len(acts)
    if L < 1:
        raise ValueError("need at least one hidden layer")
    if len(widths) != L + 2:
        raise ValueError(f"widths must list n_in, the {L} hidden widths and n_out ({L + 2} numbers), got {len(widths)}")

    def per_layer(value, what):
        vals = [float(value)] * (L + 1) if np.isscalar(value) else [float(v) for v in value]
        if len(vals) != L + 1:
            raise ValueError(f"{what}: need {L + 1} values (one per Linear layer, output last), got {len(vals)}")
        return vals

    sw, sb, mb = per_layer(sigma_w2, "sigma_w2"), per_layer(sigma_b2, "sigma_b2"), per_layer(bias_mean, "bias_mean")
    acts = [activations.canonical(a) for a in acts]
    if q1 is not None:
        if q1 < mb[0] ** 2:
            raise ValueError(f"q1 = {q1} is below the squared bias mean {mb[0] ** 2}")
        v, source = float(q1) - mb[0] ** 2, "given"
    elif input_m2 is not None:
        v, source = sw[0] * float(input_m2) + sb[0], "inputs"
    else:
        v = fixed_point(acts[0], sw[0], sb[0], bias_mean=mb[0], n=n) - mb[0] ** 2
        source = "fixed point"
    rows = []
    for i in range(L):
        if not math.isfinite(v):
            e_f2, e_df2 = math.inf, math.nan
        else:
            e_f2, e_df2 = (float(t) for t in second_moments(acts[i], v, mb[i], n=n))
        c = sw[i + 1] * e_df2
        rows.append({
            "layer": i + 1,
            "name": f"hidden{i + 1}",
            "activation": acts[i],
            "width": int(widths[i + 1]),
            "sigma_w2": sw[i],
            "sigma_b2": sb[i],
            "q": v + mb[i] ** 2,
            "e_phi2": e_f2,
            "e_dphi2": e_df2,
            "sigma_w2_next": sw[i + 1],
            "chi": c,
            "ratio": math.sqrt(c) if c >= 0 else math.nan,
            "ratio_node": math.sqrt(c * widths[i + 2] / widths[i + 1]) if c >= 0 else math.nan,
            "depth_scale": depth_scale(c, tol) if math.isfinite(c) and i < L - 1 else math.nan,
            "phase": ("to output" if i == L - 1 else phase(c, tol)) if math.isfinite(c) else "undefined",
        })
        v = sw[i + 1] * e_f2 + sb[i + 1]
    df = pd.DataFrame(rows)
    # decay_l = Π_{k=l}^{L-1} ratio_k (the last hidden layer is the reference)
    decay = np.ones(L)
    for i in range(L - 2, -1, -1):
        decay[i] = decay[i + 1] * df["ratio"].iloc[i]
    df.insert(len(df.columns) - 2, "decay", decay)
    df = df[list(COLUMNS)]
    fp = fixed_point_summary(acts[-1], sw[L - 1], sb[L - 1], bias_mean=mb[L - 1], n=n, tol=tol)
    df.attrs.update(
        q1=float(df["q"].iloc[0]),
        q1_source=source,
        input_m2=None if input_m2 is None else float(input_m2),
        fixed_point=fp.as_dict(),
    )
    return df


def predict(
    config,
    n_in: int,
    n_out: int,
    *,
    input_m2: float | None = None,
    q1: float | None = None,
    sigma_w2: float | None = None,
    sigma_b2: float | None = None,
    n: int = DEFAULT_NODES,
    tol: float = CRITICAL_TOL,
) -> pd.DataFrame:
    """Mean-field predictions per hidden layer for a :class:`~vanishing.config.ModelConfig` (see :func:`predict_layers`).

    σ_w², σ_b², μ_b come from ``config.init`` / ``config.bias_init`` per layer
    (:func:`layer_variances`); ``sigma_w2`` / ``sigma_b2`` override them for
    every layer (and set μ_b = 0 when ``sigma_b2`` is given). q₁: ``q1`` if
    given, else from ``input_m2`` (mean of x² over the data,
    :func:`input_second_moment`), else the fixed point. Batch norm, layer norm
    and residual connections are outside this theory (ValueError).

    Example::

        from vanishing.config import ModelConfig
        cfg = ModelConfig(hidden=(700,) * 5, activation="sigmoid", init="xavier_normal")
        df = predict(cfg, 784, 10, input_m2=0.0998)
        df[["layer", "q", "chi", "ratio", "decay"]]
    """
    if config.batch_norm != "off" or config.layer_norm or config.residual:
        raise ValueError("the mean-field predictions cover plain MLPs (no batch norm, layer norm or residual)")
    acts = _hidden_activations(config)
    lv = layer_variances(config, n_in, n_out)
    sw = [x.sigma_w2 for x in lv] if sigma_w2 is None else float(sigma_w2)
    if sigma_b2 is None:
        sb, mb = [x.sigma_b2 for x in lv], [x.bias_mean for x in lv]
    else:
        sb, mb = float(sigma_b2), 0.0
    widths = [int(n_in), *map(int, config.hidden), int(n_out)]
    return predict_layers(acts, widths, sw, sb, mb, q1=q1, input_m2=input_m2, n=n, tol=tol)


def predict_from_model(model, x: torch.Tensor | None = None, *, q1: float | None = None, n: int = DEFAULT_NODES) -> pd.DataFrame:
    """Predictions for an actual :class:`~vanishing.model.MLP` from its *current* weights.

    Per Linear layer σ_w² = fan_in · mean(W²), σ_b² = variance of the bias
    entries over units, μ_b = their mean (the empirical versions of the init
    moments). q₁ from ``x`` (input second moment) or ``q1``, else the fixed point.
    """
    linears = model.named_linears()
    sw, sb, mb = [], [], []
    for _, lin in linears:
        w = lin.weight.detach().to(torch.float64)
        sw.append(float(w.shape[1] * w.square().mean()))
        if lin.bias is None:
            sb.append(0.0)
            mb.append(0.0)
        else:
            b = lin.bias.detach().to(torch.float64)
            sb.append(float(b.var(unbiased=False)))
            mb.append(float(b.mean()))
    acts = [layer.act.activation.spec for layer in model.hidden_layers]
    widths = [linears[0][1].in_features] + [lin.out_features for _, lin in linears]
    m2 = None if x is None else input_second_moment(x)
    return predict_layers(acts, widths, sw, sb, mb, q1=q1, input_m2=m2, n=n)


# --------------------------------------------------------------------------- reference values

REFERENCE_CASES: tuple[tuple[str, float, str], ...] = (
    ("sigmoid", 1.0 / 3.0, "torch default init"),
    ("sigmoid", 1.0, "Xavier"),
    ("sigmoid", 2.0, "σ_w² = 2"),
    ("tanh", 1.0 / 3.0, "torch default init"),
    ("tanh", 1.0, "Xavier"),
    ("relu", 2.0, "He"),
)


def reference_values(n: int = DEFAULT_NODES) -> pd.DataFrame:
    """The SPEC §7 reference table (σ_b = 0, at the fixed point): activation, σ_w², q*, χ₁, √χ₁, ξ, 6ξ, phase."""
    rows = []
    for act, sw2, label in REFERENCE_CASES:
        fp = fixed_point_summary(act, sw2, 0.0, n=n)
        rows.append({
            "activation": act, "init": label, "sigma_w2": sw2, "q_star": fp.q_star, "chi1": fp.chi1,
            "sqrt_chi1": fp.ratio, "depth_scale": fp.depth_scale, "trainable_depth": fp.trainable_depth,
            "phase": fp.phase,
        })
    return pd.DataFrame(rows)
