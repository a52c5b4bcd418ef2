"""The Pretorius study's figures: Fig 1 learning curves, the node-statistics summary, Table 1 as bars, and layer
sparsity against epoch with the paper's Table 1 values as markers. Each takes result tables and returns a
matplotlib figure; nothing trains."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ...analysis import sparsity_by_epoch
from .claims import ACTIVATIONS, BATCH_NORM, PAPER_TABLE1, TASKS, sel as _sel


def fig1_curves(epochs: pd.DataFrame, runs: pd.DataFrame, depths: Sequence[int], *, title: str | None = None):
    """Fig 1: training (dashed) and validation (solid) accuracy per epoch, mean ± s.e. over seeds;
    columns = depth, rows = batch norm off / on; sigmoid and ReLU in each panel."""
    import matplotlib

    from ...report import figures
    from ...report.groups import seed_stats

    with matplotlib.rc_context(figures.STYLE):
        bns = [bn for bn in BATCH_NORM if (runs["batch_norm"] == bn).any()]
        fig, axes = figures.new_figure(len(bns), len(depths), panel=(2.6, 2.2), sharey=True)
        colors = {"relu": figures.TAB10[0], "sigmoid": figures.TAB10[3]}
        for r, bn in enumerate(bns):
            for c, depth in enumerate(depths):
                ax = axes[r][c]
                for act in ACTIVATIONS:
                    ids = _sel(runs, activation=act, batch_norm=bn, depth=depth)["run_id"]
                    part = epochs[epochs["run_id"].isin(ids)]
                    for metric, ls in (("train_acc", "--"), ("val_acc", "-")):
                        s = seed_stats(part.assign(_v=100 * part[metric]), ["epoch"], "_v")
                        if s.empty:
                            continue
                        x, m, se = s["epoch"].to_numpy(float), s["mean"].to_numpy(float), s["se"].to_numpy(float)
                        ax.plot(x, m, ls=ls, color=colors[act], lw=1.2, marker="o" if len(x) <= 30 else None, ms=2.5,
                                label=f"{act}, {'training' if metric == 'train_acc' else 'validation'}")
                        ok = np.isfinite(se)
                        if ok.any():
                            ax.fill_between(x[ok], (m - se)[ok], (m + se)[ok], color=colors[act], alpha=0.2, lw=0)
                ax.set_title(f"{depth} hidden layers, batch norm {'on' if bn != 'off' else 'off'}")
                if r == len(bns) - 1:
                    ax.set_xlabel("epoch")
                if c == 0:
                    ax.set_ylabel("accuracy (%)")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=4)
        if title:
            fig.suptitle(title, fontsize=9)
    return fig


def node_summary_figure(table: pd.DataFrame):
    """Per hidden layer, untrained (dotted) vs trained (solid), sigmoid (red) vs ReLU (blue), one row per data set:
    η², IQR overlap of class pairs, saturated sigmoid medians, ReLU medians at 0 (mean ± s.e. over seeds)."""
    import matplotlib

    from ...report import figures

    panels = [("eta2", ACTIVATIONS, "class information η²"), ("overlap", ACTIVATIONS, "IQR overlap of class pairs"),
              ("median_extreme", ("sigmoid",), "sigmoid: medians ≤ 0.1 or ≥ 0.9"),
              ("median_zero", ("relu",), "ReLU: medians at 0")]
    tasks = [t for t in TASKS if (table["task"] == t).any()]
    colors = {"sigmoid": figures.TAB10[3], "relu": figures.TAB10[0]}
    with matplotlib.rc_context(figures.STYLE):
        fig, axes = figures.new_figure(len(tasks), len(panels), panel=(2.5, 2.1))
        for r, task in enumerate(tasks):
            for c, (col, acts, label) in enumerate(panels):
                ax = axes[r][c]
                for act in acts:
                    for state, ls in (("untrained", ":"), ("trained", "-")):
                        part = table[(table["task"] == task) & (table["activation"] == act) & (table["state"] == state)]
                        if part.empty:
                            continue
                        g = part.groupby("layer_index")[col]
                        se = (g.std(ddof=1) / np.sqrt(g.count())).to_numpy(float)
                        ax.errorbar(g.mean().index.to_numpy(float), g.mean().to_numpy(float), yerr=np.nan_to_num(se),
                                    color=colors[act], ls=ls, marker="o", ms=3, capsize=2, label=f"{act}, {state}")
                ax.set_title(f"{task}: {label}", fontsize=8)
                ax.set_xlabel("hidden layer")
                ax.set_xticks(sorted(table["layer_index"].unique()))
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=4)
    return fig


def table1_figure(rows: pd.DataFrame):
    """Table 1 as bars: measured sparsity per layer (mean ± s.e.), paper values as black diamonds."""
    import matplotlib

    from ...report import figures

    panels = [(t, bn) for t in TASKS for bn in BATCH_NORM if ((rows["data"] == t) & (rows["bn"] == bn)).any()]
    with matplotlib.rc_context(figures.STYLE):
        fig, axes = figures.new_figure(1, len(panels), panel=(2.6, 2.5), sharey=True)
        for ax, (task, bn) in zip(axes[0], panels):
            part = rows[(rows["data"] == task) & (rows["bn"] == bn)]
            for j, (state, color) in enumerate((("untrained", "0.65"), ("trained", figures.TAB10[0]))):
                s = part[part["state"] == state].sort_values("layer")
                x = s["layer"].to_numpy(float) + (j - 0.5) * 0.38
                ax.bar(x, s["mean"], width=0.36, color=color, yerr=np.nan_to_num(s["se"].to_numpy(float)), capsize=2,
                       label=f"measured, {state}")
                ax.scatter(x, s["paper"], marker="D", color="black", s=14, zorder=3,
                           label="paper" if state == "untrained" else None)
            ax.set_title(f"{task}, ReLU{' + batch norm' if bn != 'off' else ''}")
            ax.set_xlabel("hidden layer")
            ax.set_xticks(sorted(part["layer"].unique()))
            ax.set_ylim(0, 100)
        axes[0][0].set_ylabel("layer sparsity (%)")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=3)
    return fig


def sparsity_curves(sparsity: pd.DataFrame, runs: pd.DataFrame, *, selected: dict | None = None):
    """Layer sparsity of the 4-layer ReLU nets against epoch (0 = untrained), one line per layer, mean ± s.e. over
    seeds (:func:`vanishing.analysis.sparsity_by_epoch`); the paper's Table 1 values as markers of the layer's
    colour — circles at epoch 0 (untrained), diamonds at the last epoch (trained). ``runs`` needs ``run_id``,
    ``task`` and ``batch_norm``; ``selected`` (run_id → selected epoch) adds a tick per run at its selected epoch."""
    import matplotlib

    from ...report import figures

    curves = sparsity_by_epoch(sparsity, runs, by=["task", "batch_norm"])
    panels = [(t, bn) for t in TASKS for bn in BATCH_NORM
              if ((curves["task"] == t) & (curves["batch_norm"] == bn)).any()]
    with matplotlib.rc_context(figures.STYLE):
        fig, axes = figures.new_figure(1, max(len(panels), 1), panel=(2.6, 2.4), sharey=True)
        for ax, (task, bn) in zip(axes[0], panels):
            part = curves[(curves["task"] == task) & (curves["batch_norm"] == bn)]
            colors = figures.layer_colors(part["layer"])
            end = float(part["epoch"].max())
            for layer, color in colors.items():
                st = part[part["layer"] == layer].sort_values("epoch")
                x, m, se = st["epoch"].to_numpy(float), st["mean"].to_numpy(float), st["se"].to_numpy(float)
                ax.plot(x, m, color=color, marker="o" if len(x) <= 30 else None, ms=2.5, label=str(layer))
                ok = np.isfinite(se)
                if ok.any():
                    ax.fill_between(x[ok], (m - se)[ok], (m + se)[ok], color=color, alpha=0.2, lw=0)
                i = int(str(layer).replace("hidden", "")) - 1 if str(layer).startswith("hidden") else -1
                if 0 <= i < 4:
                    ax.scatter([0.0], [PAPER_TABLE1[(task, bn, "untrained")][i]], marker="o", s=22, facecolor="none",
                               edgecolor=color, zorder=3)
                    ax.scatter([end], [PAPER_TABLE1[(task, bn, "trained")][i]], marker="D", s=18, color=color,
                               edgecolor="black", lw=0.5, zorder=3)
            if selected:
                ids = _sel(runs, task=task, batch_norm=bn)["run_id"]
                for e in sorted({selected[r] for r in ids if r in selected}):
                    ax.axvline(e, color="0.6", lw=0.6, ls="--")
            ax.set_title(f"{task}, ReLU{' + batch norm' if bn != 'off' else ''}")
            ax.set_xlabel("epoch")
        axes[0][0].set_ylabel("layer sparsity (%)")
        ax0 = axes[0][0]
        ax0.scatter([], [], marker="o", facecolor="none", edgecolor="0.3", label="paper, untrained")
        ax0.scatter([], [], marker="D", color="0.3", label="paper, trained")
        handles, labels = ax0.get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=6)
    return fig
