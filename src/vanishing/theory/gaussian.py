"""Gaussian expectations E[h(a)], a ~ N(μ, v), by Gauss–Hermite quadrature (even node count).

The mean-field recursions (:mod:`vanishing.theory.meanfield`) need, for each
layer's activation φ and pre-activation distribution a ~ N(μ, v),

    E[φ(a)²]  and  E[φ′(a)²],     a = μ + √v · z,  z ~ N(0, 1).

**Rule.** Probabilists' Gauss–Hermite quadrature (weight e^{−z²/2}; nodes x_i
and weights w_i from :func:`numpy.polynomial.hermite_e.hermegauss`, the weights
normalised to sum to 1):

    E[h(μ + √v z)] ≈ Σ_i w_i · h(μ + √v · x_i).

It is exact for polynomials of degree ≤ 2n − 1 and converges spectrally for
smooth h at moderate √v (see the accuracy table in ``docs/theory.md``).

**Why an even number of nodes.** The nodes are symmetric about 0 and, for odd
n, the middle node is *exactly* z = 0 with a large weight (≈ 0.22 for n = 31).
A rectifier's derivative jumps at a = 0; with μ = 0 the node z = 0 lands on the
kink, and the rule then weighs the conventional value f′(0) (0 for relu, as
torch) by that large weight: E[relu′(√v z)²] comes out ½ − w_mid/2 instead of
½. With an even n no node sits at 0, and because the nodes are symmetric, the
rule integrates h(z) through its even part ½(h(z) + h(−z)): for relu that is
v·z²/2 for relu² and ½ for relu′² — polynomials, integrated *exactly*. The
odd count is refused unless ``allow_odd=True`` (for demonstrations and tests).

**Closed forms** (exact, used when ``method="auto"``): for the sloped
rectifiers f(a) = a for a > 0, α·a for a ≤ 0 — relu (α = 0), leaky_relu,
prelu (initial slope), rrelu (mean slope) — and linear (α = 1), with
s = √v, t = μ/s, Φ/ϕ the standard normal cdf/pdf:

    E[f²]  = (μ² + v)·Φ(t) + μ s ϕ(t) + α²·[(μ² + v)·Φ(−t) − μ s ϕ(t)]
    E[f′²] = Φ(t) + α²·Φ(−t)

so for relu with μ = 0: E[relu(√v z)²] = v/2 and E[relu′(√v z)²] = ½.

**Other kinked activations** (elu, selu: f′ or f″ jumps at 0; relu6: at 0
and 6; hardtanh: at ±1; hardswish: at ±3). Gauss–Hermite fits one polynomial
through the whole line, so a jump in f′ (a step in f′²) makes it converge only
algebraically: with 200 nodes E[hardtanh′²] is 10% off at v = 1, E[elu′²]
0.3%. For these ``method="auto"`` uses a *piecewise* rule instead: composite
Gauss–Legendre in z on [−12, 12] (outside: mass < 10⁻³²), split at the kinks
z = (c − μ)/√v, 64 panels × 16 nodes per piece — spectrally accurate on each
smooth piece (≤ 1e-11 in the tests). ``method="quadrature"`` forces
Gauss–Hermite, ``method="piecewise"`` the piecewise rule.

**v = 0** is evaluated as the limit v → 0⁺ (a kink at μ then contributes the
average of its one-sided values, e.g. E[relu′²] = ½ at v = 0, μ = 0).

Accuracy of Gauss–Hermite, 200 nodes, μ = 0, relative to the piecewise rule
(E[φ²] / E[φ′²]): sigmoid, gelu, silu, softplus, mish ≤ 1e-10 for v ≤ 4,
≤ 1e-8 at v = 10 (mish′²: 3e-7); tanh ≤ 1e-14 at v = 1, 2e-8 / 1e-6 at v = 4,
2e-5 / 1e-3 at v = 10. At v = 100, φ′ is a spike of width 1/√v in z and the
errors of E[φ′²] reach 4e-4 (softplus) … 0.6 (tanh): use
``method="piecewise"`` there. The mean-field regime of interest (v ≲ 4:
sigmoid, tanh, ReLU at the usual inits and MNIST inputs) is accurate to ≤ 1e-6.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import torch
from numpy.polynomial.hermite_e import hermegauss

from .. import activations

DEFAULT_NODES = 200  # even; hermegauss is stable up to ~300 nodes
MIN_SCALE = 1e-150  # √v floor: v = 0 is taken as the limit v → 0⁺

# slope of the negative side for the entries with a closed form (None: no closed form)
_SLOPED = {"relu", "leaky_relu", "prelu", "rrelu", "linear"}


@lru_cache(maxsize=32)
def _rule(n: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = hermegauss(n)
    return x, w / w.sum()


def gauss_hermite_rule(n: int = DEFAULT_NODES, *, allow_odd: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Nodes x_i and weights w_i (Σ w_i = 1) with E[h(z)] ≈ Σ w_i h(x_i), z ~ N(0, 1).

    ``n`` must be even (see the module docstring) unless ``allow_odd``; an odd
    rule has its middle node at exactly 0.
    """
    n = int(n)
    if n < 2:
        raise ValueError(f"need at least 2 quadrature nodes, got {n}")
    if n % 2 and not allow_odd:
        raise ValueError(
            f"use an even number of Gauss–Hermite nodes (got {n}): an odd rule puts a node at z = 0, "
            "on the kink of relu-type activations"
        )
    if n > 300:
        raise ValueError(f"at most 300 Gauss–Hermite nodes (hermegauss overflows beyond), got {n}")
    x, w = _rule(n)
    return x.copy(), w.copy()


def gaussian_expectation(
    h: Callable[[torch.Tensor], torch.Tensor],
    v: float | np.ndarray,
    mu: float = 0.0,
    *,
    n: int = DEFAULT_NODES,
    allow_odd: bool = False,
) -> np.ndarray:
    """E[h(μ + √v z)], z ~ N(0, 1), by Gauss–Hermite quadrature; vectorised over ``v``.

    ``h`` maps a float64 torch tensor elementwise (e.g. ``act.f`` or
    ``lambda a: act.df(a) ** 2``). Returns an array of the shape of ``v``
    (a 0-d array for a scalar).
    """
    x, w = gauss_hermite_rule(n, allow_odd=allow_odd)
    v = np.asarray(v, dtype=np.float64)
    if np.any(v < 0) or not np.all(np.isfinite(v)):
        raise ValueError("the variance v must be finite and >= 0")
    s = np.maximum(np.sqrt(v), MIN_SCALE)
    a = float(mu) + s[..., None] * x
    vals = h(torch.from_numpy(a)).detach().cpu().to(torch.float64).numpy()
    return (vals * w).sum(axis=-1)


def _phi(t: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * t * t) / math.sqrt(2.0 * math.pi)


def _Phi(t: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.vectorize(math.erf, otypes=[float])(t / math.sqrt(2.0)))


def negative_slope(activation: str | activations.Activation) -> float | None:
    """α with f(a) = a (a > 0), α·a (a ≤ 0) for relu, leaky_relu, prelu, rrelu, linear; else None."""
    act = activations.get(activation)
    if act.name == "relu":
        return 0.0
    if act.name == "linear":
        return 1.0
    if act.name in _SLOPED:
        return float(act.slope)  # type: ignore[attr-defined]
    return None


def has_closed_form(activation: str | activations.Activation) -> bool:
    """True for the entries :func:`second_moments` evaluates in closed form."""
    return negative_slope(activation) is not None


def _closed_form(alpha: float, v: np.ndarray, mu: float) -> tuple[np.ndarray, np.ndarray]:
    s = np.sqrt(v)
    # t = μ/s; at s = 0 its limit: ±∞ for μ ≠ 0, and 0 for μ = 0 (the v → 0⁺ limit at the kink)
    t = np.where(s > 0, mu / np.where(s > 0, s, 1.0), np.inf * np.sign(mu) if mu != 0 else 0.0)
    m2 = mu * mu + v
    pos, neg = _Phi(t), _Phi(-t)
    ms = mu * s * np.where(np.isfinite(t), _phi(np.where(np.isfinite(t), t, 0.0)), 0.0)
    e_f2 = m2 * pos + ms + alpha * alpha * (m2 * neg - ms)
    e_df2 = pos + alpha * alpha * neg
    return e_f2, e_df2


# kinks (points where f′ or f″ jumps) of the entries the piecewise rule handles by default
KINKS: dict[str, tuple[float, ...]] = {
    "elu": (0.0,),
    "selu": (0.0,),
    "relu6": (0.0, 6.0),
    "hardtanh": (-1.0, 1.0),
    "hardswish": (-3.0, 3.0),
    "relu": (0.0,),
    "leaky_relu": (0.0,),
    "prelu": (0.0,),
    "rrelu": (0.0,),
}
PIECEWISE_SPAN = 12.0  # |z| range of the piecewise rule
PIECEWISE_PANELS = 64  # panels per piece
PIECEWISE_ORDER = 16  # Gauss–Legendre nodes per panel


@lru_cache(maxsize=4)
def _legendre(order: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(order)


def piecewise_expectation(
    h: Callable[[torch.Tensor], torch.Tensor],
    v: float | np.ndarray,
    mu: float = 0.0,
    kinks: tuple[float, ...] = (),
    *,
    panels: int = PIECEWISE_PANELS,
    order: int = PIECEWISE_ORDER,
    span: float = PIECEWISE_SPAN,
) -> np.ndarray:
    """E[h(μ + √v z)] by composite Gauss–Legendre in z on [−span, span], split at the kinks c (z = (c − μ)/√v).

    For h that is smooth except at the points ``kinks`` (in a-space). No node
    lies on a split point, so each piece sees its one-sided values.
    Vectorised over ``v`` (a loop: the split points depend on v).
    """
    v = np.asarray(v, dtype=np.float64)
    if np.any(v < 0) or not np.all(np.isfinite(v)):
        raise ValueError("the variance v must be finite and >= 0")
    xg, wg = _legendre(order)
    out = np.empty(v.shape)
    flat_v, flat_out = v.reshape(-1), out.reshape(-1)
    for i, vi in enumerate(flat_v):
        s = max(math.sqrt(vi), MIN_SCALE)
        cuts = sorted({-span, span, *[(c - mu) / s for c in kinks if abs(c - mu) < span * s]})
        zs, ws = [], []
        for lo, hi in itertools.pairwise(cuts):
            edges = np.linspace(lo, hi, panels + 1)
            mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
            zs.append((mid[:, None] + half[:, None] * xg).ravel())
            ws.append((half[:, None] * wg).ravel())
        z, w = np.concatenate(zs), np.concatenate(ws)
        w = w * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
        vals = h(torch.from_numpy(mu + s * z)).detach().cpu().to(torch.float64).numpy()
        flat_out[i] = float((vals * w).sum())
    return out


def second_moments(
    activation: str | activations.Activation,
    v: float | np.ndarray,
    mu: float = 0.0,
    *,
    n: int = DEFAULT_NODES,
    method: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """(E[φ(a)²], E[φ′(a)²]) for a ~ N(μ, v): the two integrals of the q-map and of χ.

    ``method``: ``"auto"`` (closed form for the relu family and linear; the
    piecewise rule for the other kinked entries, :data:`KINKS`; Gauss–Hermite
    with ``n`` nodes for the smooth ones), ``"closed"`` (closed form or
    ValueError), ``"quadrature"`` (Gauss–Hermite, n even), ``"piecewise"``.
    Vectorised over ``v``.
    """
    act = activations.get(activation)
    v = np.asarray(v, dtype=np.float64)
    alpha = negative_slope(act)
    if method not in ("auto", "closed", "quadrature", "piecewise"):
        raise ValueError(f"method must be auto, closed, quadrature or piecewise, got {method!r}")
    if method == "closed" and alpha is None:
        raise ValueError(f"no closed form for {act.spec}")
    if np.any(v < 0) or not np.all(np.isfinite(v)):
        raise ValueError("the variance v must be finite and >= 0")
    if alpha is not None and method in ("auto", "closed"):
        return _closed_form(alpha, v, float(mu))
    if method == "piecewise" or (method == "auto" and act.name in KINKS):
        kinks = KINKS.get(act.name, ())
        e_f2 = piecewise_expectation(lambda a: act.f(a) ** 2, v, mu, kinks)
        e_df2 = piecewise_expectation(lambda a: act.df(a) ** 2, v, mu, kinks)
        return e_f2, e_df2
    e_f2 = gaussian_expectation(lambda a: act.f(a) ** 2, v, mu, n=n)
    e_df2 = gaussian_expectation(lambda a: act.df(a) ** 2, v, mu, n=n)
    return e_f2, e_df2
