"""Zoo ablation of the dying-unit stress test: is a dead ELU unit the rate, the seed, or float32?

The stress test (Adam, lr 0.01) found one of three ELU seeds with most of its
hidden units passing no gradient on any probe example, against the article's
claim that ELU, like leaky ReLU, avoids the dying ReLU. ELU's negative side
has f′(a) = αeᵃ (Clevert, Unterthiner & Hochreiter 2015): never 0 in exact
arithmetic, but below a ≈ −103.3 the float32 ``exp`` underflows to 0, and
already for a < −13.8 f′ < 10⁻⁶ — a unit pushed that far down on every
example learns no faster than a dead ReLU. Leaky ReLU's slope stays at α
whatever a. This ablation trains ReLU, leaky ReLU and ELU under the stress
test's protocol on more seeds and at a ten times smaller rate, and counts
per run the units with f′ = 0 and with f′ ≤ 10⁻⁶ on every probe example
(:func:`unit_census` with ``tiny`` = 10⁻⁶), so that the frequency of the
effect and its dependence on the step size are measured, not guessed.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..base import StudyContext
from .common import _fmt, act_name, run_summary

ABLATION_ACTS = ("relu", "leaky_relu", "elu")
TINY = 1e-6  # "effectively dead": f′ ≤ TINY on every probe example
DEAD_RUN = 0.10  # a run counts as having died when ≥ 10% of its hidden units pass no gradient


def dying_ablation(ctx: StudyContext, p: Mapping, dbase: Mapping, probe) -> pd.DataFrame:
    """Train the ablation grid and return one row per run: ``act``, ``lr``, ``seed``, ``test_acc`` (%),
    ``no_gradient`` and ``tiny_gradient`` (share of hidden units, mean over layers, %).

    Seeds 0 … ``ablation_seeds`` − 1 at each rate of ``ablation_lrs``; the runs at the stress test's own
    rate and seeds are the stress test's runs (same config, so the store reuses them).
    """
    from .protocol import trained_census

    lrs = [float(v) for v in p["ablation_lrs"]]
    res = ctx.sweep("dying-ablation", base=dbase, grid={"model.activation": list(ABLATION_ACTS), "optim.lr": lrs},
                    seeds=list(range(int(p["ablation_seeds"]))))
    lr_of = dict(zip(res.runs["run_id"], res.runs["lr"].astype(float)))
    rows = [{"act": r["act"], "lr": lr_of[r["run_id"]], "seed": int(r["seed"]), "run_id": r["run_id"],
             "test_acc": r["test_acc"], "no_gradient": 100 * float(c["no_gradient"].mean()),
             "tiny_gradient": 100 * float(c["tiny_gradient"].mean())}
            for r, c in trained_census(ctx, run_summary(res), probe, tiny=TINY)]
    return pd.DataFrame(rows)


def ablation_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per activation × rate: seeds, test accuracy, dead and effectively dead units (mean ± s.e. over seeds, %),
    and how many seeds died (≥ :data:`DEAD_RUN` of the units with f′ ≤ 10⁻⁶ everywhere)."""
    rows = []
    for (act, lr), g in runs.groupby(["act", "lr"], sort=False):
        died = int((g["tiny_gradient"] >= 100 * DEAD_RUN).sum())
        rows.append({"activation": act, "lr": f"{lr:g}", "seeds": len(g), "test acc (%)": _fmt(g["test_acc"]),
                     "f′ = 0 everywhere (%)": _fmt(g["no_gradient"], 1),
                     "f′ ≤ 1e-6 everywhere (%)": _fmt(g["tiny_gradient"], 1),
                     f"seeds with ≥ {100 * DEAD_RUN:.0f}% such units": f"{died} / {len(g)}"})
    order = {a: i for i, a in enumerate(ABLATION_ACTS)}
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    return out.sort_values(["activation", "lr"], key=lambda s: s.map(order) if s.name == "activation"
                           else -s.astype(float)).reset_index(drop=True)


def ablation_figure(runs: pd.DataFrame):
    """Per run, the share of hidden units with f′ ≤ 10⁻⁶ on every probe example, by activation and rate."""
    from ...report.figures import group_colors, new_figure

    lrs = sorted(runs["lr"].unique(), reverse=True)
    fig, axes = new_figure(1, 1, panel=(5.0, 3.0))
    ax = axes[0][0]
    rng = np.random.default_rng(0)
    for k, (color, lr) in enumerate(zip(group_colors(len(lrs)), lrs)):
        for i, act in enumerate(ABLATION_ACTS):
            v = runs[(runs["act"] == act) & (runs["lr"] == lr)]["tiny_gradient"]
            x = i + (k - (len(lrs) - 1) / 2) * 0.3 + rng.uniform(-0.05, 0.05, len(v))
            ax.scatter(x, v, s=14, color=color, label=f"Adam lr {lr:g}" if i == 0 else None, zorder=3)
    ax.set_xticks(range(len(ABLATION_ACTS)), [act_name(a) for a in ABLATION_ACTS])
    ax.set_ylabel("hidden units with f′ ≤ 1e-6\non every probe example (%)")
    ax.axhline(100 * DEAD_RUN, color="0.6", lw=0.7, ls=":")
    ax.legend(fontsize=7, loc="best")
    return fig


def ablation_text(runs: pd.DataFrame, stress_lr: float) -> str:
    """One sentence for the report and the log: how often each activation died, at each rate."""
    parts = []
    for (act, lr), g in runs.groupby(["act", "lr"], sort=False):
        died = int((g["tiny_gradient"] >= 100 * DEAD_RUN).sum())
        parts.append(f"{act} at lr {lr:g}: {died}/{len(g)} seeds")
    if not parts:
        return "no ablation runs"
    tag = f"(stress-test rate {stress_lr:g})"
    return (f"seeds with ≥ {100 * DEAD_RUN:.0f}% of their hidden units at f′ ≤ 1e-6 on every probe example {tag}: "
            + "; ".join(parts))

