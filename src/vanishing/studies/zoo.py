"""The activation zoo: how activation functions evolved against vanishing gradients — seed ``004``.

"Vanishing Gradient Problem: one of the most critical problems in the
history of deep learning development" (blog article, 15 Aug 2021; section 1,
"How activation functions have evolved"). The article walks through the
sigmoid, tanh, ReLU, leaky ReLU, PReLU, RReLU and ELU (and names ReLU6,
swish, hard swish as variants) and states:

* the sigmoid's derivative σ(1 − σ) is at most 0.25 (at x = 0), so chained
  derivatives shrink layer after layer and the gradients vanish;
* tanh = 2σ(2x) − 1 has a maximum derivative of 1.0 at x = 0 — better than
  the sigmoid, but its derivative is below 1 elsewhere, so deep tanh nets can
  still suffer;
* ReLU's derivative is 1 for x > 0, which solves the vanishing gradient; it
  is cheap (no exponential) and sparse (exact zeros); but units can die —
  output only 0 for every input — which careful (He) initialisation and
  batch normalisation counter;
* leaky ReLU, PReLU and RReLU keep a slope below zero (RReLU uses the mean of
  its slope range, (1/8 + 1/3)/2, at test time) and avoid the dying ReLU;
* ELU keeps the mean activation closer to zero than ReLU (less bias shift)
  and makes training converge faster.

The article has no experiment. This study measures each statement on a deep
MLP (``depth`` hidden layers of ``width`` units, default 8 × 256) trained on
MNIST with **every activation of the registry** (16), through the sweep
machinery, with SGD + momentum (the optimizer under which vanishing gradients
show in the accuracy; the article names none), and records per layer: the
weight-gradient norms over training, the per-example δ at init and after
training beside the mean-field prediction, dead units, saturation, sparsity
and the mean activation. A remedy grid trains sigmoid, tanh and ReLU with
torch's default init, with Xavier/He init, + batch norm and + residual
connections; a dying-ReLU stress test (Adam at lr 0.01) compares ReLU with
leaky ReLU, PReLU, RReLU, ELU and ReLU + batch norm, counting from the
trained weights the units whose pre-activation is ≤ 0 on every probe example
and those that get no gradient at all.

Reproduces: the function and derivative plots of every activation (the
article's figures), and — as measurements the article only asserts — the
gradient norms per layer, δ by layer against mean-field theory, dead units,
saturation, sparsity, the effect of He init, batch norm and residual
connections, and the dying-ReLU comparison.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .base import Study, StudyContext, mean_se

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
    from .. import activations

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
    from ..report.groups import ordered_layers

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


def unit_census(model, x) -> pd.DataFrame:
    """Per hidden layer of a trained MLP, in eval mode on the inputs ``x``: which units are off for every example.

    ``negative``: share of units whose pre-activation a ≤ 0 on every example
    (for ReLU these output 0 for every input); ``no_gradient``: share of
    units whose derivative f′(a) is 0 on every example (they pass no
    gradient to their weights — the dying ReLU; 0 by construction for leaky
    ReLU, PReLU, RReLU and ELU, whose f′ > 0 below zero). Columns ``layer``,
    ``width``, ``negative``, ``no_gradient`` (fractions).
    """
    import torch

    was_training = model.training
    model.eval()
    rows = []
    try:
        with torch.no_grad():
            h = x
            for name, layer in zip(model.layer_names, model.hidden_layers):
                a = layer.pre_activation(h)
                df = layer.act.derivative(a)
                rows.append({"layer": name, "width": a.shape[1],
                             "negative": float((a <= 0).all(dim=0).double().mean()),
                             "no_gradient": float((df == 0).all(dim=0).double().mean())})
                h = layer.post_activation(h, a)
    finally:
        model.train(was_training)
    return pd.DataFrame(rows)


def load_trained(run_path: str, n_in: int, n_out: int):
    """The MLP of a finished run, rebuilt from its ``config.json`` and the last checkpoint (weights only)."""
    import json
    from pathlib import Path

    import torch

    from ..config import config_from_dict, resolve
    from ..model import build_model

    folder = Path(run_path)
    cfg = resolve(config_from_dict(json.loads((folder / "config.json").read_text())["config"]))
    model = build_model(cfg.model, n_in, n_out, seed=cfg.seed)
    state = torch.load(folder / "checkpoint.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    return model


def activation_cost(names: Sequence[str], *, shape: tuple[int, int] = (128, 256), calls: int = 30,
                    rounds: int = 15, seed: int = 0) -> pd.DataFrame:
    """Time of one forward + backward of each activation module on a ``shape`` tensor (one thread), in µs.

    The modules are the ones the MLPs use (training mode). Each round times
    ``calls`` calls of every activation in a shuffled order (interleaved, so
    a slow spell of a shared machine hits them all); the table holds the
    median over rounds (``us``) and its ratio to ReLU's (``vs_relu``).
    """
    import time

    import torch

    from .. import activations

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)
    try:
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(*shape, generator=gen, requires_grad=True)
        grad = torch.randn(*shape, generator=gen)
        mods = {n: activations.get(n).module(shape[1]).train() for n in names}
        times: dict[str, list[float]] = {n: [] for n in names}
        for _ in range(rounds):
            for n in rng.permutation(list(names)):
                mod = mods[n]
                start = time.perf_counter()
                for _ in range(calls):
                    x.grad = None
                    mod(x).backward(grad)
                times[n].append((time.perf_counter() - start) / calls * 1e6)
    finally:
        torch.set_num_threads(threads)
    rows = [{"activation": act_name(n), "us": float(np.median(times[n]))} for n in names]
    df = pd.DataFrame(rows)
    relu = df[df["activation"] == "relu"]["us"]
    df["vs_relu"] = df["us"] / float(relu.iloc[0]) if len(relu) else math.nan
    return df


# --------------------------------------------------------------------------- figures


def figure_cost(cost: pd.DataFrame):
    """Forward + backward time of each activation module (µs), horizontal bars."""
    from ..report.figures import TAB10, new_figure

    with _style():
        fig, axes = new_figure(1, 1, panel=(4.6, 0.24 * len(cost) + 1.0))
        ax = axes[0][0]
        y = np.arange(len(cost))
        colors = [TAB10[3] if a == "relu" else TAB10[0] for a in cost["activation"]]
        ax.barh(y, cost["us"], color=colors, alpha=0.85)
        ax.set_yticks(y, cost["activation"])
        ax.invert_yaxis()
        ax.set_xlabel("forward + backward of f on a 128 × 256 batch (µs, one thread)")
    return fig


def _style():
    import matplotlib

    from ..report.figures import STYLE

    return matplotlib.rc_context(STYLE)


def figure_delta_grid(summary: pd.DataFrame, signal: pd.DataFrame, theories: Mapping[str, pd.DataFrame], acts: Sequence[str]):
    """Per-example RMS δ by layer for every activation: at init (dark), after training (light), mean-field (dashed)."""
    from ..report.figures import epoch_colors, new_figure, theory_line
    from ..report.groups import ordered_layers

    ncols = 4
    nrows = -(-len(acts) // ncols)
    with _style():
        fig, axes = new_figure(nrows, ncols, panel=(2.5, 2.0), sharex=True)
        for ax, act in zip(axes.flat, acts):
            ids = summary[summary["act"] == act]["run_id"]
            part = signal[signal["run_id"].isin(ids)]
            if part.empty:
                ax.set_visible(False)
                continue
            layers = [x for x in ordered_layers(part["layer"]) if x != "output"]
            last = int(part["epoch"].max())
            colors = epoch_colors([0, last])
            for e in (0, last):
                g = part[part["epoch"] == e].groupby("layer")["rms"]
                m, se = g.mean().loc[layers], g.std(ddof=1).loc[layers] / np.sqrt(g.count().loc[layers])
                ax.errorbar(range(1, len(layers) + 1), m, yerr=se.fillna(0), color=colors[e], marker="o", ms=3,
                            capsize=1.5, lw=1.2, label="init" if e == 0 else f"after epoch {last}")
            if act in theories:
                anchor = float(part[(part["epoch"] == 0) & (part["layer"] == layers[-1])]["rms"].mean())
                ax.plot(range(1, len(layers) + 1), theory_line(theories[act], layers, anchor), "k--", lw=1,
                        label="mean-field (init)")
            ax.set_yscale("log")
            _min_decades(ax, 2.0)
            ax.set_title(act, fontsize=8)
            ax.set_xticks(range(1, len(layers) + 1))
        for ax in list(axes.flat)[len(acts):]:
            ax.set_visible(False)
        for ax in axes[-1]:
            ax.set_xlabel("hidden layer")
        for row in axes:
            row[0].set_ylabel("RMS ‖δ‖ per example")
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=3)
    return fig


def _min_decades(ax, decades: float) -> None:
    """Widen a log y-axis around its geometric centre to span at least ``decades`` (flat lines then look flat)."""
    lo, hi = ax.get_ylim()
    if lo > 0 and hi > 0 and math.log10(hi / lo) < decades:
        mid = math.sqrt(lo * hi)
        ax.set_ylim(mid / 10 ** (decades / 2), mid * 10 ** (decades / 2))


def figure_grad_heatmap(grad: pd.DataFrame, summary: pd.DataFrame, acts: Sequence[str]):
    """Mean weight-gradient norm ‖∂E/∂W‖ over the first epoch, activation × layer, log colour."""
    from matplotlib.colors import LogNorm

    from ..report.figures import new_figure
    from ..report.groups import ordered_layers

    g = grad[grad["epoch"] == 1].merge(summary[["run_id", "act"]], on="run_id")
    table = g.groupby(["act", "layer"])["weight_l2"].mean().unstack("layer")
    table = table.loc[[a for a in acts if a in table.index], ordered_layers(table.columns)]
    z = table.to_numpy(float)
    with _style():
        fig, axes = new_figure(1, 1, panel=(6.4, 0.32 * len(table) + 1.2))
        ax = axes[0][0]
        ok = z[np.isfinite(z) & (z > 0)]
        mesh = ax.imshow(np.where(z > 0, z, np.nan), aspect="auto", cmap="viridis",
                         norm=LogNorm(ok.min(), ok.max()) if ok.size and ok.min() < ok.max() else None)
        ax.set_yticks(range(len(table)), table.index)
        ax.set_xticks(range(table.shape[1]), table.columns, rotation=45, ha="right")
        for i in range(z.shape[0]):
            for j in range(z.shape[1]):
                if np.isfinite(z[i, j]):
                    ax.text(j, i, f"{z[i, j]:.1e}", ha="center", va="center", fontsize=5.5,
                            color="white" if ok.size and z[i, j] < np.sqrt(ok.min() * ok.max()) else "black")
        ax.grid(False)
        fig.colorbar(mesh, ax=ax, label="mean ‖∂E/∂W‖₂ over epoch 1")
        ax.set_xlabel("layer (input → output)")
    return fig


def figure_summary_bars(summary: pd.DataFrame, acts: Sequence[str]):
    """Per activation, mean ± s.e. over seeds: test accuracy, dead units and saturation after training."""
    from ..report.figures import TAB10, new_figure

    cols = [("test_acc", "test accuracy (%)"), ("dead_last", "dead units, mean over layers (%)"),
            ("sat_last", "saturated (example, unit) pairs (%)")]
    with _style():
        fig, axes = new_figure(1, 3, panel=(2.9, 0.26 * len(acts) + 1.0), sharey=True)
        y = np.arange(len(acts))
        for ax, (col, label), color in zip(axes[0], cols, (TAB10[0], TAB10[3], TAB10[1])):
            means, ses = [], []
            for act in acts:
                m, se, _ = mean_se(summary[summary["act"] == act][col])
                means.append(m)
                ses.append(0.0 if not math.isfinite(se) else se)
            means = np.array(means, dtype=float)
            ax.barh(y, np.nan_to_num(means), xerr=ses, color=color, alpha=0.8)
            for yi, m in zip(y, means):
                if not math.isfinite(m):
                    ax.text(0, yi, " n/a", va="center", fontsize=6.5, color="0.4")
            ax.set_xlabel(label)
        axes[0][0].set_yticks(y, acts)
        axes[0][0].invert_yaxis()
    return fig


def figure_remedy_delta(summary: pd.DataFrame, signal: pd.DataFrame):
    """Per-example δ by layer for sigmoid, tanh and ReLU under each remedy: at init (top row) and trained (bottom)."""
    from ..report.figures import group_colors, new_figure
    from ..report.groups import ordered_layers

    with _style():
        fig, axes = new_figure(2, len(REMEDY_ACTS), panel=(3.2, 2.5), sharex=True)
        colors = dict(zip(REMEDIES, group_colors(len(REMEDIES))))
        for col, act in enumerate(REMEDY_ACTS):
            for row, when in enumerate(("init", "last")):
                ax = axes[row][col]
                for variant, color in colors.items():
                    ids = summary[(summary["act"] == act) & (summary["variant"] == variant)]["run_id"]
                    part = signal[signal["run_id"].isin(ids)]
                    if part.empty:
                        continue
                    part = part[part["epoch"] == (0 if when == "init" else part["epoch"].max())]
                    layers = [x for x in ordered_layers(part["layer"]) if x != "output"]
                    m = part.groupby("layer")["rms"].mean().loc[layers]
                    ax.plot(range(1, len(layers) + 1), m, marker="o", ms=3, color=color, label=variant)
                ax.set_yscale("log")
                _min_decades(ax, 2.0)
                ax.set_title(f"{act}, {'at init' if when == 'init' else 'after training'}", fontsize=8)
                if row == 1:
                    ax.set_xlabel("hidden layer")
            axes[0][0].set_ylabel("RMS ‖δ‖ per example")
            axes[1][0].set_ylabel("RMS ‖δ‖ per example")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))
    return fig


def figure_dying(census: pd.DataFrame):
    """Units negative on every probe example, and units with no gradient, per layer, per activation (stress test)."""
    from ..report.figures import group_colors, new_figure
    from ..report.groups import ordered_layers

    labels = [a for a in (*DYING_ACTS, "relu + batch norm") if a in set(census["label"])]
    with _style():
        fig, axes = new_figure(1, 2, panel=(3.8, 3.0), sharey=True)
        for color, label in zip(group_colors(len(labels)), labels):
            part = census[census["label"] == label]
            layers = ordered_layers(part["layer"])
            for ax, col in zip(axes[0], ("negative", "no_gradient")):
                g = part.groupby("layer")[col]
                m = 100 * g.mean().loc[layers]
                se = 100 * (g.std(ddof=1) / np.sqrt(g.count())).loc[layers].fillna(0)
                ax.errorbar(range(1, len(layers) + 1), m, yerr=se, marker="o", ms=3, capsize=1.5, color=color, label=label)
        axes[0][0].set_title("pre-activation ≤ 0 on every probe example", fontsize=8)
        axes[0][1].set_title("f′ = 0 on every probe example (dead: no gradient)", fontsize=8)
        axes[0][0].set_ylabel("units (%)")
        for ax in axes[0]:
            ax.set_xlabel("hidden layer")
        axes[0][1].legend(loc="best", fontsize=6.5)
    return fig


# --------------------------------------------------------------------------- the study


def _numeric(ctx: StudyContext, claim: str, paper: float, values, *, tolerance: float, note: str = "") -> dict:
    """A numeric claim on a value that is not a percentage (a derivative): explicit minimum tolerance."""
    from ..report.tables import numeric_verdict

    mean, se, n = mean_se(values)
    verdict, reason = numeric_verdict(paper, mean, se, tolerance=tolerance, unit="")
    row = {"claim": claim, "paper": paper, "measured": (mean, se, n), "verdict": verdict,
           "reason": reason + (f"; {note}" if note else ""), "unit": ""}
    ctx.claims.append(row)
    return row


def _function_claims(ctx: StudyContext) -> None:
    """Claims about the functions themselves, from the registry's f and f′ (float64)."""
    import torch

    from .. import activations

    a = torch.linspace(-10, 10, 200001, dtype=torch.float64)
    sig, tanh, relu = activations.get("sigmoid"), activations.get("tanh"), activations.get("relu")
    ds, dt = sig.df(a), tanh.df(a)
    _numeric(ctx, "the sigmoid's derivative is at most 0.25, at x = 0", 0.25, [float(ds.max())], tolerance=1e-3,
             note=f"max σ′ on a grid of [−10, 10], at x = {float(a[ds.argmax()]):.4f}")
    _numeric(ctx, "tanh's derivative is at most 1.0, at x = 0", 1.0, [float(dt.max())], tolerance=1e-3,
             note=f"max tanh′ on the grid, at x = {float(a[dt.argmax()]):.4f}")
    gap = float((tanh.f(a) - (2 * sig.f(2 * a) - 1)).abs().max())
    ctx.qualitative_claim("tanh(x) = 2σ(2x) − 1", "reproduced" if gap < 1e-12 else "not reproduced",
                          f"max |tanh(x) − (2σ(2x) − 1)| on [−10, 10] = {gap:.1e}")
    dr = relu.df(a)
    ok = bool((dr[a > 0] == 1).all() and (dr[a < 0] == 0).all())
    ctx.qualitative_claim("ReLU's derivative is 1 for x > 0 (and 0 below)", "reproduced" if ok else "not reproduced",
                          "relu′ on the grid: 1 at every x > 0, 0 at every x < 0 (0 at x = 0, torch's convention)")
    module = activations.get("rrelu").module(4).eval()
    slope = float(module(torch.full((1, 4), -1.0)).mean() / -1.0)
    expected = (1 / 8 + 1 / 3) / 2
    ctx.qualitative_claim("RReLU uses the mean slope (1/8 + 1/3)/2 at test time",
                          "reproduced" if abs(slope - expected) < 1e-6 else "not reproduced",
                          f"eval-mode RReLU slope below 0: {slope:.6f} (expected {expected:.6f})")


def _probe_data(ctx: StudyContext, base: Mapping):
    """The runs' data set (preprocessed as for them) and its probe set: for q₁ of the theory and the unit census."""
    from ..config import config_from_dict, resolve
    from ..data import load_dataset
    from ..probes.probe_set import make_probe_set

    cfg = resolve(config_from_dict(dict(base)))
    d = cfg.data
    data = load_dataset(d.dataset, data_dir=ctx.exec_config.data_dir, mirror=ctx.exec_config.mirror,
                        val_fraction=d.val_fraction, split_seed=d.split_seed, pixel_divisor=d.pixel_divisor,
                        standardize=d.standardize, train_subset=d.train_subset)
    probe = make_probe_set(data, cfg.probes.probe_split, cfg.probes.probe_per_class, cfg.probes.probe_seed)
    return data, probe


def _theories(ctx: StudyContext, base: Mapping, data, overrides: Sequence[Mapping]) -> dict:
    """Mean-field predictions (:func:`vanishing.theory.predict`, as :meth:`StudyContext.theory` makes them: q₁ from
    the training inputs' second moment) for plain-MLP configs, keyed by ``_label``."""
    from ..config import config_from_dict, resolve, with_overrides
    from ..theory import input_second_moment, predict

    m2 = input_second_moment(data.x_train)
    out = {}
    for ov in overrides:
        fields = {k: v for k, v in ov.items() if not k.startswith("_")}
        try:
            cfg = resolve(with_overrides(config_from_dict(dict(base)), fields))
            out[ov["_label"]] = predict(cfg.model, data.n_features, data.n_classes, input_m2=m2)
        except ValueError as exc:  # outside the theory
            ctx.log(f"[zoo] no mean-field prediction for {ov['_label']}: {exc}")
    return out


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


def run(ctx: StudyContext) -> None:
    from .. import activations
    from ..report import figures, tables as rtables

    p = ctx.params
    acts = list(p["activations"]) if p.get("activations") else list(activations.NAMES)
    names = [act_name(a) for a in acts]
    depth = p["depth"]
    opt_text = f"{p['optimizer']}, lr {p['lr']:g}"
    net = f"784 → {p['width']}×{depth} → 10"

    # 0. the functions
    ctx.report.add_heading("The activation functions and their derivatives")
    ctx.figure(figures.activation_functions(acts), "f (solid) and f′ (dashed) of every activation of the registry "
               "(float64, the definitions the probes use).", "activation_functions")
    ctx.figure(figures.activation_functions(list(ARTICLE), overlay=True),
               "The article's seven functions overlaid: f (left) and f′ (right). Only the sigmoid's derivative "
               "stays at or below ¼; tanh′ peaks at 1; the ReLU family's is 1 for x > 0.", "article_functions")
    _function_claims(ctx)
    cost = activation_cost(acts)
    ctx.figure(figure_cost(cost), "Cost of the activation function alone: one forward + backward of each registry "
               "module (training mode) on a 128 × 256 tensor (a mini-batch of one hidden layer), one thread, median "
               "of 15 interleaved rounds of 30 calls.",
               "activation_cost")

    # 1. every activation, trained
    base = _base(p)
    zoo = ctx.sweep("activations", base=base, grid={"model.activation": acts})
    summary = run_summary(zoo)
    data, probe = _probe_data(ctx, base)
    theories = _theories(ctx, base, data, [{"_label": act_name(a), "model.activation": a} for a in acts])
    signal = zoo.probes.get("backprop_signal", pd.DataFrame())

    rows = []
    for act in names:
        s = summary[summary["act"] == act]
        th = theories.get(act)
        rows.append({
            "activation": act, "init": str(s["init"].iloc[0]) if len(s) else "–", "seeds": len(s),
            "test acc (%)": _fmt(s["test_acc"]),
            "train loss, epoch 1": _fmt(s["train_loss1"], 3),
            f"train loss, epoch {p['epochs']}": _fmt(s["train_loss_last"], 3),
            "δ₁/δ_L at init": _fmt_g(s["delta_ratio0"]),
            "δ₁/δ_L mean-field": f"{th['decay'].iloc[0]:.3g}" if th is not None else "–",
            "δ₁/δ_L trained": _fmt_g(s["delta_ratio_last"]),
            "dead (%)": _fmt(s["dead_last"], 1), "saturated (%)": _fmt(s["sat_last"], 1),
            "sparsity (%)": _fmt(s["sparsity_last"], 1), "|mean y|": _fmt(s["mean_act_last"], 3),
            "epoch time (s)": _fmt(s["epoch_time"], 2),
        })
    zoo_table = pd.DataFrame(rows)
    ctx.report.add_heading(f"Every activation in a deep MLP ({net})")
    ctx.report.add_table(zoo_table, f"MNIST, {net}, init 'auto' (Xavier for sigmoid/tanh/softplus/hardtanh/linear, "
                         f"LeCun for SELU, He for the rest), {opt_text}, batch 128, {p['epochs']} epochs; mean ± s.e. "
                         "over seeds. Test accuracy at the best-validation epoch. δ₁/δ_L: per-example RMS δ of hidden1 "
                         "over that of the last hidden layer (probe set, eval mode). Dead, saturated, sparsity: mean "
                         "over hidden layers after training (– where undefined for the activation). |mean y|: mean "
                         "over layers of the absolute mean output.")
    ctx.log(zoo_table.to_string(index=False))
    if not signal.empty:
        ctx.figure(figure_delta_grid(summary, signal, theories, names),
                   "Per-example δ = ∂E_n/∂a by hidden layer for every activation, at init and after training (mean ± "
                   "s.e. over seeds), with the mean-field prediction at init (dashed; q₁ from the data, anchored at "
                   "the last hidden layer). A line falling to the left is a gradient vanishing towards the input.",
                   "delta_by_layer_all")
    grad = zoo.probes.get("grad_norms")
    if grad is not None and not grad.empty:
        ctx.figure(figure_grad_heatmap(grad, summary, names),
                   "Weight-gradient norm ‖∂E/∂W‖₂ per layer, mean over the first epoch's steps and the seeds, for "
                   "every activation (log colour). ∇W carries the layer input's scale as well as δ (docs/theory.md).",
                   "grad_norms_by_layer")
        for act in ("sigmoid", "tanh", "relu"):
            ids = summary[summary["act"] == act]["run_id"]
            g = grad[grad["run_id"].isin(ids)]
            if not g.empty:
                ctx.figure(figures.grad_norm_lines(g, title=f"{act}: ‖∂E/∂W‖ per layer ({opt_text})"),
                           f"Weight-gradient norm per layer over training, {act} (mean over seeds at each step).",
                           f"grad_norms_{act}")
    ctx.figure(figure_summary_bars(summary, names),
               "Per activation (mean ± s.e. over seeds): test accuracy, the share of dead units (no output on any "
               "probe example; defined for activations with a hard zero) and of saturated (example, unit) pairs "
               "(|f′| < 5% of its maximum; defined for saturating activations) after training, averaged over "
               "hidden layers.", "summary_bars")
    ctx.figure(figures.learning_curves(zoo.epochs, summary.assign(activation=summary["act"]), by="activation",
                                       metrics=("train_loss", "val_acc")),
               "Learning curves of every activation (mean ± s.e. over seeds).", "learning_curves")
    for title, table, fn in (("Dead units per layer", "dead_units", rtables.dead_units_table),
                             ("Saturation per layer", "saturation", rtables.saturation_table),
                             ("Sparsity per layer", "sparsity", rtables.sparsity_table)):
        df = zoo.probes.get(table)
        if df is not None and not df.empty and df["defined"].astype(bool).any():
            runs = zoo.runs.assign(activation=zoo.runs["activation"].map(act_name))
            t = fn(df[df["defined"].astype(bool)], runs[["run_id", "config_hash", "seed", "activation"]])
            ctx.report.add_table(t, f"{title}: untrained vs trained, mean ± s.e. over seeds (only the activations "
                                 "for which it is defined).", collapsed=True)

    # 2. remedies: init, batch norm, residual connections
    rem = ctx.sweep("remedies", base=base, grid={"model.activation": list(REMEDY_ACTS)},
                    zip={"model.init": [v[0] for v in REMEDIES.values()],
                         "model.batch_norm": [v[1] for v in REMEDIES.values()],
                         "model.residual": [v[2] for v in REMEDIES.values()]})
    rsum = run_summary(rem)
    rsum["variant"] = rsum.apply(_variant, axis=1)
    rtheory = _theories(ctx, base, data, [{"_label": f"{a}|{v}", "model.activation": a, "model.init": REMEDIES[v][0]}
                                    for a in REMEDY_ACTS for v in ("torch default init", "Xavier / He init")])
    rows = []
    for act in REMEDY_ACTS:
        for variant in REMEDIES:
            s = rsum[(rsum["act"] == act) & (rsum["variant"] == variant)]
            th = rtheory.get(f"{act}|{variant}")
            rows.append({"activation": act, "variant": variant, "test acc (%)": _fmt(s["test_acc"]),
                         "δ₁/δ_L at init": _fmt_g(s["delta_ratio0"]),
                         "δ₁/δ_L mean-field": f"{th['decay'].iloc[0]:.3g}" if th is not None else "outside the theory",
                         "δ₁/δ_L trained": _fmt_g(s["delta_ratio_last"]),
                         "dead (%)": _fmt(s["dead_last"], 1), "saturated (%)": _fmt(s["sat_last"], 1)})
    rem_table = pd.DataFrame(rows)
    ctx.report.add_heading("Remedies: initialisation, batch norm, residual connections")
    ctx.report.add_table(rem_table, f"{net}, {opt_text}, {p['epochs']} epochs, mean ± s.e. over seeds. Torch default "
                         "init: U(±1/√fan_in) (σ_w² = 1/3); Xavier for sigmoid/tanh, He for ReLU; batch norm before "
                         "the activation; residual: identity skips around hidden2 … hiddenL. Mean-field theory covers "
                         "plain MLPs only.")
    ctx.log(rem_table.to_string(index=False))
    rsignal = rem.probes.get("backprop_signal", pd.DataFrame())
    if not rsignal.empty:
        ctx.figure(figure_remedy_delta(rsum, rsignal),
                   "Per-example δ by layer (mean over seeds) for sigmoid, tanh and ReLU under each remedy, at init (top) "
                   "and after training (bottom). The probe runs in eval mode, where batch norm uses its running "
                   "statistics — at init those are 0 and 1, so at init '+ batch norm' coincides with the plain net.",
                   "remedies_delta")
    ctx.figure(figures.learning_curves(rem.epochs, rsum.assign(activation=rsum["act"]), by=["activation", "variant"],
                                       metrics=("train_loss", "val_acc")),
               "Learning curves of the remedy grid (mean ± s.e. over seeds).", "remedies_learning_curves")

    # 3. the dying-ReLU stress test
    dbase = _base(p, probes=LIGHT_PROBES, optimizer=p["dying_optimizer"], lr=p["dying_lr"])
    dying = ctx.sweep("dying", base=dbase, grid={"model.activation": list(DYING_ACTS)})
    dying_bn = ctx.sweep("dying-bn", base={**dbase, "model": {**dbase["model"], "activation": "relu",
                                                               "batch_norm": "before"}})
    dsum = pd.concat([run_summary(dying), run_summary(dying_bn)], ignore_index=True)
    dsum["label"] = [a + (" + batch norm" if bn != "off" else "") for a, bn in zip(dsum["act"], dsum["batch_norm"])]
    census = []
    for _, r in dsum.iterrows():
        try:
            model = load_trained(r["path"], probe.x.shape[1], probe.n_classes)
        except (OSError, KeyError, RuntimeError) as exc:
            ctx.log(f"[zoo] cannot load the trained model of {r['run_id']}: {exc}")
            continue
        census.append(unit_census(model, probe.x).assign(run_id=r["run_id"], label=r["label"], seed=r["seed"]))
    census = pd.concat(census, ignore_index=True) if census else pd.DataFrame()
    dopt = f"{p['dying_optimizer']}, lr {p['dying_lr']:g}"
    rows = []
    labels = [a for a in (*DYING_ACTS, "relu + batch norm") if a in set(dsum["label"])]
    for label in labels:
        s = dsum[dsum["label"] == label]
        c = census[census["label"] == label] if not census.empty else census
        per_run_neg = c.groupby("run_id")["negative"].mean() * 100 if not c.empty else pd.Series(dtype=float)
        per_run_dead = c.groupby("run_id")["no_gradient"].mean() * 100 if not c.empty else pd.Series(dtype=float)
        rows.append({"activation": label, "test acc (%)": _fmt(s["test_acc"]),
                     "a ≤ 0 on every probe example (%)": _fmt(per_run_neg, 1),
                     "no gradient (dead) (%)": _fmt(per_run_dead, 1),
                     "dead, at init (%)": _fmt(s["dead0"], 1)})
    dying_table = pd.DataFrame(rows)
    ctx.report.add_heading("Dying ReLU: a stress test")
    ctx.report.add_table(dying_table, f"{net}, {dopt} (a large step that kills ReLU units), {p['epochs']} epochs, mean "
                         "± s.e. over seeds; shares of hidden units, mean over layers, counted on the 1,000-example "
                         "probe set with the trained weights (eval mode).")
    ctx.log(dying_table.to_string(index=False))
    if not census.empty:
        ctx.figure(figure_dying(census),
                   f"Dying-ReLU stress test ({dopt}): per hidden layer, the share of units whose pre-activation is ≤ 0 "
                   "on every probe example (left) and of units whose derivative is 0 on every probe example, i.e. "
                   "that pass no gradient at all (right); mean ± s.e. over seeds.", "dying_units")

    _claims(ctx, p, summary, theories, rsum, dsum, census, opt_text, dopt, cost)


def _claims(ctx, p, summary, theories, rsum, dsum, census, opt_text, dopt, cost) -> None:
    L = p["depth"]
    sig_r = _col(summary, "delta_ratio0", act="sigmoid")
    tanh_r = _col(summary, "delta_ratio0", act="tanh")
    relu_r = _col(summary, "delta_ratio0", act="relu")
    th = {a: float(theories[a]["decay"].iloc[0]) for a in ("sigmoid", "tanh", "relu") if a in theories}
    ctx.qualitative_claim(
        "the sigmoid's chained derivatives make the gradient vanish towards the first layers",
        "reproduced" if sig_r and _m(sig_r) < 1e-2 else "not reproduced",
        f"per-example RMS δ, hidden1 / hidden{L} at init: sigmoid {_fmt_g(sig_r)} (mean-field {th.get('sigmoid', math.nan):.3g}), "
        f"ReLU {_fmt_g(relu_r)}")
    sig_acc, relu_acc, tanh_acc = (_col(summary, "test_acc", act=a) for a in ("sigmoid", "relu", "tanh"))
    ctx.qualitative_claim(
        "so a deep sigmoid net is hard to train with backpropagation",
        "reproduced" if sig_acc and relu_acc and _m(sig_acc) < _m(relu_acc) - 20 else
        ("partly" if sig_acc and relu_acc and _m(sig_acc) < _m(relu_acc) else "not reproduced"),
        f"test accuracy after {p['epochs']} epochs ({opt_text}): sigmoid {_fmt(sig_acc)}%, ReLU {_fmt(relu_acc)}%")
    tanh_default = _col(rsum, "delta_ratio0", act="tanh", variant="torch default init")
    ok_better = bool(tanh_r and sig_r and _m(tanh_r) > 100 * _m(sig_r))
    still = bool(tanh_r and (_m(tanh_r) < 0.9 or (tanh_default and _m(tanh_default) < 0.1)))
    ctx.qualitative_claim(
        "tanh is better than the sigmoid but can still vanish in deep nets",
        "reproduced" if ok_better and still else ("partly" if ok_better or still else "not reproduced"),
        f"δ₁/δ_{L} at init: tanh (Xavier) {_fmt_g(tanh_r)} (mean-field {th.get('tanh', math.nan):.3g}), with torch's "
        f"default init {_fmt_g(tanh_default)}; sigmoid {_fmt_g(sig_r)}; test accuracy tanh {_fmt(tanh_acc)}%")
    ctx.qualitative_claim(
        "ReLU (derivative 1 for x > 0) solves the vanishing gradient",
        "reproduced" if relu_r and 0.3 < _m(relu_r) < 3 and relu_acc and _m(relu_acc) > 90 else "partly",
        f"δ₁/δ_{L} at init (He): {_fmt_g(relu_r)} (mean-field {th.get('relu', math.nan):.3g}); test accuracy {_fmt(relu_acc)}%")
    spars0, spars = _col(summary, "sparsity0", act="relu"), _col(summary, "sparsity_last", act="relu")
    ctx.qualitative_claim(
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
    ctx.qualitative_claim(
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
    ctx.qualitative_claim(
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
    ctx.qualitative_claim(
        "He initialisation and batch normalisation counter dying ReLUs",
        "reproduced" if he_helps and bn_helps else ("partly" if he_helps or bn_helps else "not reproduced"),
        f"dead ReLU units after training ({opt_text}), mean over layers: torch default init {_fmt(def_dead, 1)}%, He "
        f"{_fmt(he_dead, 1)}%, He + BN {_fmt(bn_dead, 1)}%; stress test: ReLU {_fmt(d_neg, 1)}% vs ReLU + BN "
        f"{_fmt(bn_stress, 1)}%")
    leaky = {a: _census_means(census, a, "no_gradient") for a in DYING_ACTS[1:]}
    neg = {a: _census_means(census, a, "negative") for a in DYING_ACTS}
    fixed = all(v and _m(v) == 0 for v in leaky.values())
    ctx.qualitative_claim(
        "leaky ReLU, PReLU, RReLU and ELU avoid the dying ReLU",
        "reproduced" if fixed and d_neg and _m(d_neg) > 0 else ("partly" if fixed else "not reproduced"),
        f"stress test ({dopt}), units with no gradient on any probe example: ReLU {_fmt(d_neg, 1)}%, " +
        ", ".join(f"{a} {_fmt(v, 1)}%" for a, v in leaky.items()) +
        "; units with a ≤ 0 on every example: " + ", ".join(f"{a} {_fmt(v, 1)}%" for a, v in neg.items()) +
        "; test accuracy: " + ", ".join(f"{a} {_fmt(_col(dsum, 'test_acc', label=a))}%" for a in DYING_ACTS))
    # ELU
    elu_m, relu_m = _col(summary, "mean_act_last", act="elu"), _col(summary, "mean_act_last", act="relu")
    elu_m0, relu_m0 = _col(summary, "mean_act0", act="elu"), _col(summary, "mean_act0", act="relu")
    ctx.qualitative_claim(
        "ELU keeps the mean activation closer to zero than ReLU (less bias shift)",
        "reproduced" if elu_m and relu_m and _m(elu_m) < _m(relu_m) and _m(elu_m0) < _m(relu_m0) else
        ("partly" if elu_m and relu_m and (_m(elu_m) < _m(relu_m) or _m(elu_m0) < _m(relu_m0)) else "not reproduced"),
        f"|mean output| of a layer on the probe set, mean over layers, init → trained: ELU {_fmt(elu_m0, 3)} → "
        f"{_fmt(elu_m, 3)}, ReLU {_fmt(relu_m0, 3)} → {_fmt(relu_m, 3)}")
    elu_l, relu_l = _col(summary, "train_loss1", act="elu"), _col(summary, "train_loss1", act="relu")
    (me, se_e, _), (mr, se_r, _) = mean_se(elu_l), mean_se(relu_l)
    diff_se = math.sqrt(np.nan_to_num(se_e) ** 2 + np.nan_to_num(se_r) ** 2)
    ctx.qualitative_claim(
        "ELU makes training converge faster than ReLU",
        "reproduced" if me < mr - 2 * diff_se and diff_se > 0 else ("partly" if me < mr else "not reproduced"),
        f"training loss in epoch 1: ELU {_fmt(elu_l, 3)}, ReLU {_fmt(relu_l, 3)}; after epoch {p['epochs']}: ELU "
        f"{_fmt(_col(summary, 'train_loss_last', act='elu'), 3)}, ReLU "
        f"{_fmt(_col(summary, 'train_loss_last', act='relu'), 3)}")
    us = cost.set_index("activation")["us"]
    others = [a for a in ("sigmoid", "tanh", "elu") if a in us.index]
    beaten = [a for a in others if "relu" in us.index and us["relu"] < us[a]]
    t = {a: _col(summary, "epoch_time", act=a) for a in ("relu", *others)}
    ctx.qualitative_claim(
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
    ctx.qualitative_claim(
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
        ctx.qualitative_claim(
            "(theory) mean-field theory predicts the δ decay at init for every activation",
            "reproduced" if good == len(errs) else ("partly" if good >= len(errs) / 2 else "not reproduced"),
            f"measured/predicted δ₁/δ_L within 25% for {good} of {len(errs)} activations; largest gap "
            f"{worst[0]} (×{10 ** worst[1]:.2f})",
            paper="not stated")


def _census_means(census: pd.DataFrame, label: str, col: str) -> list[float]:
    """Per run (seed) of ``label``: the mean over layers of a census column, in %."""
    if census is None or census.empty:
        return []
    part = census[census["label"] == label]
    return (100 * part.groupby("run_id")[col].mean()).tolist()


def add_arguments(parser) -> None:
    parser.add_argument("--depth", type=int, default=None, help="hidden layers (overrides the scale)")
    parser.add_argument("--width", type=int, default=None, help="hidden width (overrides the scale)")
    parser.add_argument("--activations", type=lambda s: [a.strip() for a in s.split(";") if a.strip()], default=None,
                        help="activations to train, ';'-separated (default: the whole registry)")
    parser.add_argument("--optimizer", default=None, help="optimizer of the main and remedy sweeps (default sgd(momentum=0.9))")
    parser.add_argument("--lr", type=float, default=None, help="its learning rate (default 0.01)")


_COMMON = {"optimizer": "sgd(momentum=0.9)", "lr": 0.01, "dying_optimizer": "adam", "dying_lr": 0.01,
           "activations": None}

STUDY = Study(
    name="zoo",
    title="The activation zoo — how activation functions evolved against vanishing gradients",
    citation="'Vanishing Gradient Problem: one of the most critical problems in the history of deep learning "
    "development', §1 How activation functions have evolved (blog article, 2021; seed 004)",
    reproduces=("function and derivative plots of every activation", "per-layer gradient norms and δ (with "
                "mean-field theory) for every activation", "dead units, saturation, sparsity",
                "He init, batch norm and residual connections", "the dying-ReLU comparison (leaky ReLU, PReLU, "
                "RReLU, ELU)"),
    scales={
        "quick": {"dataset": "mnist-sample", "epochs": 2, "seeds": 2, "depth": 8, "width": 128, **_COMMON},
        "medium": {"dataset": "mnist", "epochs": 5, "seeds": 3, "depth": 8, "width": 256, **_COMMON},
        "full": {"dataset": "mnist", "epochs": 20, "seeds": 5, "depth": 10, "width": 512, **_COMMON},
    },
    run=run,
    add_arguments=add_arguments,
    notes="The article runs no experiment and names no network, optimizer or data set. The study trains a deep "
    "MLP on MNIST with SGD + momentum 0.9 at lr 0.01 (batch 128, 10% of the training set held out for validation), "
    "the setting in which vanishing gradients show in the accuracy (Adam rescales each weight's step and hides "
    "them), and a dying-ReLU stress test with Adam at lr 0.01. Dead units and sparsity are defined for activations "
    "with a hard zero (relu, relu6, hardswish), saturation for those that saturate.",
)
