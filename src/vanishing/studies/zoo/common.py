"""Zoo: the grid's constants and the pure table helpers that protocol, claims and figures share."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..base import mean_se

ARTICLE = ("sigmoid", "tanh", "relu", "leaky_relu(alpha=0.1)", "prelu", "rrelu", "elu")  # the article's list
REMEDY_ACTS = ("sigmoid", "tanh", "relu")
REMEDIES = {  # name → (init, batch_norm, residual)
    "torch default init": ("torch_default", "off", False),
    "Xavier / He init": ("auto", "off", False),
    "+ batch norm": ("auto", "before", False),
    "+ residual": ("auto", "off", True),
}
DYING_ACTS = ("relu", "leaky_relu", "prelu", "rrelu", "elu")
SNAP = "epochs='init,last'"
PROBES = ["minimal", f"backprop_signal({SNAP})", f"dead_units({SNAP})", f"saturation({SNAP})", f"sparsity({SNAP})",
          f"activation_stats({SNAP})"]
LIGHT_PROBES = ["minimal", f"backprop_signal({SNAP})", f"dead_units({SNAP})", f"saturation({SNAP})"]


# --------------------------------------------------------------------------- small helpers



def act_name(spec: str) -> str:
    """The registry name of an activation spec ("leaky_relu(alpha=0.01)" → "leaky_relu")."""
    from ... import activations

    return activations.get(str(spec)).name


def _fmt(values: Sequence[float], digits: int = 2, scale: float = 1.0) -> str:
    mean, se, n = mean_se([scale * v for v in values])
    if n == 0:
        return "–"
    return f"{mean:.{digits}f}" + (f" ± {se:.{digits}f}" if math.isfinite(se) else "")


def _fmt_g(values: Sequence[float]) -> str:
    mean, se, n = mean_se(values)
    if n == 0:
        return "–"
    return f"{mean:.3g}" + (f" ± {se:.2g}" if math.isfinite(se) else "")


def _base(p: Mapping, *, probes: Sequence[str] = PROBES, optimizer: str | None = None, lr: float | None = None) -> dict:
    data = {"dataset": p["dataset"]}
    if p.get("train_subset"):
        data["train_subset"] = p["train_subset"]
    return {
        "data": data,
        "model": {"hidden": [p["width"]] * p["depth"], "output": "softmax", "init": "auto", "bias_init": "zeros"},
        "optim": {"loss": "ce", "optimizer": optimizer or p["optimizer"], "lr": lr if lr is not None else p["lr"]},
        "train": {"epochs": p["epochs"], "batch_size": 128},
        "probes": {"enabled": list(probes)},
    }


# --------------------------------------------------------------------------- per-run measurements


def _layer_values(df: pd.DataFrame | None, run_id: str, epoch: int | str, value: str) -> pd.Series:
    """``value`` per layer (hidden1 … in order) of one run at ``epoch`` (an int, or "last")."""
    from ...report.groups import ordered_layers

    if df is None or df.empty:
        return pd.Series(dtype=float)
    part = df[df["run_id"] == run_id]
    if part.empty:
        return pd.Series(dtype=float)
    e = int(part["epoch"].max()) if epoch == "last" else int(epoch)
    part = part[part["epoch"] == e]
    if "defined" in part.columns:
        part = part[part["defined"].astype(bool)]
    series = part.groupby("layer")[value].mean()
    return series.loc[[x for x in ordered_layers(series.index) if x != "output"]]


def run_summary(tables) -> pd.DataFrame:
    """One row per run: activation, variant fields, test accuracy (%), losses, and per-layer probe summaries.

    ``delta_ratio0`` / ``delta_ratio_last``: per-example RMS δ of hidden1 over
    that of the last hidden layer, at init / after the last epoch;
    ``dead0``/``dead_last``, ``sat0``/``sat_last``, ``sparsity0``/``sparsity_last``:
    mean over hidden layers (%; NaN where the probe is undefined);
    ``dead_max_last``: the largest layer's dead share; ``mean_act_last``:
    mean over layers of |mean output of the layer| on the probe set (from the
    pooled-class node means); ``epoch_time``: mean training time per epoch (s).
    """
    runs, epochs, probes = tables.runs, tables.epochs, tables.probes
    rows = []
    for _, r in runs.iterrows():
        rid = r["run_id"]
        ep = epochs[epochs["run_id"] == rid].sort_values("epoch")
        row = {"run_id": rid, "seed": int(r["seed"]), "activation": r["activation"], "act": act_name(r["activation"]),
               "init": r["init"], "batch_norm": r["batch_norm"], "residual": bool(r["residual"]),
               "optimizer": r["optimizer"], "status": r["status"], "path": r.get("path"),
               "test_acc": 100 * float(r["test_acc"]) if pd.notna(r["test_acc"]) else math.nan,
               "train_loss1": float(ep["train_loss"].iloc[0]) if len(ep) else math.nan,
               "train_loss_last": float(ep["train_loss"].iloc[-1]) if len(ep) else math.nan,
               "epoch_time": float(ep["epoch_time_s"].mean()) if len(ep) else math.nan}
        bs = probes.get("backprop_signal")
        for tag, e in (("0", 0), ("_last", "last")):
            d = _layer_values(bs, rid, e, "rms")
            row[f"delta_ratio{tag}"] = float(d.iloc[0] / d.iloc[-1]) if len(d) > 1 and d.iloc[-1] > 0 else math.nan
            for name, table, value in (("dead", "dead_units", "fraction"), ("sat", "saturation", "saturation"),
                                       ("sparsity", "sparsity", "sparsity")):
                v = _layer_values(probes.get(table), rid, e, value)
                row[f"{name}{tag}"] = 100 * float(v.mean()) if len(v) else math.nan
                if name == "dead" and tag == "_last":
                    row["dead_max_last"] = 100 * float(v.max()) if len(v) else math.nan
        stats = probes.get("activation_stats")
        for tag, e in (("0", 0), ("_last", "last")):
            if stats is not None and not stats.empty:
                pooled = stats[stats["class"] == -1]
                m = _layer_values(pooled, rid, e, "mean")
                row[f"mean_act{tag}"] = float(m.abs().mean()) if len(m) else math.nan
            else:
                row[f"mean_act{tag}"] = math.nan
        rows.append(row)
    return pd.DataFrame(rows)




def _variant(row) -> str:
    if row["batch_norm"] != "off":
        return "+ batch norm"
    if row["residual"]:
        return "+ residual"
    return "torch default init" if str(row["init"]).startswith("torch_default") else "Xavier / He init"


def _col(summary: pd.DataFrame, col: str, **where) -> list[float]:
    mask = pd.Series(True, index=summary.index)
    for k, v in where.items():
        mask &= summary[k] == v
    return [float(v) for v in summary[mask][col] if pd.notna(v)]


def _m(values) -> float:
    return mean_se(values)[0]



def _census_means(census: pd.DataFrame, label: str, col: str) -> list[float]:
    """Per run (seed) of ``label``: the mean over layers of a census column, in %."""
    if census is None or census.empty:
        return []
    part = census[census["label"] == label]
    return (100 * part.groupby("run_id")[col].mean()).tolist()

