"""The ``chain`` study's protocol: its scales and ``run()`` — draw the chains, tabulate, draw, state the claims."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..base import StudyContext
from . import claims as C
from .compute import ACTIVATIONS, PAPER_DEPTH, _phi, back_profile, chain_gradients, draw_chains, tuned_chain
from .figures import figure_gradients, figure_relu_alive, figure_spreads, figure_step_factors


def run(ctx: StudyContext) -> None:
    from ...report import figures

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

    # -- claims (pure functions of the results: .claims)
    grid = np.linspace(-10, 10, 200001)
    maxima = {}
    for act in ("sigmoid", "tanh"):
        d = _phi(act)[1](grid)
        maxima[act] = (float(d.max()), float(grid[d.argmax()]))
    tuned = (tuned_chain(depth, 4.0), tuned_chain(depth, 4.4), tuned_chain(depth, 3.6))
    p_pos = float(1 - 0.5 * math.erfc(p["w_mean"] / (p["w_std"] * math.sqrt(2)))) if p["b_std"] == 0 else None
    ctx.claims.extend(C.claims(results, profiles, depth=depth, maxima=maxima, tuned=tuned, p_pos=p_pos))
    alive = np.cumprod(results["relu"]["dphi"] > 0, axis=1).mean(axis=0)
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

# each scale's "seeds" are random chains (thousands: the verdict rule's n ≥ 3 always holds); paper = medium
SCALES = {
    "quick": {"seeds": 2000, "depth": 20, **_COMMON},
    "medium": {"seeds": 100_000, "depth": 30, **_COMMON},
    # paper: the article's argument at its own r = 10 inside a 30-layer chain, on the medium number of chains
    # (a few seconds; the article has no seeds — 100 000 random chains stand for them)
    "paper": {"seeds": 100_000, "depth": 30, **_COMMON},
    "full": {"seeds": 1_000_000, "depth": 50, **_COMMON},
}
