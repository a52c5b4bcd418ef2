"""The chain computation of the ``chain`` study: random single-neuron chains, their gradients and summaries."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..base import mean_se

ACTIVATIONS = ("sigmoid", "tanh", "relu")
PAPER_DEPTH = 10  # "if r equals, say, 10, the gradient updates fall up to 10⁻⁶"
LOG_TOLERANCE = 0.3  # decades: a factor of 2 counts as agreement for magnitudes spanning decades
EXACT = 1e-12  # relative slack for float64 equalities and bounds


def draw_chains(n: int, depth: int, *, w_mean: float = 1.0, w_std: float = 0.5, b_std: float = 0.0,
                seed: int = 0) -> dict[str, np.ndarray]:
    """n random chains of ``depth`` layers: w (n, depth) ~ N(w_mean, w_std²), b ~ N(0, b_std²), x ~ U(0, 1) (n,)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(w_mean, w_std, size=(n, depth))
    b = rng.normal(0.0, b_std, size=(n, depth)) if b_std > 0 else np.zeros((n, depth))
    x = rng.uniform(0.0, 1.0, size=n)
    return {"w": w, "b": b, "x": x}


def _phi(activation: str):
    """(f, f′, M = sup|f′|) as numpy functions, from the activation registry's float64 torch definitions."""
    import torch

    from ... import activations

    act = activations.get(activation)

    def f(z: np.ndarray) -> np.ndarray:
        return act.f(torch.from_numpy(np.ascontiguousarray(z, dtype=np.float64))).numpy()

    def df(z: np.ndarray) -> np.ndarray:
        return act.df(torch.from_numpy(np.ascontiguousarray(z, dtype=np.float64))).numpy()

    return f, df, float(act.max_abs_df)


def chain_gradients(w: np.ndarray, b: np.ndarray, x: np.ndarray, activation: str = "sigmoid") -> dict[str, np.ndarray]:
    """Forward and backward through many single-neuron chains at once (float64).

    ``w``, ``b``: (n, r); ``x``: (n,). Returns ``z``, ``y``, ``dphi`` (n, r)
    for layers k = 1 … r (column k − 1), and ``dJ_dy`` (n, r + 1) with column
    k = ∂J/∂y_k for k = 0 … r (y_0 = x, ∂J/∂y_r = 1), from
    ∂J/∂y_{k−1} = w_k φ′(z_k) ∂J/∂y_k. ``bound`` (n, r + 1): the chain bound
    M^{r−k} Π_{j=k+1..r} |w_j| on |∂J/∂y_k| (M = sup|φ′|); ``plain`` (r + 1,):
    M^{r−k} alone (the article's (¼)ᵗ for the sigmoid, t = r − k layers back).
    """
    w = np.asarray(w, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if w.ndim != 2 or w.shape != b.shape or x.shape != (w.shape[0],) or w.shape[1] < 1:
        raise ValueError("w and b must be (n, r) with r >= 1 and x (n,)")
    f, df, m = _phi(activation)
    n, r = w.shape
    z = np.empty((n, r))
    y = np.empty((n, r))
    prev = x
    for k in range(r):
        z[:, k] = w[:, k] * prev + b[:, k]
        y[:, k] = f(z[:, k])
        prev = y[:, k]
    dphi = df(z)
    g = np.empty((n, r + 1))
    g[:, r] = 1.0
    for k in range(r, 0, -1):  # ∂J/∂y_{k−1} = w_k φ′(z_k) ∂J/∂y_k (layer k is column k − 1)
        g[:, k - 1] = w[:, k - 1] * dphi[:, k - 1] * g[:, k]
    aw = np.abs(w)
    bound = np.empty((n, r + 1))
    bound[:, r] = 1.0
    for k in range(r, 0, -1):
        bound[:, k - 1] = m * aw[:, k - 1] * bound[:, k]
    plain = m ** (r - np.arange(r + 1, dtype=np.float64))
    return {"z": z, "y": y, "dphi": dphi, "dJ_dy": g, "bound": bound, "plain": plain, "max_df": m}


def step_factors(result: Mapping) -> np.ndarray:
    """Per-layer factors |∂J/∂y_{k−1}| / |∂J/∂y_k| = |w_k φ′(z_k)| (n, r), computed from the products."""
    g = np.abs(result["dJ_dy"])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(g[:, 1:] > 0, g[:, :-1] / g[:, 1:], np.nan)


def back_profile(result: Mapping) -> pd.DataFrame:
    """Per layers-back t = 0 … r: mean ± s.e. over chains of log10|∂J/∂y_{r−t}| (non-zero ones) and the bounds.

    Columns ``t``, ``n`` (chains with a non-zero gradient), ``zero`` (fraction
    of chains where it is exactly 0), ``log_mean``, ``log_se``, ``bound_log_mean``
    (mean log10 of Mᵗ Π|w| over the same non-zero chains), ``plain_log`` (log10 Mᵗ), ``below_bound`` and
    ``below_plain`` (fractions of all chains with |∂J/∂y| ≤ the bound / Mᵗ).
    """
    g = np.abs(result["dJ_dy"])
    bound, plain = result["bound"], result["plain"]
    r = g.shape[1] - 1
    rows = []
    for t in range(r + 1):
        k = r - t
        col = g[:, k]
        nz = col > 0
        logs = np.log10(col[nz])
        mean, se, _ = mean_se(logs)
        rows.append({
            "t": t, "n": int(nz.sum()), "zero": float(1 - nz.mean()), "log_mean": mean, "log_se": se,
            "bound_log_mean": float(np.log10(bound[nz, k]).mean()) if nz.any() else math.nan,
            "plain_log": float(np.log10(plain[k])),
            "below_bound": float((col <= bound[:, k] * (1 + EXACT)).mean()),
            "below_plain": float((col <= plain[k] * (1 + EXACT)).mean()),
        })
    return pd.DataFrame(rows)


def alive_fraction(result: Mapping) -> np.ndarray:
    """Fraction of chains whose first r′ units are all active (φ′(z_k) > 0 for k ≤ r′), r′ = 1 … r."""
    active = result["dphi"] > 0
    return np.cumprod(active, axis=1).mean(axis=0)


def tuned_chain(depth: int, w_value: float, x: float = 0.5) -> float:
    """|∂J/∂y_0| of a sigmoid chain with w_k = w_value and b_k = −w_value·y_{k−1} (every z_k = 0)."""
    from ...theory import scalar_chain

    w, b, y = [], [], x
    for _ in range(depth):
        w.append(w_value)
        b.append(-w_value * y)
        y = 0.5  # σ(0)
    return abs(scalar_chain(w, b, x, activation="sigmoid").attrs["dC_dx"])
