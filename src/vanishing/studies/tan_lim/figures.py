"""Tan & Lim figures: the rate search, Table I against depth, training curves (Fig 3–4), step lengths."""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .claims import ACTIVATIONS, DEPTHS, LABELS, OPTIMIZERS, PAPER_MCR, paper_mcr  # noqa: F401


def _styled(fn):
    """Build the figure under the report's style (imported on call: matplotlib loads only when a figure is drawn)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from ...report.figures import styled

        return styled(fn)(*args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------- configurations




@_styled
def search_figure(search: pd.DataFrame):
    """Validation MCR against SGD's rate (a) and SDAGD's radius (b); solid sigmoid, dashed ReLU, a line per depth."""
    from ...report import figures

    fig, axes = figures.new_figure(1, 2, panel=(4.2, 3.2))
    for ax, kind in zip(axes[0], OPTIMIZERS):
        part = search[search["optimizer"] == kind]
        colors = figures.layer_colors([f"hidden{d}" for d in sorted(part["depth"].unique())])
        for (act, depth), g in part.groupby(["activation", "depth"]):
            g = g.sort_values("value")
            ax.plot(g["value"], g["val_mcr"], color=colors[f"hidden{depth}"], ls="-" if act == "sigmoid" else "--",
                    marker="o", label=f"{LABELS[act]}, hl-{depth}")
        ax.set_xscale("log")
        _log_y(ax)
        if len(part):
            from matplotlib.ticker import NullLocator

            ax.set_xticks(sorted(part["value"].unique()), [f"{v:g}" for v in sorted(part["value"].unique())])
            ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("SGD learning rate" if kind == "sgd" else "SDAGD radius R")
        ax.set_ylabel("validation MCR (%)")
        ax.set_title(f"({'ab'[OPTIMIZERS.index(kind)]}) {LABELS[kind]}")
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=5, fontsize=7)
    return fig


@_styled
def table_one_figure(t1: pd.DataFrame, depths: Sequence[int]):
    """Table I as MCR against depth: ours (solid, mean ± s.e.) and the paper's (dashed), sigmoid and ReLU panels."""
    from ...report import figures

    fig, axes = figures.new_figure(1, 2, panel=(4.2, 3.4))
    for ax, act in zip(axes[0], ACTIVATIONS):
        for i, kind in enumerate(OPTIMIZERS):
            col = f"{LABELS[kind]} {LABELS[act]}"
            color = figures.TAB10[i]
            ax.errorbar(t1["depth"], t1[f"{col} ours"], yerr=t1[f"{col} se"].fillna(0), color=color, marker="o",
                        capsize=2, label=f"{LABELS[kind]} (ours)")
            ax.plot(t1["depth"], t1[f"{col} paper"], color=color, ls="--", marker="x", label=f"{LABELS[kind]} (paper)")
        _log_y(ax)
        ax.set_xticks(list(depths), [f"hl-{d}" for d in depths])
        ax.set_xlabel("hidden layers")
        ax.set_ylabel("test MCR (%)")
        ax.set_title(f"{LABELS[act]} hidden units")
    axes[0][0].legend(loc="best")
    return fig




def _log_y(ax) -> None:
    """Log y axis with plain numbers (0.5, 2, 10 …) rather than powers of ten: error rates read as percentages."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    ax.set_yscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
    ax.yaxis.set_minor_formatter(plain)


@_styled
def training_curves(epochs: pd.DataFrame, runs: pd.DataFrame, activation: str):
    """Fig 3 / Fig 4: training loss (top) and training error (bottom) per epoch, SGD (a) vs SDAGD (b), a line per depth."""
    from ...report import figures
    from ...report.groups import seed_stats

    df = epochs.merge(runs[["run_id", "kind", "activation", "depth"]], on="run_id")
    df = df[df["activation"] == activation].assign(train_error=lambda d: 100 * (1 - d["train_acc"]))
    depths = sorted(df["depth"].unique())
    colors = figures.layer_colors([f"hidden{d}" for d in depths])
    fig, axes = figures.new_figure(2, 2, panel=(4.0, 2.8), sharex=True, sharey="row")
    for col, kind in enumerate(OPTIMIZERS):
        for row, (value, label) in enumerate((("train_loss", "training loss ½(D − Y)²"),
                                              ("train_error", "training error (%)"))):
            ax = axes[row][col]
            for depth in depths:
                stats = seed_stats(df[(df["kind"] == kind) & (df["depth"] == depth)], ["epoch"], value)
                x, m, se = stats["epoch"].to_numpy(float), stats["mean"].to_numpy(float), stats["se"].to_numpy(float)
                ax.plot(x, m, color=colors[f"hidden{depth}"], marker="o", label=f"hl-{depth}")
                ok = np.isfinite(se)
                if ok.any():
                    ax.fill_between(x[ok], (m - se)[ok], (m + se)[ok], color=colors[f"hidden{depth}"], alpha=0.2,
                                    linewidth=0)
            _log_y(ax)
            if row == 0:
                ax.set_title(f"({'ab'[col]}) {LABELS[kind]}, {LABELS[activation]}")
            if row == 1:
                ax.set_xlabel("epoch")
                ax.set_xticks(sorted(int(e) for e in df["epoch"].unique()))
            if col == 0:
                ax.set_ylabel(label)
    axes[0][1].legend(loc="best")
    return fig




@_styled
def step_figure(grads: pd.DataFrame, updates: pd.DataFrame, runs: pd.DataFrame):
    """2 × 2: gradient norm (top) and step length ‖ΔW‖ (bottom) per layer over steps, SGD (a) vs SDAGD (b)."""
    from ...report import figures
    from ...report.groups import ordered_layers

    fig, axes = figures.new_figure(2, 2, panel=(4.2, 2.9), sharex=True, sharey="row")
    for col, kind in enumerate(OPTIMIZERS):
        ids = runs[runs["kind"] == kind]["run_id"]
        for row, (df, value, label) in enumerate(((grads, "weight_l2", "‖∂E/∂W‖₂"), (updates, "update_norm", "‖ΔW‖₂"))):
            ax = axes[row][col]
            part = df[df["run_id"].isin(ids)]
            if part.empty:
                continue
            table = part.groupby(["layer", "step"])[value].mean().unstack("step")
            layers = ordered_layers(table.index)
            colors = figures.layer_colors(layers)
            for layer in layers:
                y = table.loc[layer].to_numpy(float)
                ok = np.isfinite(y) & (y > 0)
                ax.plot(table.columns.to_numpy(float)[ok], y[ok], color=colors[layer], lw=1.0, label=str(layer))
            ax.set_yscale("log")
            if row == 0:
                ax.set_title(f"({'ab'[col]}) {LABELS[kind]}")
            else:
                ax.set_xlabel("optimizer step")
            if col == 0:
                ax.set_ylabel(label)
    axes[0][1].legend(fontsize=6, title="layer", title_fontsize=6)
    return fig


