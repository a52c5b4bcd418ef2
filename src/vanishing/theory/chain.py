"""Chain-rule bounds on the backpropagated gradient, evaluated on actual weights.

**Scalar chain** (the seed 003 article, "Why ReLU works so well" — after Bengio
2012 and Nielsen's chapter 5; also Glorot & Bengio 2010). A chain of r
single-neuron layers z_k = w_k·y_{k−1} + b_k, y_k = σ(z_k), y_0 = x, with a
cost C(y_r). The chain rule gives

    ∂C/∂b_k = σ′(z_k) · Π_{j=k+1..r} w_j σ′(z_j) · ∂C/∂y_r,
    ∂C/∂y_{t} = w_{t+1} σ′(z_{t+1}) · ∂C/∂y_{t+1},

and since σ′ ≤ ¼ (max |f′| of the activation in general, M = ``max_abs_df``
of the registry):

    |∂C/∂b₁| ≤ (¼)^r · Π_{k=2..r} |w_k| · |∂C/∂y_r|,
    |∂C/∂y_t| ≤ ¼ |w_{t+1}| · |∂C/∂y_{t+1}|.

Notation: SPEC §7 writes the first bound with ∂C/∂a_r where a_r is the
*output* σ(z_r) of the last neuron (Nielsen's a = σ(z)); here that is y_r.
In terms of the pre-activation gradient δ_r = ∂C/∂z_r the same bound reads
|∂C/∂b₁| ≤ (¼)^{r−1} Π_{k=2..r}|w_k| |δ_r|. The bound is attained when every
z_k = 0 (σ′ = ¼) — e.g. b_k = −w_k·y_{k−1} — whatever the signs of the w_k.
With weights of mean 1 (the article's setting) the gradient shrinks by ≈ ¼
per layer: ≈ 10⁻⁶ after r = 10.

**Layer version** (an MLP with hidden layers a_l = W_l y_{l−1} + b_l,
y_l = φ_l(a_l)): δ_l = ∂E/∂a_l = φ_l′(a_l) ⊙ W_{l+1}ᵀ δ_{l+1}, so
‖δ_l‖ ≤ M_l ‖W_{l+1}‖₂ ‖δ_{l+1}‖ and, for a reference layer R > l,

    ‖δ_l‖ ≤ Π_{k=l..R−1} M_k ‖W_{k+1}‖₂ · ‖δ_R‖     (sigmoid: (¼)^{R−l} Π_{k=l+1..R} ‖W_k‖₂ ‖δ_R‖)

with ‖·‖₂ the spectral norm of the actual weight matrix and M_k = sup|φ_k′|
(¼ sigmoid, 1 tanh/relu; a PReLU module uses its learned slope). R = L (the
last hidden layer) is SPEC §7's ‖δ_l‖ ≤ (¼)^{L−l} Π ‖W_k‖₂ ‖δ_L‖; R = L + 1
(the output δ = ∂E/∂z) adds the factor M_L ‖W_out‖₂. The bound holds for every
example separately (and for any linear combination of examples). It is loose
by design: it needs φ′ = M on every unit *and* δ aligned with the top singular
vector of every W — for random Gaussian W of width n, ‖W‖₂ ≈ 2√(σ_w²)
while the typical gain is √(σ_w²) (compare with the mean-field χ).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from .. import activations
from .measure import LossArg, per_example_deltas

# --------------------------------------------------------------------------- scalar chain


def _as64(v) -> torch.Tensor:
    return torch.as_tensor(np.asarray(v, dtype=np.float64))


def scalar_chain(w: Sequence[float], b: Sequence[float], x: float, *, activation: str = "sigmoid", dC_dy: float = 1.0) -> pd.DataFrame:
    """Forward and backward through a chain of single-neuron layers, by the chain-rule products (float64).

    Rows k = 1 … r with columns ``k``, ``w``, ``b``, ``z`` (= w_k y_{k−1} + b_k),
    ``y`` (= φ(z_k)), ``dphi`` (φ′(z_k)), ``dC_dy`` (∂C/∂y_k), ``dC_db``
    (= ∂C/∂z_k = ∂C/∂b_k), and ``bound_db`` = M^{r−k+1} Π_{j=k+1..r} |w_j| ·
    |∂C/∂y_r| (the chain bound, :func:`scalar_chain_bound`). ``dC_dy`` is the
    given ∂C/∂y_r at the top. ``attrs["dC_dx"]`` is ∂C/∂y_0.
    """
    act = activations.get(activation)
    w64, b64 = _as64(w), _as64(b)
    if w64.shape != b64.shape or w64.dim() != 1 or len(w64) == 0:
        raise ValueError("w and b must be 1-d sequences of the same length r >= 1")
    r = len(w64)
    z = torch.empty(r, dtype=torch.float64)
    y = torch.empty(r, dtype=torch.float64)
    prev = torch.tensor(float(x), dtype=torch.float64)
    for k in range(r):
        z[k] = w64[k] * prev + b64[k]
        y[k] = act.f(z[k])
        prev = y[k]
    dphi = act.df(z)
    g_y = torch.empty(r, dtype=torch.float64)
    g_z = torch.empty(r, dtype=torch.float64)
    g = torch.tensor(float(dC_dy), dtype=torch.float64)
    for k in range(r - 1, -1, -1):
        g_y[k] = g
        g_z[k] = dphi[k] * g
        g = w64[k] * g_z[k]
    df = pd.DataFrame({
        "k": np.arange(1, r + 1), "w": w64.numpy(), "b": b64.numpy(), "z": z.numpy(), "y": y.numpy(),
        "dphi": dphi.numpy(), "dC_dy": g_y.numpy(), "dC_db": g_z.numpy(),
        "bound_db": scalar_chain_bound(w64.numpy(), dC_dy=dC_dy, activation=activation),
    })
    df.attrs["dC_dx"] = float(g)
    return df


def scalar_chain_bound(w: Sequence[float], *, dC_dy: float = 1.0, activation: str = "sigmoid") -> np.ndarray:
    """Bounds on |∂C/∂b_k|, k = 1 … r: M^{r−k+1} · Π_{j=k+1..r} |w_j| · |∂C/∂y_r| (M = ¼ for sigmoid).

    Entry 0 is the SPEC §7 / seed 003 bound |∂C/∂b₁| ≤ (¼)^r Π_{k=2..r} |w_k| |∂C/∂y_r|.
    """
    m = activations.get(activation).max_abs_df
    aw = np.abs(np.asarray(w, dtype=np.float64))
    r = len(aw)
    out = np.empty(r)
    prod = abs(float(dC_dy))
    for k in range(r - 1, -1, -1):  # 0-based k ↔ layer k+1
        out[k] = m ** (r - k) * prod
        prod *= aw[k]
    return out


# --------------------------------------------------------------------------- layer version


def _max_df(layer) -> float:
    """sup |φ′| of a hidden layer's activation module (a PReLU module: max(1, |learned slope|))."""
    act = layer.act
    weight = getattr(act, "weight", None)
    if weight is not None:  # PReLU
        return max(1.0, float(weight.detach().abs().max()))
    return float(act.activation.max_abs_df)


def spectral_norm(w: torch.Tensor) -> float:
    """‖W‖₂, the largest singular value (float64)."""
    return float(torch.linalg.matrix_norm(w.detach().to(torch.float64), ord=2))


def layer_bound_factors(
    weights: Sequence[torch.Tensor],
    max_df: Sequence[float],
    *,
    reference: str = "last_hidden",
    names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per hidden layer l, the factor B_l with ‖δ_l‖ ≤ B_l ‖δ_R‖ (chain bound on actual weights).

    ``weights``: [W_1, …, W_L, W_out] (W_k of shape n_k × n_{k−1}, the output
    layer last); ``max_df``: [M_1, …, M_L] (sup |φ_l′|). ``reference``:
    ``"last_hidden"`` (R = L, SPEC §7's form) or ``"output"`` (R = L + 1, δ at
    the output pre-activation). B_l = Π_{k=l..R−1} M_k ‖W_{k+1}‖₂.
    Columns: ``layer``, ``name``, ``max_df`` M_l, ``spec_norm_next``
    ‖W_{l+1}‖₂, ``step`` = M_l ‖W_{l+1}‖₂, ``factor`` B_l.
    """
    L = len(max_df)
    if len(weights) != L + 1:
        raise ValueError(f"need L + 1 = {L + 1} weight matrices (hidden layers, then output), got {len(weights)}")
    if reference not in ("last_hidden", "output"):
        raise ValueError(f"reference must be 'last_hidden' or 'output', got {reference!r}")
    norms = [spectral_norm(w) for w in weights]
    steps = [float(max_df[l]) * norms[l + 1] for l in range(L)]  # ‖δ_l‖ ≤ steps[l] ‖δ_{l+1}‖
    top = L if reference == "output" else L - 1  # steps[l..top-1] multiply
    factors = []
    for l in range(L):
        factors.append(math.prod(steps[l:top]) if l < top else 1.0)
    return pd.DataFrame({
        "layer": np.arange(1, L + 1),
        "name": list(names) if names is not None else [f"hidden{i}" for i in range(1, L + 1)],
        "max_df": [float(m) for m in max_df],
        "spec_norm_next": norms[1:],
        "step": steps,
        "factor": factors,
    })


def model_bound_factors(model, *, reference: str = "last_hidden") -> pd.DataFrame:
    """:func:`layer_bound_factors` for a :class:`~vanishing.model.MLP` (plain: no norm layers, no residual)."""
    for layer in model.hidden_layers:
        if layer.norm is not None or layer.layer_norm is not None or layer.residual:
            raise ValueError("the chain bound covers plain MLPs (no batch/layer norm, no residual connections)")
    weights = [lin.weight for _, lin in model.named_linears()]
    return layer_bound_factors(weights, [_max_df(l) for l in model.hidden_layers], reference=reference,
                               names=model.layer_names)


def check_layer_bound(model, x: torch.Tensor, y: torch.Tensor, loss: LossArg = "ce", *, reference: str = "last_hidden") -> pd.DataFrame:
    """The layer bound against measured per-example δ (autograd, eval mode).

    Adds to :func:`model_bound_factors` the columns ``max_ratio`` = max over
    examples of ‖δ_{l,n}‖/‖δ_{R,n}‖, ``rms_ratio`` = RMS‖δ_l‖/RMS‖δ_R‖,
    ``tightness`` = max_ratio/factor (≤ 1 when the bound holds; 1 = tight)
    and ``holds``. Use a float64 model and x for exact comparisons.
    """
    table = model_bound_factors(model, reference=reference)
    deltas = per_example_deltas(model, x, y, loss, include_output=(reference == "output"))
    ref = deltas[-1]
    ref_norm = ref.reshape(len(ref), -1).norm(dim=1)
    max_ratio, rms_ratio = [], []
    for d in deltas[: len(table)]:
        nrm = d.reshape(len(d), -1).norm(dim=1)
        ok = ref_norm > 0
        max_ratio.append(float((nrm[ok] / ref_norm[ok]).max()) if ok.any() else math.nan)
        rms_ratio.append(float(nrm.square().mean().sqrt() / ref_norm.square().mean().sqrt()))
    table["max_ratio"] = max_ratio
    table["rms_ratio"] = rms_ratio
    table["tightness"] = table["max_ratio"] / table["factor"]
    slack = 1e-12 if ref.dtype == torch.float64 else 1e-5
    table["holds"] = table["tightness"] <= 1.0 + slack
    return table
