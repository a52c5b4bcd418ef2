"""Zoo figures (pure functions of the summary tables → matplotlib figures)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .common import *  # noqa: F403
from .common import _fmt, _fmt_g  # noqa: F401


def figure_cost(cost: pd.DataFrame):
    """Forward + backward time of each activation module (µs), horizontal bars."""
    from ...report.figures import TAB10, new_figure

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

    from ...report.figures import STYLE

    return matplotlib.rc_context(STYLE)


def figure_delta_grid(summary: pd.DataFrame, signal: pd.DataFrame, theories: Mapping[str, pd.DataFrame], acts: Sequence[str]):
    """Per-example RMS δ by layer for every activation: at init (dark), after training (light), mean-field (dashed)."""
    from ...report.figures import epoch_colors, new_figure, theory_line
    from ...report.groups import ordered_layers

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

    from ...report.figures import new_figure
    from ...report.groups import ordered_layers

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
    from ...report.figures import TAB10, new_figure

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
    from ...report.figures import group_colors, new_figure
    from ...report.groups import ordered_layers

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
    from ...report.figures import group_colors, new_figure
    from ...report.groups import ordered_layers

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


