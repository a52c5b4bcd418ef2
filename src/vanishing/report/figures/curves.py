"""Learning curves and the per-step, per-layer probe figures.

=========================  ==================================================  ======================
function                   what it draws                                       paper
=========================  ==================================================  ======================
learning_curves            metric per epoch, mean ± s.e. band over seeds,       Pretorius Fig 1,
                           one line per configuration                           Tan & Lim Fig 3–4
grad_norm_heatmap          layer × step, colour = gradient norm (log scale)    Robinson (seed 000)
grad_norm_lines            gradient norm per layer over steps (log y)          Robinson, zoo
batch_delta_lines          mini-batch δ per layer over steps (log y)           –
update_ratio_lines         ‖ΔW‖/‖W‖ per layer over steps, 1e-3 reference        CS231n (seed 002)
=========================  ==================================================  ======================

Per-step and per-layer curves average the rows given over runs (mean at each
step), so pass one configuration's rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from ..groups import GROUP, LABEL, attach_groups, ordered_layers, seed_stats
from .style import (
    QUANTITIES,
    _positive_limits,
    _require,
    _set_log,
    _step_edges,
    group_colors,
    layer_colors,
    metric_label,
    metric_values,
    new_figure,
    styled,
)


# --------------------------------------------------------------------------- learning curves


@styled
def learning_curves(
    epochs: pd.DataFrame,
    runs: pd.DataFrame | None = None,
    *,
    metrics: Sequence[str] = ("train_loss", "val_acc"),
    by: str | Sequence[str] | None = None,
    band: bool = True,
) -> Figure:
    """One panel per metric: the mean over seeds per epoch (line) ± one standard error (band).

    ``epochs`` = ``Results.epochs``; ``runs`` = ``Results.runs`` (groups the
    runs into configurations and labels them by the fields that vary; without
    it each run is a line). ``by`` groups by run columns instead (e.g.
    ``"activation"``). Metrics: any column of ``epochs``, or
    ``train_mcr``/``val_mcr`` (1 − accuracy); accuracies in %. At each epoch
    the mean and s.e. are over the seeds that reached it; no band for one seed.
    """
    _require(epochs, "learning_curves", ["run_id", "epoch"])
    df = attach_groups(epochs, runs, by)
    _require(df, "learning_curves (runs matching)", ["epoch"])
    groups = sorted(df.groupby(GROUP, sort=False), key=lambda kv: str(kv[1][LABEL].iloc[0]))
    colors = group_colors(len(groups))
    fig, axes = new_figure(1, len(metrics))
    for ax, metric in zip(axes[0], metrics):
        label, scale = metric_label(metric)
        values = metric_values(df, metric) * scale
        for color, (_, part) in zip(colors, groups):
            stats = seed_stats(part.assign(_value=values.loc[part.index]), ["epoch"], "_value")
            stats = stats[np.isfinite(stats["mean"])]
            x, m, se = stats["epoch"].to_numpy(float), stats["mean"].to_numpy(), stats["se"].to_numpy()
            ax.plot(x, m, color=color, marker="o" if len(x) <= 30 else None, label=str(part[LABEL].iloc[0]))
            ok = np.isfinite(se)
            if band and ok.any():
                ax.fill_between(x[ok], (m - se)[ok], (m + se)[ok], color=color, alpha=0.2, linewidth=0,
                                label="_s.e. band")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        if len(df["epoch"].unique()) <= 12:
            ax.set_xticks(sorted(int(e) for e in df["epoch"].unique()))
    n_seeds = df.groupby(GROUP)["run_id"].nunique()
    note = f"mean ± s.e. over {n_seeds.min()}–{n_seeds.max()} seeds" if n_seeds.max() > 1 else "one seed per line"
    if n_seeds.min() == n_seeds.max() and n_seeds.max() > 1:
        note = f"mean ± s.e. over {n_seeds.max()} seeds"
    axes[0][0].set_title(note, loc="left", fontsize=8, color="0.35")
    _legend(fig, axes[0][-1], len(groups))
    return fig


def _legend(fig: Figure, ax, n: int) -> None:
    """A legend in the panel for a few entries, below the figure for many."""
    labels = ax.get_legend_handles_labels()[1]
    if n <= 6 and max((len(t) for t in labels), default=0) <= 32:
        ax.legend(loc="best")
    else:
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=min(3, n))


# --------------------------------------------------------------------------- per-step, per-layer probes


def _layer_step_mean(df: pd.DataFrame, value: str) -> pd.DataFrame:
    """Mean over runs of ``value`` per (layer, step): a layers × steps table, rows input → output."""
    table = df.groupby(["layer", "step"])[value].mean().unstack("step")
    return table.loc[ordered_layers(table.index)]


@styled
def grad_norm_heatmap(grad_norms: pd.DataFrame, *, quantity: str = "weight_l2", title: str | None = None) -> Figure:
    """Layer (rows, input at the bottom) × optimizer step (columns), colour = ``quantity`` on a log scale.

    ``grad_norms`` = ``Results.probe("grad_norms")`` rows of one run or one
    configuration (the mean over its runs is drawn). ``quantity``:
    ``weight_l2`` (‖∂E/∂W‖₂, default), ``weight_mean_abs``, ``bias_l2``,
    ``bias_mean_abs``. Cells ≤ 0 or missing are blank.
    """
    _require(grad_norms, "grad_norm_heatmap", ["layer", "step", quantity])
    table = _layer_step_mean(grad_norms, quantity)
    z = table.to_numpy(float)
    fig, axes = new_figure(1, 1, panel=(6.5, max(3.0, 0.4 * len(table) + 1.4)))
    ax = axes[0][0]
    limits = _positive_limits(z)
    masked = np.ma.masked_where(~(np.isfinite(z) & (z > 0)), z)
    norm = LogNorm(*limits) if limits and limits[0] < limits[1] else (LogNorm(limits[0] / 10, limits[0] * 10) if limits else None)
    mesh = ax.pcolormesh(_step_edges(table.columns.to_numpy()), np.arange(len(table) + 1) - 0.5, masked,
                         norm=norm, cmap="viridis", shading="flat")
    ax.set_yticks(range(len(table)), [str(x) for x in table.index])
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("layer (input → output)")
    ax.grid(False)
    fig.colorbar(mesh, ax=ax, label=QUANTITIES.get(quantity, quantity))
    if title:
        ax.set_title(title)
    _epoch_ticks(ax, grad_norms, color="white")
    return fig


def _epoch_ticks(ax, df: pd.DataFrame, color: str = "0.6") -> None:
    """Faint vertical lines at epoch boundaries (when the rows carry ``epoch`` and there are few epochs)."""
    if "epoch" not in df.columns:
        return
    first = df.groupby("epoch")["step"].min().sort_index()
    if 1 < len(first) <= 30:
        for step in first.to_numpy()[1:]:
            ax.axvline(step - 0.5, color=color, lw=0.5, alpha=0.6, label="_epoch boundary")


@styled
def _layer_lines(df: pd.DataFrame, value: str, *, what: str, reference: float | None = None,
                 reference_label: str = "", title: str | None = None) -> Figure:
    _require(df, what, ["layer", "step", value])
    table = _layer_step_mean(df, value)
    colors = layer_colors(list(table.index))
    fig, axes = new_figure(1, 1, panel=(5.5, 3.3))
    ax = axes[0][0]
    steps = table.columns.to_numpy(float)
    for layer, row in table.iterrows():
        y = row.to_numpy(float)
        ok = np.isfinite(y)
        ax.plot(steps[ok], y[ok], color=colors[layer], label=str(layer), lw=1.0)
    if reference is not None:
        ax.axhline(reference, color="0.3", ls=":", lw=1, label=reference_label)
    _set_log(ax, table.to_numpy(float))
    ax.set_xlabel("optimizer step")
    ax.set_ylabel(QUANTITIES.get(value, value))
    if title:
        ax.set_title(title)
    _epoch_ticks(ax, df)
    ax.legend(title="layer", loc="best", ncols=1 if len(table) <= 8 else 2)
    return fig


def grad_norm_lines(grad_norms: pd.DataFrame, *, quantity: str = "weight_l2", title: str | None = None) -> Figure:
    """Gradient norm per layer over optimizer steps, one line per layer (input dark → output light), log y.

    Same input as :func:`grad_norm_heatmap`; the mean over the runs given at each step.
    """
    return _layer_lines(grad_norms, quantity, what="grad_norm_lines", title=title)


def batch_delta_lines(backprop_signal_batch: pd.DataFrame, *, quantity: str = "delta_rms", title: str | None = None) -> Figure:
    """Mini-batch δ per hidden layer over steps (``Results.probe("backprop_signal_batch")``), log y.

    ``delta_rms`` = √B‖∂E/∂A‖_F (RMS of the examples' signals), ``delta_mean_norm`` = ‖Σ_n ∂E/∂a_n‖₂.
    """
    return _layer_lines(backprop_signal_batch, quantity, what="batch_delta_lines", title=title)


def update_ratio_lines(update_ratio: pd.DataFrame, *, reference: float = 1e-3, title: str | None = None) -> Figure:
    """‖ΔW‖₂/‖W‖₂ per layer over steps (``Results.probe("update_ratio")``), log y, with the ≈ 1e-3 healthy scale dotted."""
    return _layer_lines(update_ratio, "ratio", what="update_ratio_lines", reference=reference,
                        reference_label=f"{reference:g} (healthy scale)", title=title)
