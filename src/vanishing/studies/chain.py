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

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .base import Study, StudyContext, mean_se

ACTIVATIONS = ("sigmoid", "tanh", "relu")
PAPER_DEPTH = 10  # "if r equals, say, 10, the gradient updates fall up to 10⁻⁶"
LOG_TOLERANCE = 0.3  # decades: a factor of 2 counts as agreement for magnitudes spanning decades
EXACT = 1e-12  # relative slack for float64 equalities and bounds


# --------------------------------------------------------------------------- the computation


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

    from .. import activations

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


# --------------------------------------------------------------------------- figures


def _geo_band(ax, t, prof, color, label):
    m, se = prof["log_mean"].to_numpy(float), prof["log_se"].fillna(0).to_numpy(float)
    ax.plot(t, 10 ** m, color=color, marker="o", ms=2.5, label=label)
    ax.fill_between(t, 10 ** (m - se), 10 ** (m + se), color=color, alpha=0.25, linewidth=0, label="_band")


def figure_gradients(profiles: Mapping[str, pd.DataFrame], params: Mapping):
    """∂J/∂y per layer back from the output vs the chain bound and Mᵗ alone, one panel per activation."""
    from ..report.figures import STYLE, TAB10, new_figure
    import matplotlib

    with matplotlib.rc_context(STYLE):
        fig, axes = new_figure(1, len(profiles), panel=(3.6, 3.1))
        for ax, (act, prof) in zip(axes[0], profiles.items()):
            t = prof["t"].to_numpy(float)
            _geo_band(ax, t, prof, TAB10[0], "measured |∂J/∂y| (geometric mean ± s.e.)")
            ax.plot(t, 10 ** prof["bound_log_mean"], color=TAB10[3], ls="--", label="chain bound Mᵗ·Π|w| (geo. mean)")
            m_label = "(¼)ᵗ (the article)" if act == "sigmoid" else "Mᵗ = 1"
            ax.plot(t, 10 ** prof["plain_log"], color="0.2", ls=":", label=m_label)
            if act == "sigmoid" and len(t) > PAPER_DEPTH:
                ax.plot([PAPER_DEPTH], [0.25 ** PAPER_DEPTH], "k*", ms=9, label="the article's 10⁻⁶ at r = 10")
            ax.set_yscale("log")
            ax.set_xlabel("layers back from the output, t")
            title = act
            if act == "relu":
                title += f" (chains with a non-zero gradient: {100 * prof['n'].iloc[-1] / max(1, params['seeds']):.0f}% at t = {int(t[-1])})"
            ax.set_title(title, fontsize=8)
            ax.legend(loc="lower left", fontsize=6.5)
        axes[0][0].set_ylabel("|∂J/∂y| (∂J/∂y = 1 at the top)")
        fig.suptitle(f"{params['seeds']} chains, w ~ N({params['w_mean']:g}, {params['w_std']:g}²), "
                     f"b ~ N(0, {params['b_std']:g}²), x ~ U(0, 1)", fontsize=9)
    return fig


def figure_step_factors(results: Mapping[str, Mapping], limit: int = 4000, seed: int = 0):
    """Per-layer factor |w_k φ′(z_k)| against |w_k| with the bound M·|w| (a random subsample of steps)."""
    from ..report.figures import STYLE, TAB10, new_figure
    import matplotlib

    rng = np.random.default_rng(seed)
    with matplotlib.rc_context(STYLE):
        fig, axes = new_figure(1, len(results), panel=(3.2, 3.0))
        for ax, (act, res) in zip(axes[0], results.items()):
            aw = np.abs(res["w_used"]).ravel()
            fac = np.abs(res["w_used"] * res["dphi"]).ravel()
            pick = rng.choice(aw.size, size=min(limit, aw.size), replace=False)
            ax.scatter(aw[pick], fac[pick], s=3, color=TAB10[0], alpha=0.35, linewidths=0, label="measured steps")
            grid = np.linspace(0, aw.max(), 50)
            ax.plot(grid, res["max_df"] * grid, color=TAB10[3], ls="--", label=f"bound {res['max_df']:g}·|w|")
            ax.axhline(1.0, color="0.4", lw=0.7, ls=":", label="factor 1")
            ax.set_xlabel("|w_k|")
            ax.set_title(act, fontsize=8)
            ax.legend(loc="upper left", fontsize=6.5)
        axes[0][0].set_ylabel("layer factor |∂J/∂y(k−1)| / |∂J/∂y(k)| = |w_k·φ′(z_k)|")
    return fig


def figure_spreads(spread_rows: pd.DataFrame):
    """Fraction of sigmoid chains with |∂J/∂y| ≤ (¼)ᵗ, and the geometric-mean gradient, per weight spread."""
    from ..report.figures import STYLE, group_colors, new_figure
    import matplotlib

    with matplotlib.rc_context(STYLE):
        fig, axes = new_figure(1, 2, panel=(3.8, 3.1))
        spreads = sorted(spread_rows["w_std"].unique())
        for color, s in zip(group_colors(len(spreads)), spreads):
            p = spread_rows[spread_rows["w_std"] == s]
            axes[0][0].plot(p["t"], 100 * p["below_plain"], color=color, marker="o", ms=2.5, label=f"w_std = {s:g}")
            axes[0][1].plot(p["t"], 10 ** p["log_mean"], color=color, marker="o", ms=2.5, label=f"w_std = {s:g}")
        t = np.sort(spread_rows["t"].unique())
        axes[0][1].plot(t, 0.25 ** t, "k:", label="(¼)ᵗ")
        axes[0][1].set_yscale("log")
        axes[0][0].set_ylabel("chains with |∂J/∂y| ≤ (¼)ᵗ (%)")
        axes[0][1].set_ylabel("geometric mean |∂J/∂y|")
        for ax in axes[0]:
            ax.set_xlabel("layers back from the output, t")
            ax.legend(loc="best", fontsize=7)
        axes[0][0].set_title("the chain bound (¼)ᵗ·Π|w| holds for 100% at every spread", fontsize=8)
    return fig


def figure_relu_alive(alive: np.ndarray, p_pos: float | None):
    """Fraction of ReLU chains whose first r′ units are all active, measured vs P(w > 0)ʳ′."""
    from ..report.figures import STYLE, TAB10, new_figure
    import matplotlib

    with matplotlib.rc_context(STYLE):
        fig, axes = new_figure(1, 1, panel=(4.4, 3.1))
        ax = axes[0][0]
        r = np.arange(1, len(alive) + 1)
        ax.plot(r, 100 * alive, color=TAB10[0], marker="o", ms=3, label="measured")
        if p_pos is not None:
            ax.plot(r, 100 * p_pos ** r, "k--", label=f"P(w > 0)ʳ = {p_pos:.4f}ʳ (b = 0, x > 0)")
        ax.set_xlabel("chain length r")
        ax.set_ylabel("ReLU chains with every unit active (%)")
        ax.set_title("one negative weight kills the unit and every unit above it", fontsize=8)
        ax.legend(loc="best")
    return fig


# --------------------------------------------------------------------------- the study


def _tuned_chain(depth: int, w_value: float, x: float = 0.5) -> float:
    """|∂J/∂y_0| of a sigmoid chain with w_k = w_value and b_k = −w_value·y_{k−1} (every z_k = 0)."""
    from ..theory import scalar_chain

    w, b, y = [], [], x
    for _ in range(depth):
        w.append(w_value)
        b.append(-w_value * y)
        y = 0.5  # σ(0)
    return abs(scalar_chain(w, b, x, activation="sigmoid").attrs["dC_dx"])


def _numeric(ctx: StudyContext, claim: str, paper: float, values, *, tolerance: float, unit: str,
             direction_holds: bool | None = None, note: str = "") -> dict:
    """A numeric claim with an explicit minimum tolerance in the claim's own unit (decades, a derivative)."""
    from ..report.tables import numeric_verdict

    mean, se, n = mean_se(values)
    verdict, reason = numeric_verdict(paper, mean, se, tolerance=tolerance, direction_holds=direction_holds, unit=unit)
    row = {"claim": claim, "paper": paper, "measured": (mean, se, n), "verdict": verdict,
           "reason": reason + (f"; {note}" if note else ""), "unit": unit}
    ctx.claims.append(row)
    return row


def _pct(mask: np.ndarray) -> np.ndarray:
    return 100.0 * np.asarray(mask, dtype=float)


def run(ctx: StudyContext) -> None:
    from ..report import figures

    p = ctx.params
    n, depth = int(p["seeds"]), int(p["depth"])
    if n < 2 or depth < 1:
        raise ValueError(f"chain: need at least 2 chains (--seeds) and depth >= 1, got {n} and {depth}")
    chains = draw_chains(n, depth, w_mean=p["w_mean"], w_std=p["w_std"], b_std=p["b_std"], seed=p.get("chain_seed", 0))
    ctx.log(f"[chain] {n} chains × {depth} layers, w ~ N({p['w_mean']}, {p['w_std']}²), b ~ N(0, {p['b_std']}²), "
            "x ~ U(0, 1)")
    results, profiles = {}, {}
    for act in ACTIVATIONS:
        res = chain_gradients(chains["w"], chains["b"], chains["x"], act)
        res["w_used"] = chains["w"]
        results[act] = res
        profiles[act] = back_profile(res)
    sig, tanh, relu = results["sigmoid"], results["tanh"], results["relu"]
    r10 = min(PAPER_DEPTH, depth)

    # -- tables
    ctx.report.add_heading("∂J/∂y per layer against the chain bound and (¼)ᵗ")
    show = sorted({t for t in (1, 2, 5, 10, 20, 30, 50, depth) if t <= depth})
    rows = []
    for act, prof in profiles.items():
        for t in show:
            row = prof[prof["t"] == t].iloc[0]
            rows.append({"activation": act, "t (layers back)": t,
                         "log10 |∂J/∂y| (mean ± s.e.)": f"{row['log_mean']:.3f} ± {row['log_se']:.3f}",
                         "log10 bound Mᵗ·Π|w| (mean)": round(row["bound_log_mean"], 3),
                         "log10 Mᵗ": round(row["plain_log"], 3),
                         "≤ bound (%)": round(100 * row["below_bound"], 2),
                         "≤ Mᵗ (%)": round(100 * row["below_plain"], 2),
                         "exactly 0 (%)": round(100 * row["zero"], 2)})
    table = pd.DataFrame(rows)
    ctx.report.add_table(table, "Per activation and number of layers t back from the output (∂J/∂y = 1 at the top): "
                         "log10 of the measured gradient over the chains with a non-zero one (mean ± s.e.), the "
                         "chain bound and Mᵗ alone (M = ¼ sigmoid, 1 tanh and ReLU), and the share of all chains "
                         "at or below each.")
    ctx.log(table.to_string(index=False))
    ctx.figure(figure_gradients(profiles, p),
               "|∂J/∂y| at each layer, t layers below the output, for the same random chains with sigmoid, tanh "
               "and ReLU units: geometric mean over chains ± s.e. (band), the chain bound Mᵗ·Π|w_j| (dashed; "
               "geometric mean over chains) and Mᵗ alone (dotted: the article's (¼)ᵗ for the sigmoid). ReLU: "
               "chains whose gradient is exactly 0 (a dead unit) are left out of the mean.", "chain_gradients")
    ctx.figure(figure_step_factors(results),
               "Each layer's factor |∂J/∂y_{k−1}|/|∂J/∂y_k| = |w_k φ′(z_k)| against |w_k| (random subsample of "
               "layer steps) with the bound M·|w_k|: below ¼|w| for the sigmoid, |w| for tanh, and exactly |w| "
               "(active) or 0 (inactive) for ReLU.", "step_factors")
    ctx.figure(figures.activation_functions(["sigmoid", "tanh", "relu", "leaky_relu(alpha=0.1)"], columns=4),
               "The article's functions and their derivatives (registry definitions): σ′ peaks at ¼, tanh′ at 1; "
               "ReLU's derivative is 1 for a > 0 and 0 below; leaky ReLU keeps a slope α below 0.",
               "activation_derivatives")

    # -- claims: the derivative bounds
    grid = np.linspace(-10, 10, 200001)
    _, dsig, _ = _phi("sigmoid")
    _, dtanh, _ = _phi("tanh")
    _numeric(ctx, "the derivative of the sigmoid is at most 0.25 (at v = 0)", 0.25, [float(dsig(grid).max())],
             tolerance=1e-3, unit="", note=f"max σ′ on a grid of [−10, 10], reached at v = {grid[dsig(grid).argmax()]:.4f}")
    _numeric(ctx, "tanh's derivative is at most 1 (at v = 0)", 1.0, [float(dtanh(grid).max())], tolerance=1e-3,
             unit="", note=f"max tanh′ on a grid of [−10, 10], reached at v = {grid[dtanh(grid).argmax()]:.4f}")

    # -- per-layer factor ≤ ¼|w|, and ≤ 1 when |w| ≤ 4
    fac = np.abs(sig["w_used"] * sig["dphi"])
    ok_step = fac <= 0.25 * np.abs(sig["w_used"]) * (1 + EXACT)
    ctx.numeric_claim("sigmoid: each layer multiplies ∂J/∂y by at most ¼·|w| (share of layer steps)", 100.0,
                      _pct(ok_step.mean(axis=1)), direction_holds=bool(ok_step.mean() > 0.5),
                      note=f"geometric-mean factor per layer {10 ** np.log10(fac).mean():.4f}; "
                           f"mean σ′(z) = {sig['dphi'].mean():.4f}")
    small = np.abs(sig["w_used"]) <= 4
    shrink = (fac <= 1 + EXACT) | ~small
    ctx.numeric_claim("sigmoid: with |w| ≤ 4 no layer amplifies the gradient (factor ≤ ¼·4 = 1; share of steps)",
                      100.0, _pct(shrink.mean(axis=1)), direction_holds=bool(shrink.mean() > 0.5),
                      note=f"{100 * small.mean():.2f}% of the weights have |w| ≤ 4")

    # -- the chain bound and (¼)ʳ alone
    g = np.abs(sig["dJ_dy"])
    holds = (g <= sig["bound"] * (1 + EXACT)).all(axis=1)
    ctx.numeric_claim(f"sigmoid: |∂J/∂y| ≤ (¼)ᵗ·Π|w| at every layer of the chain (share of chains, r = {depth})", 100.0,
                      _pct(holds), direction_holds=bool(holds.mean() > 0.5))
    k10 = depth - r10
    below = g[:, k10] <= sig["plain"][k10] * (1 + EXACT)
    prof10 = profiles["sigmoid"][profiles["sigmoid"]["t"] == r10].iloc[0]
    ctx.numeric_claim(f"sigmoid: moving back r = {r10} layers the gradient is below (¼)ʳ (share of chains)", 100.0,
                      _pct(below), direction_holds=bool(below.mean() > 0.5),
                      note="(¼)ʳ alone assumes |w| = 1; chains with Π|w| > 1 can exceed it")
    logs10 = np.log10(g[:, k10])
    paper_log = math.log10(0.25 ** PAPER_DEPTH)
    if r10 == PAPER_DEPTH:
        _numeric(ctx, "sigmoid: after r = 10 layers the gradient falls to ≈ 10⁻⁶ of its value (log10 |∂J/∂y|)",
                 round(paper_log, 3), logs10, tolerance=LOG_TOLERANCE, unit="decades",
                 direction_holds=bool(np.mean(logs10) <= paper_log + LOG_TOLERANCE),
                 note=f"the article's value is (¼)^10 = {0.25 ** 10:.2e}; ours: geometric mean "
                      f"{10 ** np.mean(logs10):.2e}, median {10 ** np.median(logs10):.2e}; agreement within "
                      f"{LOG_TOLERANCE} decade (a factor of 2); direction: at least as small")
    ratio_top = g[:, 0] / g[:, depth - 1]
    ctx.qualitative_claim(
        "the first layers receive much smaller updates than those near the output (sigmoid)",
        "reproduced" if np.median(ratio_top) < 1e-2 else "not reproduced",
        f"|∂J/∂y_0| / |∂J/∂y_(r−1)| over {depth - 1} layers: median {np.median(ratio_top):.2e}, geometric mean "
        f"{10 ** np.log10(ratio_top).mean():.2e} (∂J/∂b_k = σ′(z_k)·∂J/∂y_k inherits the same decay)")

    # -- "unless w·φ′ is exactly one"
    exact = _tuned_chain(depth, 4.0)
    hi, lo = _tuned_chain(depth, 4.4), _tuned_chain(depth, 3.6)
    ctx.qualitative_claim(
        "unless every ω·φ′ is exactly one, the gradient vanishes or explodes",
        "reproduced" if abs(exact - 1) < 1e-9 and hi > 1.5 and lo < 0.5 else "not reproduced",
        f"sigmoid chain of {depth} layers with every z_k = 0 (b_k = −w·y_(k−1)): w = 4 (w·σ′ = 1) gives "
        f"|∂J/∂x| = {exact:.6f}; w = 4.4 (×1.1 per layer) {hi:.3g}; w = 3.6 (×0.9) {lo:.3g}")

    # -- tanh
    tprof = profiles["tanh"]
    t10 = tprof[tprof["t"] == r10].iloc[0]
    ctx.qualitative_claim(
        "tanh (max derivative 1) passes far more gradient than the sigmoid",
        "reproduced" if t10["log_mean"] > prof10["log_mean"] + 2 else "not reproduced",
        f"log10 |∂J/∂y| {r10} layers back: tanh {t10['log_mean']:.2f} ± {t10['log_se']:.2f}, sigmoid "
        f"{prof10['log_mean']:.2f} ± {prof10['log_se']:.2f}; tanh still shrinks where |w·tanh′| < 1 "
        f"(mean tanh′(z) = {tanh['dphi'].mean():.3f})")

    # -- ReLU
    rfac = np.abs(relu["w_used"] * relu["dphi"])
    active = relu["dphi"] > 0
    unchanged = np.where(active, np.abs(rfac - np.abs(relu["w_used"])) <= EXACT * np.abs(relu["w_used"]), True)
    per_chain = [100 * unchanged[i][active[i]].mean() for i in range(n) if active[i].any()]
    ctx.numeric_claim("ReLU passes the gradient unchanged where it is active (factor exactly |w|; share of active steps)",
                      100.0, per_chain, direction_holds=bool(np.mean(per_chain) > 50),
                      note=f"{100 * active.mean():.1f}% of the units are active")
    alive = alive_fraction(relu)
    p_pos = float(1 - 0.5 * math.erfc(p["w_mean"] / (p["w_std"] * math.sqrt(2)))) if p["b_std"] == 0 else None
    dead_all = 100 * (1 - alive[-1])
    predicted = f" (predicted 1 − P(w > 0)ʳ = {100 * (1 - p_pos ** depth):.1f}%)" if p_pos is not None else ""
    ctx.qualitative_claim(
        "a ReLU unit with positive input and a negative weight outputs zero for ever (dying ReLU)",
        "reproduced" if dead_all > 0 else "not reproduced",
        f"{dead_all:.1f}% of the {depth}-layer ReLU chains have a dead unit{predicted}, and their gradient below it "
        f"is exactly 0 ({100 * profiles['relu']['zero'].iloc[-1]:.1f}% of chains at the input)")
    ctx.figure(figure_relu_alive(alive, p_pos),
               "Share of ReLU chains whose first r units are all active. With b = 0 and x > 0 a unit is active "
               "exactly when its weight and every weight below it are positive, so the share is P(w > 0)ʳ; a "
               "dead unit zeroes the output of every unit above it and the whole gradient.", "relu_alive")

    # -- the spread sweep: (¼)ᵗ alone vs the bound
    rows = []
    for s in p["spreads"]:
        ch = draw_chains(n, depth, w_mean=p["w_mean"], w_std=s, b_std=p["b_std"], seed=p.get("chain_seed", 0) + 1)
        prof = back_profile(chain_gradients(ch["w"], ch["b"], ch["x"], "sigmoid"))
        rows.append(prof.assign(w_std=s))
    spread = pd.concat(rows, ignore_index=True)
    ctx.figure(figure_spreads(spread),
               "Sigmoid chains with weights N(1, w_std²): share of chains whose |∂J/∂y| t layers back is at most "
               "(¼)ᵗ (left) and the geometric-mean gradient (right). The bound (¼)ᵗ·Π|w| holds for every chain; "
               "(¼)ᵗ alone fails more often as the weights spread beyond |w| = 1.", "spreads")
    at = spread[spread["t"] == r10][["w_std", "log_mean", "log_se", "below_plain", "below_bound"]].copy()
    at["below_plain"] = (100 * at["below_plain"]).round(2)
    at["below_bound"] = (100 * at["below_bound"]).round(2)
    at = at.rename(columns={"log_mean": f"log10 |∂J/∂y| at t = {r10}", "log_se": "s.e.",
                            "below_plain": "≤ (¼)ᵗ (%)", "below_bound": "≤ (¼)ᵗ·Π|w| (%)"})
    ctx.report.add_heading("Weight spread")
    ctx.report.add_table(at, f"Sigmoid chains, {r10} layers back, per weight spread w_std (mean 1).")
    ctx.log(at.to_string(index=False))


def add_arguments(parser) -> None:
    parser.add_argument("--depth", type=int, default=None, help="layers per chain (overrides the scale)")
    parser.add_argument("--w-mean", dest="w_mean", type=float, default=None, help="mean of the weights (default 1)")
    parser.add_argument("--w-std", dest="w_std", type=float, default=None, help="spread of the weights (default 0.5)")
    parser.add_argument("--b-std", dest="b_std", type=float, default=None, help="spread of the biases (default 0)")
    parser.add_argument("--spreads", type=lambda s: [float(v) for v in s.split(",")], default=None,
                        help="weight spreads of the spread sweep, e.g. 0.25,0.5,1,2")


_COMMON = {"w_mean": 1.0, "w_std": 0.5, "b_std": 0.0, "spreads": [0.1, 0.25, 0.5, 1.0, 2.0]}

STUDY = Study(
    name="chain",
    title="Errasti 2022 — the sigmoid chain bound: why ReLU works so well",
    citation="P. Errasti, Have you ever stopped to think about why ReLU function works so well? (Bedrock — Human "
    "Intelligence, Medium, 2022; seed 003)",
    reproduces=("σ′ ≤ ¼ and tanh′ ≤ 1 (the derivative plots)", "per-layer factor ≤ ¼·|w|",
                "the (¼)ʳ decay and 10⁻⁶ at r = 10, measured against (¼)ʳ·Π|w| and (¼)ʳ alone",
                "the w·φ′ = 1 condition", "ReLU: unit gradient where active, dying units"),
    scales={
        "quick": {"seeds": 2000, "depth": 20, **_COMMON},
        "medium": {"seeds": 100_000, "depth": 30, **_COMMON},
        "full": {"seeds": 1_000_000, "depth": 50, **_COMMON},
    },
    run=run,
    add_arguments=add_arguments,
    notes="No data set and no training: each 'seed' is one random chain of single-neuron layers, and claims are "
    "mean ± s.e. over chains. The article gives the weights' mean (1) but not their spread, nor biases or inputs: "
    "the study draws w ~ N(1, 0.5²) (and a sweep over spreads), b = 0 and x ~ U(0, 1) (positive, as in the "
    "article's dying-ReLU case). The bound is stated for ∂J/∂y (the neuron's output), as in the article. "
    "Magnitudes that span decades agree when within 0.3 decade (a factor of 2) or 2 s.e.",
)
