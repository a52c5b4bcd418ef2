"""Analyses of stored results that several studies share, callable on any :func:`vanishing.load` result.

Every function takes the tables ``vanishing.load(root)`` gives — ``.runs``
(one row per run: ``run_id``, ``seed``, ``headline_epoch``, …), ``.epochs``
and ``.probes[name]`` — and returns a plain DataFrame; none trains or reads
files. Used by the Pretorius study (seed 001) and open to the others::

    import vanishing
    from vanishing import analysis

    res = vanishing.load("vanishing-results/study-pretorius-paper")
    stats = res.probes["activation_stats"]
    per_layer = analysis.node_summary(stats)             # η², IQR overlap, … per (run, epoch, layer)
    medians = analysis.class_medians(stats)              # Fig 5–7 of Pretorius et al.: median per class per node
    sel = analysis.selected_epochs(res.runs, res.probes["sparsity"])  # the best-validation snapshot of each run
    curves = analysis.sparsity_by_epoch(res.probes["sparsity"])       # layer sparsity vs epoch, mean ± s.e. over seeds

Sources: the correlation ratio η² is Pearson's (1905; Fisher's "correlation
ratio", Kelley 1935) — the between-class share of a node's output variance;
the class medians and interquartile ranges are those Pretorius, Barnard &
Davel (2019, FAIR, seed 001) plot in Fig 3–7; layer sparsity is their Table 1
quantity (the mean over a layer's nodes of the fraction of samples on which
a node outputs 0), here as recorded by the ``sparsity`` probe at every
snapshot epoch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

SATURATED_MEDIAN = 0.1  # a sigmoid class median within this of 0 or 1 counts as saturated (Pretorius Fig 5)
POINT_STD = 0.01  # a class distribution with std below this is "almost a point distribution" (Pretorius Fig 3)

NODE_COLUMNS = ("eta2", "median_spread", "overlap", "median_extreme", "median_zero", "median_offcentre",
                "active_classes", "within_std", "point_fraction")

__all__ = ["NODE_COLUMNS", "POINT_STD", "SATURATED_MEDIAN", "at_epochs", "class_medians", "mean_se", "node_statistics",
           "node_summary", "selected_epochs", "slope", "sparsity_by_epoch"]


def mean_se(values: Sequence[float]) -> tuple[float, float, int]:
    """Mean, standard error s/√n (s with n − 1; NaN for one value) and n over the finite values."""
    arr = np.asarray([float(v) for v in values if v is not None and math.isfinite(float(v))], dtype=float)
    n = len(arr)
    if n == 0:
        return math.nan, math.nan, 0
    return float(arr.mean()), (float(arr.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan), n


def slope(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Least-squares slope of y on x and its standard error (NaN when fewer than 3 points or x constant).

    b = Σ (x − x̄)(y − ȳ) / Σ (x − x̄)²; s.e. = √(Σ r² / (n − 2) / Σ (x − x̄)²), the ordinary-least-squares formula.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 2 or np.ptp(x) == 0:
        return math.nan, math.nan
    sxx = float(((x - x.mean()) ** 2).sum())
    b = float(((x - x.mean()) * (y - y.mean())).sum() / sxx)
    if len(x) < 3:
        return b, math.nan
    resid = y - (y.mean() + b * (x - x.mean()))
    return b, float(math.sqrt((resid ** 2).sum() / (len(x) - 2) / sxx))


# --------------------------------------------------------------------------- node statistics


def _wide(stats: pd.DataFrame) -> pd.DataFrame:
    cls = stats[stats["class"] >= 0]
    return cls.pivot_table(index=["run_id", "epoch", "layer", "node"], columns="class",
                           values=["count", "mean", "std", "median", "q25", "q75"], aggfunc="first")


def node_statistics(stats: pd.DataFrame) -> pd.DataFrame:
    """Per (run_id, epoch, layer, node): how much class information the node carries and how its classes sit.

    ``stats`` = ``activation_stats`` probe rows: per node j and class c ≥ 0 the
    ``count`` n_c, ``mean`` m_c, ``std`` s_c (n − 1), ``median``, ``q25``,
    ``q75`` (class −1, all samples, is ignored). Columns:

    * ``eta2`` — the correlation ratio η² = Σ_c n_c (m_c − m)² / Σ_c [(n_c − 1) s_c² + n_c (m_c − m)²],
      m = Σ n_c m_c / Σ n_c the pooled mean: the share of the node's output
      variance explained by the class, 0 (no class information) to 1; 0 for a
      node constant on the probe set. Scale-free, so sigmoid and ReLU nodes compare;
    * ``median_spread`` — population std over classes of the class medians (activation units);
    * ``overlap`` — fraction of class pairs (a, b) whose interquartile ranges intersect,
      max(q25_a, q25_b) ≤ min(q75_a, q75_b);
    * ``median_extreme`` — fraction of class medians ≤ 0.1 or ≥ 0.9 (:data:`SATURATED_MEDIAN`);
    * ``median_zero`` — fraction of class medians ≤ 0; ``median_offcentre`` — mean |median − 0.5|;
    * ``active_classes`` — number of classes whose median is > 0;
    * ``within_std`` — mean of s_c; ``point_fraction`` — fraction of classes with s_c < 0.01 (:data:`POINT_STD`).
    """
    wide = _wide(stats)
    n = wide["count"].to_numpy(float)
    mean = wide["mean"].to_numpy(float)
    std = wide["std"].to_numpy(float)
    med = wide["median"].to_numpy(float)
    q25 = wide["q25"].to_numpy(float)
    q75 = wide["q75"].to_numpy(float)
    grand = (n * mean).sum(axis=1, keepdims=True) / n.sum(axis=1, keepdims=True)
    between = (n * (mean - grand) ** 2).sum(axis=1)
    within = ((n - 1) * np.nan_to_num(std) ** 2).sum(axis=1)
    total = between + within
    with np.errstate(invalid="ignore", divide="ignore"):
        eta2 = np.where(total > 1e-12 * np.maximum(1.0, (n * mean ** 2).sum(axis=1)), between / total, 0.0)
    iu = np.triu_indices(med.shape[1], k=1)
    lo = np.maximum(q25[:, :, None], q25[:, None, :])
    hi = np.minimum(q75[:, :, None], q75[:, None, :])
    overlap = (lo <= hi)[:, iu[0], iu[1]].mean(axis=1) if len(iu[0]) else np.zeros(len(med))
    return pd.DataFrame({
        "eta2": eta2,
        "median_spread": np.std(med, axis=1),
        "overlap": overlap,
        "median_extreme": ((med <= SATURATED_MEDIAN) | (med >= 1 - SATURATED_MEDIAN)).mean(axis=1),
        "median_zero": (med <= 0).mean(axis=1),
        "median_offcentre": np.abs(med - 0.5).mean(axis=1),
        "active_classes": (med > 0).sum(axis=1).astype(float),
        "within_std": std.mean(axis=1),
        "point_fraction": (std < POINT_STD).mean(axis=1),
    }, index=wide.index).reset_index()


def node_summary(stats: pd.DataFrame) -> pd.DataFrame:
    """Per (run_id, epoch, layer): :func:`node_statistics` averaged over the layer's nodes (unweighted)."""
    per_node = node_statistics(stats)
    return per_node.groupby(["run_id", "epoch", "layer"])[list(NODE_COLUMNS)].mean().reset_index()


def class_medians(stats: pd.DataFrame) -> pd.DataFrame:
    """The median activation of every class at every node (Pretorius Fig 5–7): one row per (run_id, epoch, layer,
    node), one column per class c (the ``median`` of the ``activation_stats`` row of class c)."""
    cls = stats[stats["class"] >= 0]
    wide = cls.pivot_table(index=["run_id", "epoch", "layer", "node"], columns="class", values="median", aggfunc="first")
    wide.columns = [int(c) for c in wide.columns]
    return wide.reset_index()


# --------------------------------------------------------------------------- epochs: selected, untrained, along training


def selected_epochs(runs: pd.DataFrame, available: pd.DataFrame) -> dict[str, int]:
    """run_id → the snapshot epoch that stands for the selected ("trained") model.

    The run's ``headline_epoch`` (the best-validation epoch: model selection)
    when a snapshot was taken there; else the latest snapshot at or before it
    (a sparse probe schedule); else the run's last snapshot. ``available``:
    any probe table with ``run_id`` and ``epoch``.
    """
    out = {}
    have = available.groupby("run_id")["epoch"].agg(lambda e: sorted({int(x) for x in e}))
    for _, r in runs.iterrows():
        rid = r["run_id"]
        if rid not in have.index:
            continue
        epochs = have[rid]
        head = r.get("headline_epoch")
        if head is None or pd.isna(head):
            out[rid] = epochs[-1]
            continue
        before = [e for e in epochs if e <= int(head)]
        out[rid] = before[-1] if before else epochs[-1]
    return out


def last_epochs(available: pd.DataFrame) -> dict[str, int]:
    """run_id → the run's last snapshot epoch."""
    return {str(k): int(v) for k, v in available.groupby("run_id")["epoch"].max().items()}


def at_epochs(df: pd.DataFrame, epochs: Mapping[str, int]) -> pd.DataFrame:
    """The rows of ``df`` at each run's epoch in ``epochs`` (e.g. from :func:`selected_epochs`); other runs dropped."""
    want = df["run_id"].map(epochs)
    return df[df["epoch"] == want]


def sparsity_by_epoch(sparsity: pd.DataFrame, runs: pd.DataFrame | None = None, by: Sequence[str] = (),
                      value: str = "sparsity", scale: float = 100.0) -> pd.DataFrame:
    """Layer sparsity against epoch, mean ± s.e. over seeds (runs): one row per (``by`` …, layer, epoch).

    ``sparsity`` = the ``sparsity`` probe table (one row per run, epoch, layer;
    ``value`` the fraction of (sample, node) pairs at 0, i.e. the mean over
    the layer's nodes of the fraction of samples on which the node is
    inactive — Pretorius et al.'s Table 1 quantity). ``by`` names columns of
    ``runs`` (joined on ``run_id``) that split the curves (e.g. ``task``,
    ``batch_norm``). Columns: ``*by, layer, epoch, mean, se, n`` with
    ``mean`` = (1/n) Σ_runs scale·value and ``se`` = s/√n. Works as well for
    ``saturation`` (``value="saturation"``) or ``dead_units`` (``"fraction"``).
    """
    by = list(by)
    df = sparsity
    if by:
        df = df.merge(runs[["run_id", *by]].drop_duplicates("run_id"), on="run_id", how="inner")
    df = df.assign(_v=scale * pd.to_numeric(df[value], errors="coerce"))
    rows = []
    for key, part in df.groupby([*by, "layer", "epoch"], sort=True):
        key = key if isinstance(key, tuple) else (key,)
        m, se, n = mean_se(part["_v"].tolist())
        rows.append({**dict(zip([*by, "layer", "epoch"], key)), "mean": m, "se": se, "n": n})
    return pd.DataFrame(rows, columns=[*by, "layer", "epoch", "mean", "se", "n"])
