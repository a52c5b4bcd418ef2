"""Zoo claims: pure functions from the run-summary tables to claim rows (no training, no context).

:func:`~vanishing.studies.zoo.common.run_summary` turns ``vanishing.load()`` tables into one row per run
(``act``, ``seed``, ``delta_ratio0``, ``test_acc``, ``sparsity_last``, …); the remedy summary adds
``variant``, the dying-ReLU summary ``label``, the unit census is per (run, layer). Each claim here
reads those and returns rows in the shape of :func:`~vanishing.studies.base.numeric_claim_row`.

Verdict rule (issue 16): a statement about seed means on fewer than 3 seeds is ``inconclusive`` (the
reason says how many seeds would decide it); a directional effect within 2 s.e. of zero likewise
(:func:`~vanishing.report.tables.direction_verdict`). The functions' own properties (σ′ ≤ ¼, …) are exact
computations, not seed averages, and carry no seed rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ...report.tables import numeric_verdict
from ..base import direction_claim_row, qualitative_claim_row
from .common import DYING_ACTS, REMEDIES, _census_means, _col, _fmt, _fmt_g, _m, mean_se


def seeds_of(table: pd.DataFrame | None) -> int:
    """The number of seeds behind the seed means of a summary table (the smallest per configuration)."""
    if table is None or len(table) == 0 or "seed" not in table:
        return 0
    keys = [k for k in ("act", "variant", "label") if k in table]
    return int(table.groupby(keys)["seed"].nunique().min()) if keys else int(table["seed"].nunique())


def qualitative_row(claim: str, verdict: str, evidence: str, *, n: int | None, paper: str = "stated") -> dict:
    """:func:`~vanishing.studies.base.qualitative_claim_row` counting seeds."""
    return qualitative_claim_row(claim, verdict, evidence, n=n, paper=paper, needs="seeds")


def exact_row(claim: str, paper: float, values, *, tolerance: float, note: str = "") -> dict:
    """A numeric claim on an exact computation (not a seed average: n=None, no seed rule)."""
    mean, se, n = mean_se(values)
    verdict, reason = numeric_verdict(paper, mean, se, n=None, tolerance=tolerance, unit="")
    return {"claim": claim, "paper": paper, "measured": (mean, se, n), "verdict": verdict,
            "reason": reason + (f"; {note}" if note else ""), "unit": "", "seed_averaged": False}


def function_claim_rows() -> list[dict]:
    """Claims about the functions themselves, from the registry's f and f′ (float64): deterministic, no seed rule."""
    rows: list[dict] = []

    def ex(*a, **k):
        rows.append(exact_row(*a, **k))

    def qq(claim, verdict, evidence):
        rows.append(qualitative_row(claim, verdict, evidence, n=None))
    import torch

    from ... import activations

    a = torch.linspace(-10, 10, 200001, dtype=torch.float64)
    sig, tanh, relu = activations.get("sigmoid"), activations.get("tanh"), activations.get("relu")
    ds, dt = sig.df(a), tanh.df(a)
    ex("the sigmoid's derivative is at most 0.25, at x = 0", 0.25, [float(ds.max())], tolerance=1e-3,
             note=f"max σ′ on a grid of [−10, 10], at x = {float(a[ds.argmax()]):.4f}")
    ex("tanh's derivative is at most 1.0, at x = 0", 1.0, [float(dt.max())], tolerance=1e-3,
             note=f"max tanh′ on the grid, at x = {float(a[dt.argmax()]):.4f}")
    gap = float((tanh.f(a) - (2 * sig.f(2 * a) - 1)).abs().max())
    qq("tanh(x) = 2σ(2x) − 1", "reproduced" if gap < 1e-12 else "not reproduced",
                          f"max |tanh(x) − (2σ(2x) − 1)| on [−10, 10] = {gap:.1e}")
    dr = relu.df(a)
    ok = bool((dr[a > 0] == 1).all() and (dr[a < 0] == 0).all())
    qq("ReLU's derivative is 1 for x > 0 (and 0 below)", "reproduced" if ok else "not reproduced",
                          "relu′ on the grid: 1 at every x > 0, 0 at every x < 0 (0 at x = 0, torch's convention)")
    module = activations.get("rrelu").module(4).eval()
    slope = float(module(torch.full((1, 4), -1.0)).mean() / -1.0)
    expected = (1 / 8 + 1 / 3) / 2
    qq("RReLU uses the mean slope (1/8 + 1/3)/2 at test time",
                          "reproduced" if abs(slope - expected) < 1e-6 else "not reproduced",
                          f"eval-mode RReLU slope below 0: {slope:.6f} (expected {expected:.6f})")
    return rows


def claim_rows(p: Mapping, summary: pd.DataFrame, theories: Mapping, rsum: pd.DataFrame, dsum: pd.DataFrame,
               census: pd.DataFrame, opt_text: str, dopt: str, cost: pd.DataFrame) -> list[dict]:
    """The article's claims from the run summaries (:func:`run_summary` tables), as claim rows (pure)."""
    rows: list[dict] = []
    n = seeds_of(summary)
    n_r, n_d = seeds_of(rsum), (seeds_of(dsum) if dsum is not None and len(dsum) else 0)

    def q(claim, verdict, evidence, paper="stated"):
        nn = {"He initialisation and batch normalisation counter dying ReLUs": min(n, n_r, n_d),
              "batch norm and residual connections let a deep sigmoid net train (beyond the article)": n_r,
              "leaky ReLU, PReLU, RReLU and ELU avoid the dying ReLU": n_d,
              "ReLU units can die: output only 0 for every input": min(n, n_d)}.get(claim, n)
        rows.append(qualitative_row(claim, verdict, evidence, n=nn, paper=paper))

    L = p["depth"]
    sig_r = _col(summary, "delta_ratio0", act="sigmoid")
    tanh_r = _col(summary, "delta_ratio0", act="tanh")
    relu_r = _col(summary, "delta_ratio0", act="relu")
    th = {a: float(theories[a]["decay"].iloc[0]) for a in ("sigmoid", "tanh", "relu") if a in theories}
    q(
        "the sigmoid's chained derivatives make the gradient vanish towards the first layers",
        "reproduced" if sig_r and _m(sig_r) < 1e-2 else "not reproduced",
        f"per-example RMS δ, hidden1 / hidden{L} at init: sigmoid {_fmt_g(sig_r)} (mean-field {th.get('sigmoid', math.nan):.3g}), "
        f"ReLU {_fmt_g(relu_r)}")
    sig_acc, relu_acc, tanh_acc = (_col(summary, "test_acc", act=a) for a in ("sigmoid", "relu", "tanh"))
    q(
        "so a deep sigmoid net is hard to train with backpropagation",
        "reproduced" if sig_acc and relu_acc and _m(sig_acc) < _m(relu_acc) - 20 else
        ("partly" if sig_acc and relu_acc and _m(sig_acc) < _m(relu_acc) else "not reproduced"),
        f"test accuracy after {p['epochs']} epochs ({opt_text}): sigmoid {_fmt(sig_acc)}%, ReLU {_fmt(relu_acc)}%")
    tanh_default = _col(rsum, "delta_ratio0", act="tanh", variant="torch default init")
    ok_better = bool(tanh_r and sig_r and _m(tanh_r) > 100 * _m(sig_r))
    still = bool(tanh_r and (_m(tanh_r) < 0.9 or (tanh_default and _m(tanh_default) < 0.1)))
    q(
        "tanh is better than the sigmoid but can still vanish in deep nets",
        "reproduced" if ok_better and still else ("partly" if ok_better or still else "not reproduced"),
        f"δ₁/δ_{L} at init: tanh (Xavier) {_fmt_g(tanh_r)} (mean-field {th.get('tanh', math.nan):.3g}), with torch's "
        f"default init {_fmt_g(tanh_default)}; sigmoid {_fmt_g(sig_r)}; test accuracy tanh {_fmt(tanh_acc)}%")
    q(
        "ReLU (derivative 1 for x > 0) solves the vanishing gradient",
        "reproduced" if relu_r and 0.3 < _m(relu_r) < 3 and relu_acc and _m(relu_acc) > 90 else "partly",
        f"δ₁/δ_{L} at init (He): {_fmt_g(relu_r)} (mean-field {th.get('relu', math.nan):.3g}); test accuracy {_fmt(relu_acc)}%")
    spars0, spars = _col(summary, "sparsity0", act="relu"), _col(summary, "sparsity_last", act="relu")
    q(
        "ReLU gives sparse representations (exact zeros)",
        "reproduced" if spars and _m(spars) > 30 else "not reproduced",
        f"share of (probe example, unit) pairs with output 0, mean over layers: {_fmt(spars0, 1)}% at init, "
        f"{_fmt(spars, 1)}% after training")
    # saturation: the plain nets, and the most saturated sigmoid/tanh configuration of the remedy grid
    sat = {a: (_col(summary, "sat0", act=a), _col(summary, "sat_last", act=a)) for a in ("sigmoid", "tanh")}
    plain = max((_m(v[1]) for v in sat.values() if v[1]), default=math.nan)
    rs = rsum[rsum["act"].isin(["sigmoid", "tanh"])].groupby(["act", "variant"])["sat_last"].mean().dropna()
    top = (rs.idxmax(), float(rs.max())) if len(rs) else (None, math.nan)
    most = np.nanmax([plain, top[1]])
    q(
        "sigmoid and tanh units saturate (|f′| near 0 for large |x|)",
        "reproduced" if most > 5 else ("partly" if most > 0.5 else "not reproduced"),
        "saturated (example, unit) pairs (|f′| < 5% of max), mean over layers, init → trained: " +
        "; ".join(f"{a} {_fmt(v[0], 1)}% → {_fmt(v[1], 1)}%" for a, v in sat.items()) +
        (f"; most in the remedy grid: {top[0][0]} {top[0][1]} {top[1]:.1f}%" if top[0] else "") +
        (" — the plain nets do not saturate: their gradient vanishes through σ′ ≤ ¼ and the ordered phase, not "
         "through saturated units" if plain <= 0.5 else ""))
    # dying
    dead_main = _col(summary, "dead_max_last", act="relu")
    relu_dying = dsum[dsum["label"] == "relu"]
    d_neg = _census_means(census, "relu", "no_gradient")
    q(
        "ReLU units can die: output only 0 for every input",
        "reproduced" if (d_neg and _m(d_neg) > 1) or (dead_main and _m(dead_main) > 1) else "not reproduced",
        f"dead ReLU units ({opt_text}): largest layer {_fmt(dead_main, 1)}%; stress test ({dopt}): "
        f"{_fmt(d_neg, 1)}% of all hidden units dead, test accuracy {_fmt(relu_dying['test_acc'])}%")
    he_dead = _col(rsum, "dead_last", act="relu", variant="Xavier / He init")
    def_dead = _col(rsum, "dead_last", act="relu", variant="torch default init")
    bn_dead = _col(rsum, "dead_last", act="relu", variant="+ batch norm")
    bn_stress = _census_means(census, "relu + batch norm", "no_gradient")
    he_helps = bool(he_dead and def_dead and _m(he_dead) <= _m(def_dead))
    bn_helps = bool(bn_stress and d_neg and _m(bn_stress) < _m(d_neg))
    q(
        "He initialisation and batch normalisation counter dying ReLUs",
        "reproduced" if he_helps and bn_helps else ("partly" if he_helps or bn_helps else "not reproduced"),
        f"dead ReLU units after training ({opt_text}), mean over layers: torch default init {_fmt(def_dead, 1)}%, He "
        f"{_fmt(he_dead, 1)}%, He + BN {_fmt(bn_dead, 1)}%; stress test: ReLU {_fmt(d_neg, 1)}% vs ReLU + BN "
        f"{_fmt(bn_stress, 1)}%")
    leaky = {a: _census_means(census, a, "no_gradient") for a in DYING_ACTS[1:]}
    neg = {a: _census_means(census, a, "negative") for a in DYING_ACTS}
    fixed = all(v and _m(v) == 0 for v in leaky.values())
    q(
        "leaky ReLU, PReLU, RReLU and ELU avoid the dying ReLU",
        "reproduced" if fixed and d_neg and _m(d_neg) > 0 else ("partly" if fixed else "not reproduced"),
        f"stress test ({dopt}), units with no gradient on any probe example: ReLU {_fmt(d_neg, 1)}%, " +
        ", ".join(f"{a} {_fmt(v, 1)}%" for a, v in leaky.items()) +
        "; units with a ≤ 0 on every example: " + ", ".join(f"{a} {_fmt(v, 1)}%" for a, v in neg.items()) +
        "; test accuracy: " + ", ".join(f"{a} {_fmt(_col(dsum, 'test_acc', label=a))}%" for a in DYING_ACTS))
    # ELU
    elu_m, relu_m = _col(summary, "mean_act_last", act="elu"), _col(summary, "mean_act_last", act="relu")
    elu_m0, relu_m0 = _col(summary, "mean_act0", act="elu"), _col(summary, "mean_act0", act="relu")
    q(
        "ELU keeps the mean activation closer to zero than ReLU (less bias shift)",
        "reproduced" if elu_m and relu_m and _m(elu_m) < _m(relu_m) and _m(elu_m0) < _m(relu_m0) else
        ("partly" if elu_m and relu_m and (_m(elu_m) < _m(relu_m) or _m(elu_m0) < _m(relu_m0)) else "not reproduced"),
        f"|mean output| of a layer on the probe set, mean over layers, init → trained: ELU {_fmt(elu_m0, 3)} → "
        f"{_fmt(elu_m, 3)}, ReLU {_fmt(relu_m0, 3)} → {_fmt(relu_m, 3)}")
    elu_l, relu_l = _col(summary, "train_loss1", act="elu"), _col(summary, "train_loss1", act="relu")
    (me, se_e, _), (mr, se_r, _) = mean_se(elu_l), mean_se(relu_l)
    diff_se = math.sqrt(np.nan_to_num(se_e) ** 2 + np.nan_to_num(se_r) ** 2)
    n_elu = min(len(elu_l), len(relu_l))
    rows.append(direction_claim_row(
        "ELU makes training converge faster than ReLU", "stated", mr - me, diff_se, n_elu, unit="",
        note=f"ReLU − ELU training loss in epoch 1 (ELU {_fmt(elu_l, 3)}, ReLU {_fmt(relu_l, 3)}); after epoch "
        f"{p['epochs']}: ELU {_fmt(_col(summary, 'train_loss_last', act='elu'), 3)}, ReLU "
        f"{_fmt(_col(summary, 'train_loss_last', act='relu'), 3)}"))
    us = cost.set_index("activation")["us"]
    others = [a for a in ("sigmoid", "tanh", "elu") if a in us.index]
    beaten = [a for a in others if "relu" in us.index and us["relu"] < us[a]]
    t = {a: _col(summary, "epoch_time", act=a) for a in ("relu", *others)}
    q(
        "ReLU is computationally cheaper (no exponential)",
        "reproduced" if beaten and len(beaten) == len(others) else ("partly" if beaten else "not reproduced"),
        "forward + backward of the function on a 128 × 256 batch: " + ", ".join(f"{a} {us[a]:.0f} µs" for a in ("relu", *others)
                                                                         if a in us.index) +
        "; whole training epochs: " + ", ".join(f"{a} {_fmt(v, 2)} s" for a, v in t.items()) +
        " — the function is a memory-bound elementwise op with a vectorised exp, and the matrix products "
        "dominate an MLP's epoch, so the gap is small either way (epoch times on a shared machine are noisy)")
    # remedies for the deep sigmoid net
    acc = {v: _col(rsum, "test_acc", act="sigmoid", variant=v) for v in REMEDIES}
    best = max((v for v in REMEDIES if acc[v]), key=lambda v: _m(acc[v]), default=None)
    base_acc = _m(acc["Xavier / He init"]) if acc["Xavier / He init"] else math.nan
    fixes = [v for v in ("+ batch norm", "+ residual") if acc[v] and _m(acc[v]) > base_acc + 20]
    q(
        "batch norm and residual connections let a deep sigmoid net train (beyond the article)",
        "reproduced" if len(fixes) == 2 else ("partly" if fixes else "not reproduced"),
        "sigmoid test accuracy: " + ", ".join(f"{v} {_fmt(a)}%" for v, a in acc.items()) + (f" (best: {best})" if best else ""),
        paper="not stated")
    errs = []
    for act in summary["act"].unique():
        if act in theories:
            meas = _col(summary, "delta_ratio0", act=act)
            pred = float(theories[act]["decay"].iloc[0])
            if meas and pred > 0:
                errs.append((act, abs(math.log10(_m(meas) / pred))))
    if errs:
        worst = max(errs, key=lambda e: e[1])
        good = sum(e[1] < math.log10(1.25) for e in errs)
        q(
            "(theory) mean-field theory predicts the δ decay at init for every activation",
            "reproduced" if good == len(errs) else ("partly" if good >= len(errs) / 2 else "not reproduced"),
            f"measured/predicted δ₁/δ_L within 25% for {good} of {len(errs)} activations; largest gap "
            f"{worst[0]} (×{10 ** worst[1]:.2f})",
            paper="not stated")
    return rows
