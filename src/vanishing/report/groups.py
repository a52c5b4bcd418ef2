"""Grouping runs into configurations and summarising over seeds.

A *configuration* is every run that shares a ``config_hash`` (the hash covers
every result-affecting field except the seed), so "mean ± s.e. over seeds" is
a group-by on ``config_hash``. The standard error of the mean over the n seeds
of a configuration is

    s.e. = s / √n,   s = ( Σ (x_i − x̄)² / (n − 1) )^½   (the sample standard deviation)

and is NaN for a single seed (no band is drawn, no "±" is printed).

Labels name a configuration by the config fields that *vary* across the runs
shown ("activation=relu, hidden=200,200"), so a legend never repeats what is
common to every line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ..store.results import SUMMARY_COLUMNS

# columns of Results.runs that describe a run's outcome or identity, not its configuration
NON_CONFIG = frozenset({"run_id", "status", "config_hash", "seed", "path", *SUMMARY_COLUMNS})
# derived from ``hidden``: shown only when ``hidden`` itself is not
DERIVED = ("depth", "width")
# instrument settings: they change the hash but not the training; named in labels only when nothing else differs
INSTRUMENTS = ("probes", "probe_per_class", "probe_split", "probe_seed")
MAX_VALUE_CHARS = 40
GROUP = "_group"  # column added by attach_groups: the group key
LABEL = "_label"  # column added by attach_groups: the group's legend text


def config_columns(runs: pd.DataFrame) -> list[str]:
    """The configuration fields among the columns of ``runs`` (in their column order)."""
    return [c for c in runs.columns if c not in NON_CONFIG]


def _key(value) -> str:
    """A comparable text form of a config value (None and NaN are the same "unset")."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "None"
    return str(value)


def varying_columns(runs: pd.DataFrame) -> list[str]:
    """Config fields that take more than one value across ``runs`` (``depth``/``width`` only without ``hidden``)."""
    cols = [c for c in config_columns(runs) if runs[c].map(_key).nunique() > 1]
    if "hidden" in cols:
        cols = [c for c in cols if c not in DERIVED]
    return cols


def constant_config(runs: pd.DataFrame) -> dict[str, object]:
    """Config fields shared by every run of ``runs``, with their common value."""
    varying = set(varying_columns(runs)) | set(DERIVED)
    return {c: runs[c].iloc[0] for c in config_columns(runs) if c not in varying and len(runs)}


def short_values(column: str, values: Iterable) -> dict[str, str]:
    """Display text for the values of one field: specs shortened to their names when that stays unique, long text cut."""
    values = sorted({_key(v) for v in values})
    names = {v: re.split(r"[(]", v, maxsplit=1)[0] for v in values}
    if column in ("optimizer", "schedule", "init", "bias_init", "probes") and len(set(names.values())) == len(values):
        return names
    return {v: v if len(v) <= MAX_VALUE_CHARS else v[: MAX_VALUE_CHARS - 1] + "…" for v in values}


def label_columns(runs: pd.DataFrame) -> list[str]:
    """The varying fields that name a configuration (instrument settings only when nothing else varies)."""
    cols = varying_columns(runs)
    core = [c for c in cols if c not in INSTRUMENTS]
    return core or cols


def config_labels(runs: pd.DataFrame, columns: Sequence[str] | None = None) -> dict[str, str]:
    """``config_hash`` → legend text built from the varying fields (or ``columns``)."""
    if runs.empty:
        return {}
    columns = list(label_columns(runs) if columns is None else columns)
    shown = {c: short_values(c, runs[c]) for c in columns}
    labels: dict[str, str] = {}
    for h, rows in runs.groupby("config_hash", sort=False):
        first = rows.iloc[0]
        if columns:
            labels[h] = ", ".join(f"{c}={shown[c][_key(first[c])]}" for c in columns)
        else:
            act, hidden = first.get("activation"), first.get("hidden")
            labels[h] = ", ".join([*([str(act)] if act is not None else []),
                                   *([f"hidden {hidden}"] if hidden is not None else [])]) or str(h)[:12]
    return labels


def attach_groups(df: pd.DataFrame, runs: pd.DataFrame | None, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """``df`` (rows keyed by ``run_id``) with a group key and a label per row.

    ``by=None`` groups by configuration (``config_hash``, labelled by the
    varying fields); ``by`` = one or more columns of ``runs`` groups by those
    (labelled "col=value, …"). Without ``runs`` every run is its own group.
    Rows whose run is not in ``runs`` are dropped.
    """
    out = df.copy()
    if runs is None or runs.empty:
        out[GROUP] = out["run_id"]
        out[LABEL] = out["run_id"]
        return out
    if by is None:
        labels = config_labels(runs)
        key = runs.set_index("run_id")["config_hash"]
        out[GROUP] = out["run_id"].map(key)
        out[LABEL] = out[GROUP].map(labels)
    else:
        cols = [by] if isinstance(by, str) else list(by)
        meta = runs.set_index("run_id")[cols]
        text = meta.apply(lambda r: ", ".join(f"{c}={_key(r[c])}" for c in cols), axis=1)
        out[GROUP] = out["run_id"].map(text)
        out[LABEL] = out[GROUP]
    return out[out[GROUP].notna()]


def mean_se(values) -> tuple[float, float, int]:
    """(mean, standard error s/√n, n) of the finite values; s.e. is NaN for n < 2, mean NaN for n = 0."""
    x = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return math.nan, math.nan, 0
    se = float(x.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return float(x.mean()), se, n


def seed_stats(df: pd.DataFrame, keys: Sequence[str], value: str) -> pd.DataFrame:
    """Per ``keys``: ``mean``, ``se`` (= s/√n) and ``n`` of ``value`` over the rows (one row per seed)."""
    rows = []
    for k, part in df.groupby(list(keys), sort=True, dropna=False):
        k = k if isinstance(k, tuple) else (k,)
        m, se, n = mean_se(part[value])
        rows.append({**dict(zip(keys, k)), "mean": m, "se": se, "n": n})
    return pd.DataFrame(rows, columns=[*keys, "mean", "se", "n"])


def layer_rank(name) -> tuple[int, float]:
    """Sort key of a layer from input to output: hidden1 < hidden2 < … < (unknown names) < output; an int k ranks as hidden k."""
    if isinstance(name, (int, np.integer)):
        return (0, float(name))
    m = re.fullmatch(r"hidden(\d+)", str(name))
    if m:
        return (0, float(m.group(1)))
    return (2, 0.0) if str(name) == "output" else (1, 0.0)


def ordered_layers(names: Iterable) -> list:
    """The distinct layer names sorted from input to output."""
    return sorted(set(names), key=lambda n: (layer_rank(n), str(n)))
