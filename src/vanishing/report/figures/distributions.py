"""Activation distributions (Pretorius et al. 2019) and the Jacobian spectrum.

=========================  ==================================================  ======================
function                   what it draws                                       paper
=========================  ==================================================  ======================
activation_distributions   box per class (q05/q25/median/q75/q95) at chosen    Pretorius Fig 3–4
                           nodes of shallow, middle and deep layers
class_medians              median per class for every node, untrained vs        Pretorius Fig 5–7
                           trained
activation_histograms      histogram of a layer's outputs per epoch             –
jacobian_spectrum          mean singular value of ∂h_L/∂x by rank (log y)      mean-field theory
=========================  ==================================================  ======================

:func:`pick_nodes` and :func:`shallow_middle_deep` choose the nodes and
layers drawn when none are given.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..groups import ordered_layers
from .style import _one_run, _require, _set_log, epoch_colors, epoch_name, group_colors, new_figure, styled


# --------------------------------------------------------------------------- activation distributions (Pretorius)


def _epochs_first_last(epochs) -> list[int]:
    e = sorted({int(x) for x in epochs})
    return e if len(e) <= 1 else [e[0], e[-1]]


def pick_nodes(stats: pd.DataFrame, layer: str, k: int) -> list[int]:
    """The ``k`` nodes of ``layer`` whose class medians differ most (largest std over classes; ties by node index)."""
    part = stats[(stats["layer"] == layer) & (stats["class"] >= 0)]
    spread = part.groupby("node")["median"].std(ddof=0).fillna(0)
    order = sorted(spread.index, key=lambda n: (-spread[n], n))
    return [int(n) for n in order[:k]]


def shallow_middle_deep(layers: Sequence[str]) -> list[str]:
    """The first, middle and last hidden layer (fewer when there are fewer layers)."""
    hidden = [x for x in ordered_layers(layers) if str(x) != "output"]
    picks = [hidden[0], hidden[len(hidden) // 2], hidden[-1]] if hidden else []
    return list(dict.fromkeys(picks))


@styled
def activation_distributions(
    activation_stats: pd.DataFrame,
    *,
    run_id: str | None = None,
    epochs: Sequence[int] | None = None,
    nodes: Sequence[tuple[str, int]] | None = None,
    nodes_per_layer: int = 2,
    classes: Sequence[int] | None = None,
    title: str | None = None,
) -> Figure:
    """Per-class activation distributions at chosen nodes (Pretorius et al. 2019, Fig 3–4).

    For node j of layer i and class c the box spans the quartiles q25–q75 of
    the node's outputs y_ij(x) over the probe examples x of class c, the line
    in it is the median and the whiskers reach q05 and q95 (``activation_stats``
    stores these quantiles, not the samples). One panel per node; one box
    colour per epoch, side by side (default: untrained and the last snapshot).
    Nodes: ``nodes`` = [(layer, node), …], else ``nodes_per_layer`` nodes of
    the shallow, middle and deep hidden layers, those whose class medians
    differ most at the last epoch. Quantiles of different seeds' nodes are
    not averaged: one run is drawn (``run_id``, default the first).
    """
    _require(activation_stats, "activation_distributions", ["epoch", "layer", "node", "class", "median", "q05", "q25", "q75", "q95"])
    df, rid = _one_run(activation_stats, run_id, "activation_distributions")
    epochs = _epochs_first_last(df["epoch"]) if epochs is None else [int(e) for e in epochs]
    last = df[df["epoch"] == max(epochs)]
    if nodes is None:
        nodes = [(layer, n) for layer in shallow_middle_deep(df["layer"]) for n in pick_nodes(last, layer, nodes_per_layer)]
    nodes = list(nodes)
    if not nodes:
        raise ValueError("activation_distributions: no nodes to draw")
    classes = sorted(int(c) for c in df["class"].unique() if c >= 0) if classes is None else [int(c) for c in classes]
    ncols = min(max(nodes_per_layer, 1), len(nodes))
    nrows = -(-len(nodes) // ncols)
    fig, axes = new_figure(nrows, ncols, panel=(0.32 * len(classes) * max(1, len(epochs)) / 2 + 1.6, 2.4))
    colors = epoch_colors(epochs)
    width = 0.8 / max(1, len(epochs))
    for ax, (layer, node) in zip(axes.flat, nodes):
        for j, epoch in enumerate(epochs):
            part = df[(df["epoch"] == epoch) & (df["layer"] == layer) & (df["node"] == node)].set_index("class")
            present = [c for c in classes if c in part.index]
            boxes = [{"label": str(c), "med": part.at[c, "median"], "q1": part.at[c, "q25"], "q3": part.at[c, "q75"],
                      "whislo": part.at[c, "q05"], "whishi": part.at[c, "q95"], "fliers": []} for c in present]
            if not boxes:
                continue
            offset = (j - (len(epochs) - 1) / 2) * width
            ax.bxp(boxes, positions=[c + offset for c in present], widths=width * 0.85, patch_artist=True,
                   showfliers=False, manage_ticks=False,
                   boxprops={"facecolor": colors[epoch], "alpha": 0.55, "edgecolor": colors[epoch]},
                   medianprops={"color": "black", "lw": 1.2}, whiskerprops={"color": colors[epoch]},
                   capprops={"color": colors[epoch]})
        ax.set_xticks(classes)
        ax.set_title(f"{layer}, node {node}")
        ax.set_xlabel("class")
        ax.set_ylabel("activation f(a)")
    for ax in list(axes.flat)[len(nodes):]:
        ax.set_visible(False)
    handles = [Patch(facecolor=colors[e], alpha=0.55, label=epoch_name(e)) for e in epochs]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles))
    fig.suptitle(title or f"run {rid}: box q25–q75, median, whiskers q05–q95", fontsize=9)
    return fig


@styled
def class_medians(
    activation_stats: pd.DataFrame,
    *,
    run_id: str | None = None,
    layers: Sequence[str] | None = None,
    epochs: Sequence[int] | None = None,
    title: str | None = None,
) -> Figure:
    """Median activation per class for every node of a layer, untrained vs trained (Pretorius Fig 5–7).

    Rows: ``layers`` (default every hidden layer); columns: ``epochs`` (default
    the first and last snapshot). In each panel, node index on x, the node's
    median output over the probe examples of class c on y, one colour per
    class (tab10). One run (``run_id``, default the first).
    """
    _require(activation_stats, "class_medians", ["epoch", "layer", "node", "class", "median"])
    df, rid = _one_run(activation_stats, run_id, "class_medians")
    df = df[df["class"] >= 0]
    epochs = _epochs_first_last(df["epoch"]) if epochs is None else [int(e) for e in epochs]
    layers = ordered_layers(df["layer"]) if layers is None else list(layers)
    classes = sorted(int(c) for c in df["class"].unique())
    colors = group_colors(len(classes))
    fig, axes = new_figure(len(layers), len(epochs), panel=(4.2, 2.3), sharey="row")
    for r, layer in enumerate(layers):
        for c, epoch in enumerate(epochs):
            ax = axes[r][c]
            part = df[(df["layer"] == layer) & (df["epoch"] == epoch)]
            for color, cls in zip(colors, classes):
                rows = part[part["class"] == cls].sort_values("node")
                ax.scatter(rows["node"], rows["median"], s=9, color=color, label=str(cls), linewidths=0)
            ax.set_title(f"{layer}, {epoch_name(epoch)}")
            ax.set_xlabel("node")
            if c == 0:
                ax.set_ylabel("median activation f(a)")
    handles = [Line2D([], [], ls="", marker="o", color=col, label=str(cls)) for col, cls in zip(colors, classes)]
    fig.legend(handles=handles, title="class", loc="outside right center")
    fig.suptitle(title or f"run {rid}: median per class and node", fontsize=9)
    return fig


@styled
def activation_histograms(
    activation_hist: pd.DataFrame,
    *,
    run_id: str | None = None,
    epochs: Sequence[int] | None = None,
    title: str | None = None,
) -> Figure:
    """Density of each hidden layer's outputs over the probe set, one step line per epoch (one run)."""
    _require(activation_hist, "activation_histograms", ["epoch", "layer", "bin", "lo", "hi", "count"])
    df, rid = _one_run(activation_hist, run_id, "activation_histograms")
    epochs = sorted({int(e) for e in df["epoch"]}) if epochs is None else [int(e) for e in epochs]
    layers = ordered_layers(df["layer"])
    ncols = min(3, len(layers))
    nrows = -(-len(layers) // ncols)
    fig, axes = new_figure(nrows, ncols, panel=(3.2, 2.4))
    colors = epoch_colors(epochs)
    for ax, layer in zip(axes.flat, layers):
        for epoch in epochs:
            part = df[(df["layer"] == layer) & (df["epoch"] == epoch)].sort_values("bin")
            if part.empty:
                continue
            edges = np.append(part["lo"].to_numpy(float), part["hi"].to_numpy(float)[-1])
            counts = part["count"].to_numpy(float)
            density = counts / max(counts.sum(), 1) / np.diff(edges)
            ax.stairs(density, edges, color=colors[epoch], label=epoch_name(epoch))
        ax.set_title(str(layer))
        ax.set_xlabel("activation f(a)")
        ax.set_ylabel("density")
        _set_log(ax, [1.0])
    for ax in list(axes.flat)[len(layers):]:
        ax.set_visible(False)
    axes.flat[0].legend(loc="best")
    fig.suptitle(title or f"run {rid}: distribution of each layer's outputs (log density)", fontsize=9)
    return fig


@styled
def jacobian_spectrum(jacobian_spectrum: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Singular values of the input → last-hidden Jacobian by rank, mean over examples and runs, one line per epoch, log y."""
    _require(jacobian_spectrum, "jacobian_spectrum", ["epoch", "index", "singular_value"])
    colors = epoch_colors(jacobian_spectrum["epoch"])
    fig, axes = new_figure(1, 1, panel=(4.6, 3.2))
    ax = axes[0][0]
    for epoch in sorted(colors):
        mean = jacobian_spectrum[jacobian_spectrum["epoch"] == epoch].groupby("index")["singular_value"].mean()
        ax.plot(mean.index.to_numpy() + 1, mean.to_numpy(), color=colors[epoch], marker=".", label=epoch_name(epoch))
    _set_log(ax, jacobian_spectrum["singular_value"].to_numpy(float))
    ax.set_xlabel("rank of the singular value")
    ax.set_ylabel("singular value of ∂h_L/∂x")
    if title:
        ax.set_title(title)
    ax.legend(loc="best")
    return fig
