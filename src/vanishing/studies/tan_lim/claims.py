"""Tan & Lim's claims as pure functions of the result tables (no training, no context).

``runs``: one row per run (``kind`` sgd/sdagd, ``activation``, ``depth``, ``seed``, ``test_acc``) as the
``table1`` sweep's ``Results.runs`` gives it; ``epochs``: its per-epoch table (``run_id``, ``epoch``,
``train_loss``). Table I's cells become numeric claim rows (:func:`~vanishing.studies.base.numeric_claim_row`:
``inconclusive`` on n < 3 seeds or 2·s.e. > max(3 × tolerance, 25% of |paper|)); the figure claims compare
seed means and are ``inconclusive`` when a cell has fewer than 3 seeds.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..base import mean_se, numeric_claim_row, qualitative_claim_row

DEPTHS = (1, 2, 3, 4, 5)
WIDTH = 700  # the paper's hidden width (scale parameter "width"; tests use a narrow net)
ACTIVATIONS = ("sigmoid", "relu")
OPTIMIZERS = ("sgd", "sdagd")
LABELS = {"sgd": "SGD", "sdagd": "SDAGD", "sigmoid": "sigmoid", "relu": "ReLU"}

# Table I of the paper: test MCR (%) per (optimizer, activation), hl-1 … hl-5
PAPER_MCR: dict[tuple[str, str], tuple[float, ...]] = {
    ("sgd", "sigmoid"): (10.73, 12.98, 33.71, 88.65, 89.91),
    ("sgd", "relu"): (10.95, 10.07, 9.32, 9.24, 9.22),
    ("sdagd", "sigmoid"): (3.34, 3.66, 4.00, 4.11, 5.07),
    ("sdagd", "relu"): (1.77, 1.96, 2.09, 2.09, 2.34),
}
FAILED = 50.0  # MCR (%) above which a cell "failed to train" (chance on MNIST is ≈ 89–90%)
TRAINS = 20.0  # MCR (%) below which a cell "trains"
EARLY_STEPS = 100  # "the first steps" over which the gradient-norm ratios are averaged




def paper_mcr(optimizer: str, activation: str, depth: int) -> float:
    """Table I: the paper's test MCR (%) of one cell."""
    return PAPER_MCR[(optimizer, activation)][depth - 1]


def cell_direction(paper_cell: float, paper_other: float, ours_cell: float, ours_other: float) -> bool:
    """Does a Table I cell keep the paper's qualitative shape when its number differs?

    Two conditions: the cell is in the paper's regime (both below or both at /
    above :data:`FAILED` % — learned vs failed), and it sits on the paper's side
    of the other optimizer's cell at the same activation and depth (the
    paper's SDAGD is below its SGD in every pair).
    """
    if not all(math.isfinite(v) for v in (paper_cell, paper_other, ours_cell, ours_other)):
        return False
    same_regime = (paper_cell >= FAILED) == (ours_cell >= FAILED)
    same_side = np.sign(paper_cell - paper_other) == np.sign(ours_cell - ours_other)
    return bool(same_regime and same_side)


def monotone_increase(means: Sequence[float], ses: Sequence[float] | None = None) -> bool:
    """True when ``means`` (by depth) never fall by more than the noise: m_{d+1} ≥ m_d − 2·√(se_d² + se_{d+1}²).

    With no standard errors (or NaN ones) the rule is the plain non-strict
    m_{d+1} ≥ m_d — so the paper's own columns can be checked with it.
    """
    m = np.asarray(means, dtype=float)
    s = np.zeros_like(m) if ses is None else np.nan_to_num(np.asarray(ses, dtype=float), nan=0.0)
    tolerance = 2 * np.sqrt(s[:-1] ** 2 + s[1:] ** 2)
    return bool(np.all(m[1:] >= m[:-1] - tolerance))


def rank_by_validation(table: pd.DataFrame, key: str, value: str = "val_acc") -> pd.DataFrame:
    """Rank the values of ``key`` by the mean over seeds of ``value`` — the rule of :func:`vanishing.lr_search`.

    ``table``: one row per (``key``, seed) with ``value`` (a diverged run
    counts as 0, as in lr_search). Best first: mean ↓, then the spread
    (population std over seeds) ↑, then the smaller ``key`` value.
    """
    summary = table.groupby(key)[value].agg(
        mean="mean", std=lambda v: float(np.std(np.asarray(v, dtype=float))), n="size").reset_index()
    return summary.sort_values(["mean", "std", key], ascending=[False, True, True], kind="mergesort").reset_index(drop=True)


def layer_ratio(df: pd.DataFrame, value: str, low: str, high: str) -> float:
    """mean(``value`` at layer ``low``) / mean(``value`` at layer ``high``) over the rows given (NaN without both)."""
    if df.empty or value not in df.columns:
        return math.nan
    by_layer = df.groupby("layer")[value].mean()
    a, b = by_layer.get(low, math.nan), by_layer.get(high, math.nan)
    return float(a / b) if b and math.isfinite(b) else math.nan



def _mcr_values(runs: pd.DataFrame, kind: str, act: str, depth: int) -> list[float]:
    part = runs[(runs["kind"] == kind) & (runs["activation"] == act) & (runs["depth"] == depth)]
    return (100 * part["test_mcr"].astype(float)).tolist()


def table_one(runs: pd.DataFrame, depths: Sequence[int]) -> pd.DataFrame:
    """Table I: per depth, the paper's MCR beside ours (mean, s.e., n over seeds) for the four columns."""
    rows = []
    for depth in depths:
        row = {"depth": depth}
        for kind in OPTIMIZERS:
            for act in ACTIVATIONS:
                m, se, n = mean_se(_mcr_values(runs, kind, act, depth))
                col = f"{LABELS[kind]} {LABELS[act]}"
                row[f"{col} paper"] = paper_mcr(kind, act, depth)
                row[f"{col} ours"] = m
                row[f"{col} se"] = se
                row[f"{col} n"] = n
        rows.append(row)
    return pd.DataFrame(rows)


def _table_one_text(t: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"MCR (%)": [f"hl-{d}" for d in t["depth"]]})
    for kind in OPTIMIZERS:
        for act in ACTIVATIONS:
            col = f"{LABELS[kind]} {LABELS[act]}"
            out[f"{col}: paper"] = [f"{v:.2f}" for v in t[f"{col} paper"]]
            out[f"{col}: ours"] = [_fmt(m, s) for m, s in zip(t[f"{col} ours"], t[f"{col} se"])]
    return out


def _fmt(mean: float, se: float) -> str:
    if not math.isfinite(mean):
        return "–"
    return f"{mean:.2f}" + (f" ± {se:.2f}" if math.isfinite(se) else "")




def seeds_per_cell(runs: pd.DataFrame) -> int:
    """The fewest seeds behind any (optimizer, activation, depth) cell of ``runs`` (0 when empty)."""
    if runs is None or runs.empty:
        return 0
    return int(runs.groupby(["kind", "activation", "depth"])["seed"].nunique().min())


def qualitative_row(claim: str, verdict: str, evidence: str, *, n: int | None, paper: str = "stated") -> dict:
    """:func:`~vanishing.studies.base.qualitative_claim_row` counting seeds per cell."""
    return qualitative_claim_row(claim, verdict, evidence, n=n, paper=paper, needs="seeds per cell")


def table_one_rows(runs: pd.DataFrame, depths: Sequence[int]) -> list[dict]:
    """Table I's 20 cells as numeric claim rows: paper MCR vs our per-seed MCRs (n = seeds of the cell).

    ``runs``: one row per run with ``kind`` (sgd/sdagd), ``activation``, ``depth``, ``seed``, ``test_mcr`` (or
    ``test_acc``) as :func:`_mcr_values` reads them. ``partly`` (direction held) only when the number is decidable.
    """
    rows: list[dict] = []
    for kind in OPTIMIZERS:
        other = "sdagd" if kind == "sgd" else "sgd"
        for act in ACTIVATIONS:
            for depth in depths:
                values = _mcr_values(runs, kind, act, depth)
                ours, ours_other = mean_se(values)[0], mean_se(_mcr_values(runs, other, act, depth))[0]
                holds = cell_direction(paper_mcr(kind, act, depth), paper_mcr(other, act, depth), ours, ours_other)
                rows.append(numeric_claim_row(f"Table I: {LABELS[kind]}, {LABELS[act]}, hl-{depth} — test MCR (%)",
                                  paper_mcr(kind, act, depth), values, direction_holds=holds,
                                  note="direction: same regime (learned/failed) and same side of "
                                  f"{LABELS[other]}" if holds else ""))
    return rows


def training_rows(runs: pd.DataFrame, epochs: pd.DataFrame, t1: pd.DataFrame, depths: Sequence[int]) -> list[dict]:
    """The qualitative claims of Fig 3–4 and the text, from the runs, their epoch table and :func:`table_one`.

    Each compares seed means, so each is ``inconclusive`` when a cell has fewer than 3 seeds.
    """
    rows: list[dict] = []
    n = seeds_per_cell(runs)

    def q(claim, verdict, evidence, paper="stated"):
        rows.append(qualitative_row(claim, verdict, evidence, n=n, paper=paper))

    def cell(kind: str, act: str, depth: int) -> float:
        return float(t1.loc[t1["depth"] == depth, f"{LABELS[kind]} {LABELS[act]} ours"].iloc[0])

    def fmt(kind: str, act: str) -> str:
        return ", ".join(f"hl-{d} {cell(kind, act, d):.1f}%" for d in depths)

    # Fig 3(a): SGD + sigmoid trains shallow, fails deep
    deep = [d for d in depths if d >= 4]
    shallow = [d for d in depths if d == 1]
    fails = all(cell("sgd", "sigmoid", d) >= FAILED for d in deep)
    trains = all(cell("sgd", "sigmoid", d) < FAILED for d in shallow)
    onset = next((d for d in depths if cell("sgd", "sigmoid", d) >= FAILED), None)
    verdict = ("reproduced" if fails and trains and onset == 4 else
               "partly" if fails and deep else "not reproduced")
    q(
        "Fig 3(a): SGD with sigmoid trains at hl-1, has difficulties at hl-2 … hl-3 and fails completely at hl-4 … hl-5",
        verdict, f"SGD sigmoid test MCR: {fmt('sgd', 'sigmoid')}; first depth at ≥ {FAILED:.0f}% (failed): "
        + (f"hl-{onset}" if onset else "none") + " (paper: hl-4)", paper="Fig 3(a), Table I")
    # Fig 3(b): SDAGD + sigmoid trains every depth
    ok = [cell("sdagd", "sigmoid", d) < TRAINS for d in depths]
    q(
        "Fig 3(b): SDAGD trains the sigmoid nets at every depth",
        "reproduced" if all(ok) else "partly" if any(ok) else "not reproduced",
        f"SDAGD sigmoid test MCR: {fmt('sdagd', 'sigmoid')} (trains: < {TRAINS:.0f}%)", paper="Fig 3(b)")
    # Fig 4: both train with ReLU
    ok = [cell(k, "relu", d) < TRAINS for k in OPTIMIZERS for d in depths]
    q(
        "Fig 4: both SGD and SDAGD train the ReLU nets at every depth",
        "reproduced" if all(ok) else "partly" if any(ok) else "not reproduced",
        f"SGD ReLU: {fmt('sgd', 'relu')}; SDAGD ReLU: {fmt('sdagd', 'relu')}", paper="Fig 4")
    # roll-off: training loss after the first epoch
    first = epochs[epochs["epoch"] == 1].merge(runs[["run_id", "kind", "activation", "depth"]], on="run_id")
    loss1 = first.groupby(["kind", "activation", "depth"])["train_loss"].mean()
    pairs = [(a, d) for a in ACTIVATIONS for d in depths]
    faster = [(a, d) for a, d in pairs if loss1.get(("sdagd", a, d), np.inf) < loss1.get(("sgd", a, d), -np.inf)]
    q(
        "Fig 3–4: SDAGD has a faster roll-off than SGD",
        "reproduced" if len(faster) == len(pairs) else "partly" if faster else "not reproduced",
        f"training loss over epoch 1 is lower with SDAGD in {len(faster)} of {len(pairs)} (activation, depth) pairs"
        + (f" (not: {', '.join(f'{LABELS[a]} hl-{d}' for a, d in pairs if (a, d) not in faster)})"
           if len(faster) < len(pairs) else ""), paper="Fig 3–4")
    # SDAGD better in every configuration
    better = [(a, d) for a, d in pairs if cell("sdagd", a, d) < cell("sgd", a, d)]
    q(
        "Table I / conclusion: SDAGD has a lower MCR than SGD in every configuration",
        "reproduced" if len(better) == len(pairs) else "partly" if better else "not reproduced",
        f"SDAGD below SGD in {len(better)} of {len(pairs)} cells"
        + (f" (not: {', '.join(f'{LABELS[a]} hl-{d}' for a, d in pairs if (a, d) not in better)})"
           if len(better) < len(pairs) else ""), paper="Table I: 10 of 10")
    # monotonic increase with depth
    cols = [(k, a) for k in OPTIMIZERS for a in ACTIVATIONS]
    ours_mono = {c: monotone_increase([cell(*c, d) for d in depths],
                                      t1[f"{LABELS[c[0]]} {LABELS[c[1]]} se"].tolist()) for c in cols}
    paper_mono = {c: monotone_increase([paper_mcr(*c, d) for d in depths]) for c in cols}
    n_ours = sum(ours_mono.values())
    q(
        "Both SGD and SDAGD show a monotonic increase of MCR with the number of hidden layers",
        "reproduced" if n_ours == len(cols) else "partly" if n_ours else "not reproduced",
        "ours (no fall larger than 2 s.e. between consecutive depths): "
        + "; ".join(f"{LABELS[k]} {LABELS[a]} {'yes' if ours_mono[(k, a)] else 'no'}" for k, a in cols)
        + ". The paper's own Table I: " + "; ".join(f"{LABELS[k]} {LABELS[a]} {'yes' if paper_mono[(k, a)] else 'no'}"
                                                   for k, a in cols)
        + " — its SGD-ReLU column falls from 10.95% (hl-1) to 9.22% (hl-5), so the claim does not hold for its own data",
        paper="stated (contradicted by its SGD-ReLU column)")
    # the best cell
    best = min(((k, a, d) for k, a in cols for d in depths), key=lambda c: cell(*c))
    k, a, d = best
    verdict = ("reproduced" if best == ("sdagd", "relu", 1) else
               "partly" if (k, a) == ("sdagd", "relu") else "not reproduced")
    q(
        "The best MCR is SDAGD with ReLU at hl-1 (1.77%)", verdict,
        f"our best cell: {LABELS[k]} {LABELS[a]} hl-{d} at {cell(k, a, d):.2f}%", paper="Table I")
    return rows
