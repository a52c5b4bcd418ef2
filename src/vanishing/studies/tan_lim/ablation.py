"""Tan & Lim ablations: what explains the rows the paper run does not reproduce.

1. **SDAGD's "two-phase switching".** The paper credits SDAGD's success on the
   deep sigmoid nets to "the two-phase switching approach adopted by SDAGD to
   alter the step length adaptively" (seed 002, §IV). The paper run finds the
   curvature h orders of magnitude below μ = ‖g_l‖/R in every layer, at init
   and after training, so SDAGD never leaves its first phase. If the switch
   mattered, SDAGD with h = 0 — ``sdagd(curvature='none')``, the update
   θ ← θ − lr·R·g_l/‖g_l‖ per layer, which has no Newton phase at all — would
   do worse; if the per-layer normalisation is what trains the nets, it
   matches SDAGD. Trained: the sigmoid cells at ``ablation_depths`` with each
   cell's searched R and SDAGD's schedule, on the main runs' seeds; the SDAGD
   runs are the main runs themselves (same config, so the store reuses them).
2. **The budget** (no extra training): the paper gives no epoch count; our
   main runs report the test MCR after every epoch, so :func:`budget_table`
   reads, per cell, the first epoch at which our mean reaches the paper's
   number and how fast the curve still falls over its last epochs — if the
   paper's Table I matches our curves at one early epoch, its numbers are a
   shorter budget, not a different method.
3. **SGD's ReLU column.** The paper's SGD-ReLU MCRs are 9.2–11.0% at every
   depth, ours ≈ 2–3% at the searched rate; the paper says SGD "struggles
   from slower training because of fixed learning rate" and gives no rate. If
   the paper's rate lay below our search grid, SGD-ReLU at a smaller constant
   rate should land near its numbers. Trained: the ReLU cells at
   ``ablation_depths`` with SGD at each rate of ``ablation_sgd_rates``.

The comparison of two variants is ``difference ± 2·√(se₁² + se₂²)``; it is a
decision only on ≥ 3 seeds per variant (:data:`vanishing.report.tables.MIN_SEEDS`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..base import StudyContext, mean_se
from .claims import paper_mcr
from .figures import _styled

def _mcr(runs: pd.DataFrame) -> list[float]:
    return (100 * runs["test_mcr"].astype(float)).tolist()


def switch_points(p: Mapping, radius: Mapping) -> list[dict]:
    """Sweep points of ablation 1: per sigmoid depth, SDAGD as in the main runs and with ``curvature='none'``."""
    from .protocol import _point, sdagd_spec

    points = []
    for depth in p["ablation_depths"]:
        r = radius[("sigmoid", depth)]
        points.append(_point(p, "sigmoid", depth, sdagd_spec(r), 1.0))
        points.append(_point(p, "sigmoid", depth, sdagd_spec(r, curvature="none"), 1.0))
    return points


def rate_points(p: Mapping, sgd_lr: Mapping) -> list[dict]:
    """Sweep points of ablation 2: per ReLU depth, SGD at its searched rate and at each ablation rate."""
    from .protocol import _point

    points = []
    for depth in p["ablation_depths"]:
        for lr in sorted({float(sgd_lr[("relu", depth)]), *map(float, p["ablation_sgd_rates"])}, reverse=True):
            points.append(_point(p, "relu", depth, "sgd", lr))
    return points


def curvature_of(optimizer: str) -> str:
    from ...optim.factory import canonical

    name, options = canonical(str(optimizer))
    return options.get("curvature", "lecun") if name == "sdagd" else ""


def switch_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per depth: SDAGD's test MCR, SDAGD with h = 0, and their difference (h = 0 − SDAGD) ± 2 s.e., over seeds.

    ``runs``: ablation-1 runs with ``depth``, ``optimizer``, ``test_mcr``.
    """
    runs = runs.assign(curvature=runs["optimizer"].map(curvature_of))
    rows = []
    for depth, g in runs.groupby("depth"):
        a = mean_se(_mcr(g[g["curvature"] != "none"]))
        b = mean_se(_mcr(g[g["curvature"] == "none"]))
        two_se = 2 * math.sqrt(a[1] ** 2 + b[1] ** 2) if math.isfinite(a[1]) and math.isfinite(b[1]) else math.nan
        rows.append({"depth": int(depth), "paper SDAGD": paper_mcr("sdagd", "sigmoid", int(depth)),
                     "SDAGD": a[0], "SDAGD se": a[1], "SDAGD n": a[2],
                     "h = 0": b[0], "h = 0 se": b[1], "h = 0 n": b[2],
                     "difference": b[0] - a[0], "2 se": two_se})
    return pd.DataFrame(rows)


def rate_table(runs: pd.DataFrame, sgd_lr: Mapping) -> pd.DataFrame:
    """Per (depth, rate): SGD-ReLU's test MCR (mean, s.e., n over seeds) beside the paper's, the searched rate marked."""
    rows = []
    for (depth, lr), g in runs.groupby(["depth", "lr"]):
        m, se, n = mean_se(_mcr(g))
        rows.append({"depth": int(depth), "lr": float(lr), "searched": float(lr) == float(sgd_lr[("relu", int(depth))]),
                     "paper": paper_mcr("sgd", "relu", int(depth)), "ours": m, "se": se, "n": n})
    return pd.DataFrame(rows).sort_values(["depth", "lr"], ascending=[True, False]).reset_index(drop=True)


def budget_table(epochs: pd.DataFrame, runs: pd.DataFrame, marks: Sequence[int] = (1, 4, 8)) -> pd.DataFrame:
    """Per (optimizer, activation, depth): the paper's MCR, our mean test MCR (%) at the epochs ``marks`` and at the
    last epoch, the first epoch whose mean is ≤ the paper's (None: never), and the fall per epoch over the last
    4 epochs (pp/epoch; ≈ 0 where the curve has flattened).

    ``epochs``: per-epoch rows (``run_id``, ``epoch``, ``test_mcr``); ``runs``: ``run_id``, ``kind``,
    ``activation``, ``depth``.
    """
    ep = epochs[epochs["epoch"] >= 1].merge(runs[["run_id", "kind", "activation", "depth"]], on="run_id")
    rows = []
    for (kind, act, depth), g in ep.groupby(["kind", "activation", "depth"]):
        curve = 100 * g.groupby("epoch")["test_mcr"].mean()
        paper = paper_mcr(kind, act, int(depth))
        last = int(curve.index.max())
        tail = curve[curve.index > last - 4]
        rows.append({"optimizer": kind, "activation": act, "depth": int(depth), "paper": paper,
                     **{f"epoch {e}": float(curve.get(e, math.nan)) for e in marks if e < last},
                     f"epoch {last}": float(curve[last]),
                     "first epoch ≤ paper": next((int(e) for e, v in curve.items() if v <= paper), None),
                     "fall over the last 4 (pp/epoch)": float((tail.iloc[0] - tail.iloc[-1]) / max(len(tail) - 1, 1))})
    return pd.DataFrame(rows)


def switch_verdict(table: pd.DataFrame, min_seeds: int = 3) -> tuple[str, str]:
    """Does removing the Newton phase change the MCR? → (``matches`` | ``worse`` | ``better`` | ``undecided``, text).

    ``worse`` when at some depth h = 0 is worse than SDAGD by more than 2 s.e. (the switch helps there); ``matches``
    when every depth's difference lies within 2 s.e. *and* within 1 pp; ``better`` when h = 0 is better somewhere
    by more than 2 s.e. and worse nowhere; ``undecided`` on fewer than ``min_seeds`` seeds per variant or a depth
    whose difference is within 2 s.e. but wider than 1 pp.
    """
    text = "; ".join(f"hl-{int(r['depth'])}: SDAGD {r['SDAGD']:.2f}%, h = 0 {r['h = 0']:.2f}% "
                     f"(difference {r['difference']:+.2f} ± {r['2 se']:.2f} pp)" for _, r in table.iterrows())
    n = int(min(table["SDAGD n"].min(), table["h = 0 n"].min())) if len(table) else 0
    if n < min_seeds:
        return "undecided", f"{text} — n = {n}; needs ≥ {min_seeds} seeds per variant"
    diff, band = table["difference"].to_numpy(float), table["2 se"].to_numpy(float)
    if np.any(diff > band):
        return "worse", text
    if np.any(diff < -band):
        return "better", text
    if np.all(np.abs(diff) <= 1.0):
        return "matches", text
    return "undecided", f"{text} — within 2 s.e. but the band is wider than 1 pp; more seeds would decide"


def rate_text(table: pd.DataFrame) -> str:
    """One line per depth: SGD-ReLU MCR at each rate, the paper's number, and the rate nearest to it."""
    parts = []
    for depth, g in table.groupby("depth"):
        near = g.iloc[int(np.argmin(np.abs(g["ours"].to_numpy(float) - g["paper"].to_numpy(float))))]
        parts.append(f"hl-{int(depth)} (paper {g['paper'].iloc[0]:.2f}%): "
                     + ", ".join(f"lr {r['lr']:g} → {r['ours']:.2f}%" + (" (searched)" if r["searched"] else "")
                                 for _, r in g.iterrows())
                     + f"; nearest the paper: lr {near['lr']:g}")
    return "; ".join(parts)


@_styled
def ablation_figure(switch: pd.DataFrame, rates: pd.DataFrame):
    """(a) sigmoid: SDAGD vs SDAGD with h = 0 against depth, the paper's SDAGD as markers; (b) SGD-ReLU MCR
    against depth, one line per rate, the paper's SGD-ReLU column as markers. Mean ± s.e. over seeds."""
    from ...report.figures import group_colors, new_figure

    fig, axes = new_figure(1, 2, panel=(4.4, 3.2))
    ax = axes[0][0]
    for col, style, label in (("SDAGD", "-o", "SDAGD (lecun h)"), ("h = 0", "--s", "SDAGD, h = 0 (no Newton phase)")):
        ax.errorbar(switch["depth"], switch[col], yerr=switch[f"{col} se"].fillna(0), fmt=style, capsize=3, label=label)
    ax.plot(switch["depth"], switch["paper SDAGD"], "kx", ms=7, label="paper (Table I)")
    ax.set(xlabel="hidden layers", ylabel="test MCR (%)", title="(a) sigmoid: is it the switch?",
           xticks=sorted(switch["depth"].unique()))
    ax.legend(fontsize=7)
    ax = axes[0][1]
    searched = rates[rates["searched"]].sort_values("depth")
    lines = [("SGD, searched rate (" + ", ".join(f"{r:g}" for r in searched["lr"]) + ")", searched)]
    others = rates[~rates["searched"]]
    lines += [(f"SGD lr {lr:g}", others[others["lr"] == lr].sort_values("depth"))
              for lr in sorted(others["lr"].unique(), reverse=True)]
    for color, (label, g) in zip(group_colors(len(lines)), lines):
        ax.errorbar(g["depth"], g["ours"], yerr=g["se"].fillna(0), fmt="-o", color=color, capsize=3, label=label)
    paper = rates.drop_duplicates("depth").sort_values("depth")
    ax.plot(paper["depth"], paper["paper"], "kx", ms=7, label="paper (Table I)")
    ax.set(xlabel="hidden layers", ylabel="test MCR (%)", title="(b) ReLU: is it SGD's rate?",
           xticks=sorted(rates["depth"].unique()))
    ax.legend(fontsize=7)
    return fig


def train_ablations(ctx: StudyContext, p: Mapping, base: Mapping, sgd_lr: Mapping,
                    radius: Mapping) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Train both ablations in one sweep; returns (:func:`switch_table`, :func:`rate_table`), None when the scale
    has no ``ablation_depths`` among its ``depths``. The points are the protocol's (``_point``), so the runs that
    repeat a main run have its config and are reused."""
    from .protocol import kind_of, zip_points

    depths = [d for d in p.get("ablation_depths") or () if d in p["depths"]]
    if not depths:
        return None
    p = {**p, "ablation_depths": depths}
    res = ctx.sweep("ablation", base=base, zip=zip_points(switch_points(p, radius) + rate_points(p, sgd_lr)))
    runs = res.runs.assign(kind=res.runs["optimizer"].map(kind_of))
    switch = switch_table(runs[(runs["kind"] == "sdagd") & (runs["activation"] == "sigmoid")])
    rates = rate_table(runs[(runs["kind"] == "sgd") & (runs["activation"] == "relu")], sgd_lr)
    return switch, rates


def report_ablations(ctx: StudyContext, p: Mapping, switch: pd.DataFrame, rates: pd.DataFrame,
                     budget: pd.DataFrame | None = None) -> None:
    """The ablations' tables, figure and log lines (``budget``: :func:`budget_table` of the main runs)."""
    ctx.report.add_heading("Ablations — the switch, the budget and SGD's rate")
    if budget is not None and len(budget):
        ctx.report.add_table(budget, "Budget: our mean test MCR (%) per cell after the epochs shown, the first epoch at "
                             "which it reaches the paper's Table I value, and how fast it still falls over the last 4 "
                             "epochs.", digits=3)
        ctx.log("\nbudget (first epoch at which our mean test MCR ≤ the paper's):\n"
                + budget[["optimizer", "activation", "depth", "paper", "first epoch ≤ paper",
                          "fall over the last 4 (pp/epoch)"]].to_string(index=False))
    ctx.report.add_table(switch, "Ablation 1, sigmoid: test MCR (%) of SDAGD and of SDAGD with h = 0 "
                         "(curvature='none': per-layer normalised gradient descent, no Newton phase), same R, schedule "
                         "and seeds; difference = h = 0 − SDAGD with its 2 s.e. band.", digits=3)
    ctx.report.add_table(rates, "Ablation 2, ReLU: SGD's test MCR (%) at its searched rate and at smaller constant "
                         f"rates ({', '.join(f'{v:g}' for v in p['ablation_sgd_rates'])}), beside the paper's "
                         "SGD-ReLU column.", digits=3)
    ctx.figure(ablation_figure(switch, rates),
               "Ablations: (a) sigmoid, SDAGD and SDAGD with h = 0 (no Newton phase) against depth; (b) ReLU, SGD's "
               "test MCR against depth at each constant rate; × the paper's Table I. Mean ± s.e. over seeds.",
               "ablation_switch_and_rate")
    verdict, text = switch_verdict(switch)
    ctx.log(f"\nablation 1 (switch): h = 0 {verdict} — {text}")
    ctx.log(f"ablation 2 (SGD-ReLU rate): {rate_text(rates)}")


__all__: Sequence[str] = ("ablation_figure", "budget_table", "rate_table", "rate_text", "report_ablations", "switch_table",
                          "switch_verdict", "train_ablations")
