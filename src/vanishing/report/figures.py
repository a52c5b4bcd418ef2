"""Figures: one function per kind, DataFrames of ``vanishing.load`` in, a matplotlib Figure out.

Every function takes the tables of :func:`vanishing.load` (``Results.runs``,
``Results.epochs``, ``Results.probe(name)``) — filter them first to the runs
you want drawn — and returns a :class:`matplotlib.figure.Figure` built without
pyplot (no global figure registry, nothing to close, any backend). Write one
to disk with :func:`save` (PNG and PDF, 300 dpi); a report embeds it with
:meth:`vanishing.report.Report.add_figure`.

=========================  ==================================================  ======================
function                   what it draws                                       paper
=========================  ==================================================  ======================
learning_curves            metric per epoch, mean ± s.e. band over seeds,       Pretorius Fig 1,
                           one line per configuration                           Tan & Lim Fig 3–4
grad_norm_heatmap          layer × step, colour = gradient norm (log scale)    Robinson (seed 000)
grad_norm_lines            gradient norm per layer over steps (log y)          Robinson, zoo
batch_delta_lines          mini-batch δ per layer over steps (log y)           –
update_ratio_lines         ‖ΔW‖/‖W‖ per layer over steps, 1e-3 reference        CS231n (seed 002)
delta_by_layer             per-example RMS δ by layer, one line per epoch,      mean-field theory,
                           optional theory line                                 seed 003
activation_distributions   box per class (q05/q25/median/q75/q95) at chosen    Pretorius Fig 3–4
                           nodes of shallow, middle and deep layers
class_medians              median per class for every node, untrained vs        Pretorius Fig 5–7
                           trained
activation_histograms      histogram of a layer's outputs per epoch             –
jacobian_spectrum          mean singular value of ∂h_L/∂x by rank (log y)      mean-field theory
metric_vs_depth            accuracy / MCR vs number of hidden layers, lines     Pretorius Fig 2,
                           per activation/width, batch norm starred             Tan & Lim Table I
activation_functions       f and f′ of registry entries                         zoo (seed 004)
through_time               ‖∂L/∂h‖ against the lag k per recurrent layer        Hochreiter (1991),
                           (log y), memory horizon marked                       Bengio et al. (1994)
=========================  ==================================================  ======================

Conventions: "mean ± s.e." is over seeds, s.e. = s/√n with the sample
standard deviation s (:mod:`vanishing.report.groups`); accuracies and error
rates are drawn in percent; magnitudes that span decades (gradient norms, δ,
update ratios, singular values) on log axes; layers are coloured from input
(dark, viridis 0) to output (light, viridis 0.9), epochs from untrained
(plasma 0.1, dark) to trained (plasma 0.85, light), configurations and classes
with tab10. Per-step and per-layer curves average the rows given over runs
(mean at each step), so pass one configuration's rows.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from cycler import cycler
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .groups import GROUP, LABEL, _key, attach_groups, ordered_layers, seed_stats

TAB10 = [matplotlib.colormaps["tab10"](i) for i in range(10)]

STYLE: dict[str, object] = {
    "font.family": "DejaVu Sans",  # bundled with matplotlib: the same glyphs everywhere, no system fonts
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 7.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.5,
    "lines.markersize": 4,
    "legend.frameon": False,
    "image.cmap": "viridis",
    "axes.prop_cycle": cycler(color=TAB10),
    "pdf.fonttype": 42,  # TrueType in PDFs (editable text, accepted by journals)
    "ps.fonttype": 42,
}

DPI = 300  # files written by save()

# metric → (axis label, scale); accuracies and error rates in percent
METRICS: dict[str, tuple[str, float]] = {
    "train_loss": ("training loss", 1.0),
    "val_loss": ("validation loss", 1.0),
    "test_loss": ("test loss", 1.0),
    "train_acc": ("training accuracy (%)", 100.0),
    "val_acc": ("validation accuracy (%)", 100.0),
    "test_acc": ("test accuracy (%)", 100.0),
    "last_test_acc": ("test accuracy after the last epoch (%)", 100.0),
    "train_mcr": ("training error rate (%)", 100.0),
    "val_mcr": ("validation error rate (%)", 100.0),
    "test_mcr": ("test misclassification rate (%)", 100.0),
    "lr": ("learning rate", 1.0),
    "epoch_time_s": ("epoch training time (s)", 1.0),
    "train_time_s": ("training time (s)", 1.0),
}

QUANTITIES: dict[str, str] = {
    "weight_l2": "weight-gradient norm ‖∂E/∂W‖₂",
    "weight_mean_abs": "mean |∂E/∂W| per weight",
    "bias_l2": "bias-gradient norm ‖∂E/∂b‖₂",
    "bias_mean_abs": "mean |∂E/∂b| per bias",
    "delta_rms": "mini-batch δ: √B·‖∂E/∂A‖_F",
    "delta_mean_norm": "mini-batch ‖Σ ∂E/∂a‖₂",
    "ratio": "update ratio ‖ΔW‖₂ / ‖W‖₂",
    "update_norm": "update norm ‖ΔW‖₂",
    "weight_norm": "weight norm ‖W‖₂",
    "rms": "per-example RMS ‖δ‖₂",
    "rms_node": "per-example RMS ‖δ‖₂ / √width",
    "mean_norm": "per-example mean ‖δ‖₂",
    "median_norm": "per-example median ‖δ‖₂",
}


# --------------------------------------------------------------------------- style and helpers


def styled(fn: Callable[..., Figure]) -> Callable[..., Figure]:
    """Build the figure under :data:`STYLE` (rcParams apply when artists are created)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs) -> Figure:
        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


def new_figure(nrows: int = 1, ncols: int = 1, *, panel: tuple[float, float] = (4.0, 3.0), **kwargs):
    """A constrained-layout Figure with an (nrows × ncols) array of axes, each about ``panel`` inches."""
    fig = Figure(figsize=(panel[0] * ncols + 0.3, panel[1] * nrows + 0.2), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes


def layer_colors(layers: Sequence) -> dict:
    """Layer → colour, from input (viridis 0.0) to output (viridis 0.9), in input-to-output order."""
    order = ordered_layers(layers)
    cmap = matplotlib.colormaps["viridis"]
    if len(order) == 1:
        return {order[0]: cmap(0.0)}
    return {name: cmap(0.9 * i / (len(order) - 1)) for i, name in enumerate(order)}


def epoch_colors(epochs: Sequence) -> dict:
    """Epoch → colour, from untrained (plasma 0.1) to the last epoch (plasma 0.85)."""
    order = sorted({int(e) for e in epochs})
    cmap = matplotlib.colormaps["plasma"]
    if len(order) == 1:
        return {order[0]: cmap(0.1)}
    return {e: cmap(0.1 + 0.75 * i / (len(order) - 1)) for i, e in enumerate(order)}


def group_colors(n: int) -> list:
    """n distinct colours: tab10, then evenly spaced turbo beyond ten."""
    if n <= 10:
        return TAB10[:n]
    cmap = matplotlib.colormaps["turbo"]
    return [cmap(0.05 + 0.9 * i / (n - 1)) for i in range(n)]


def epoch_name(epoch: int) -> str:
    return "untrained (epoch 0)" if int(epoch) == 0 else f"after epoch {int(epoch)}"


def metric_values(df: pd.DataFrame, metric: str) -> pd.Series:
    """A metric column; ``<split>_mcr`` is derived as 1 − ``<split>_acc`` when not stored."""
    if metric in df.columns:
        return pd.to_numeric(df[metric], errors="coerce")
    if metric.endswith("_mcr") and metric[:-4] + "_acc" in df.columns:
        return 1.0 - pd.to_numeric(df[metric[:-4] + "_acc"], errors="coerce")
    raise ValueError(f"no column {metric!r} (have: {', '.join(map(str, df.columns))})")


def metric_label(metric: str) -> tuple[str, float]:
    return METRICS.get(metric, (metric, 1.0))


def _require(df: pd.DataFrame, what: str, columns: Sequence[str]) -> None:
    if df is None or len(df) == 0:
        raise ValueError(f"{what}: no rows to draw")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: missing columns {', '.join(missing)}")


def _one_run(df: pd.DataFrame, run_id: str | None, what: str) -> tuple[pd.DataFrame, str]:
    """The rows of one run (``run_id`` or the first in sort order)."""
    ids = sorted(df["run_id"].unique())
    rid = ids[0] if run_id is None else run_id
    if rid not in ids:
        raise ValueError(f"{what}: run {rid!r} not in the rows given")
    return df[df["run_id"] == rid], rid


def _positive_limits(values: np.ndarray) -> tuple[float, float] | None:
    v = values[np.isfinite(values) & (values > 0)]
    return (float(v.min()), float(v.max())) if v.size else None


def _set_log(ax, values: np.ndarray, axis: str = "y") -> None:
    """Log scale when there are positive values (non-positive points are left out by matplotlib)."""
    if _positive_limits(np.asarray(values, dtype=float)) is not None:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")


def _step_edges(steps: np.ndarray) -> np.ndarray:
    """Cell edges around each step: midpoints between neighbours, half a gap beyond the ends."""
    steps = np.asarray(steps, dtype=float)
    if steps.size == 1:
        return np.array([steps[0] - 0.5, steps[0] + 0.5])
    mid = (steps[1:] + steps[:-1]) / 2
    return np.concatenate([[steps[0] - (mid[0] - steps[0])], mid, [steps[-1] + (steps[-1] - mid[-1])]])


# --------------------------------------------------------------------------- saving


def render(fig: Figure, fmt: str = "png", dpi: int = DPI) -> bytes:
    """The figure encoded as ``fmt`` ("png", "pdf", "svg") at ``dpi``."""
    buf = io.BytesIO()
    metadata = {"Software": None} if fmt == "png" else ({"Creator": "vanishing", "CreationDate": None} if fmt == "pdf" else None)
    fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata)
    return buf.getvalue()


def save(fig: Figure, path_stem: str | Path, *, dpi: int = DPI, formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Write ``<path_stem>.png`` and ``<path_stem>.pdf`` (atomically; ``dpi`` for the PNG). Returns the paths."""
    from ..store.atomic import write_bytes

    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        write_bytes(path, render(fig, fmt, dpi))
        paths.append(path)
    return paths


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


# --------------------------------------------------------------------------- δ by layer, with theory


def theory_line(theory: pd.DataFrame, layers: Sequence[str], anchor: float, *, quantity: str = "rms") -> np.ndarray:
    """Predicted ``quantity`` for ``layers`` (hidden1 … hiddenL) from a prediction table, anchored at the last layer.

    ``theory`` is a DataFrame with one row per hidden layer, identified by
    ``name`` (hidden1 …) or an integer ``layer`` (1 … L), holding either
    ``delta`` (absolute predictions, drawn as they are), or ``decay`` =
    ‖δ_l‖/‖δ_L‖, or ``ratio`` = ‖δ_l‖/‖δ_{l+1}‖ (the mean-field √χ^(l),
    :func:`vanishing.theory.predict`). With ratios, decay_l = Π_{k=l}^{L−1}
    ratio_k, and the prediction is anchor · decay_l with the anchor the
    measured value at the last hidden layer L. For ``rms_node`` (per-unit
    RMS) the decay is rescaled by √(width_L/width_l) when ``width`` is given.
    """
    t = theory.copy()
    if "name" in t.columns:
        t["_name"] = t["name"].astype(str)
    elif "layer" in t.columns:
        t["_name"] = [f"hidden{int(v)}" if isinstance(v, (int, np.integer, float)) else str(v) for v in t["layer"]]
    else:
        raise ValueError("theory: needs a 'name' or 'layer' column")
    missing = [x for x in layers if x not in set(t["_name"])]
    if missing:
        raise ValueError(f"theory: no prediction for every layer of {list(layers)} (missing {', '.join(map(str, missing))})")
    t = t.drop_duplicates("_name").set_index("_name").loc[list(layers)]
    if "delta" in t.columns:
        return t["delta"].to_numpy(float)
    if "decay" in t.columns:
        decay = t["decay"].to_numpy(float)
    elif "ratio" in t.columns:
        r = t["ratio"].to_numpy(float)
        decay = np.append(np.cumprod(r[:-1][::-1])[::-1], 1.0)
    else:
        raise ValueError("theory: needs a 'delta', 'decay' or 'ratio' column")
    if quantity == "rms_node" and "width" in t.columns:
        w = t["width"].to_numpy(float)
        decay = decay * np.sqrt(w[-1] / w)
    return anchor * decay


@styled
def delta_by_layer(
    backprop_signal: pd.DataFrame,
    *,
    quantity: str = "rms",
    epochs: Sequence[int] | None = None,
    theory: pd.DataFrame | None = None,
    theory_epoch: int = 0,
    theory_label: str = "mean-field prediction",
    title: str | None = None,
) -> Figure:
    """Per-example δ (RMS over the probe set of ‖∂E_n/∂a_n‖₂) by hidden layer, one line per epoch, log y.

    ``backprop_signal`` = ``Results.probe("backprop_signal")`` rows of one
    configuration; points are the mean over its seeds with ± s.e. error bars.
    ``epochs`` picks the snapshots (default all). ``theory`` (see
    :func:`theory_line`) adds the predicted values as a dashed black line
    anchored at the measured last hidden layer of epoch ``theory_epoch``
    (0 = init, where mean-field theory applies).
    """
    _require(backprop_signal, "delta_by_layer", ["epoch", "layer", quantity])
    df = backprop_signal
    if epochs is not None:
        df = df[df["epoch"].isin(list(epochs))]
        _require(df, f"delta_by_layer (epochs {list(epochs)})", ["epoch"])
    layers = ordered_layers(df["layer"])
    pos = {name: i + 1 for i, name in enumerate(layers)}
    colors = epoch_colors(df["epoch"])
    fig, axes = new_figure(1, 1, panel=(4.8, 3.4))
    ax = axes[0][0]
    for epoch in sorted(colors):
        stats = seed_stats(df[df["epoch"] == epoch], ["layer"], quantity)
        stats = stats.assign(_x=stats["layer"].map(pos)).sort_values("_x")
        se = stats["se"].fillna(0).to_numpy(float)
        ax.errorbar(stats["_x"].to_numpy(float), stats["mean"].to_numpy(float), yerr=se, color=colors[epoch], marker="o", capsize=2,
                    label=epoch_name(epoch))
    if theory is not None:
        at = df[df["epoch"] == theory_epoch]
        if at.empty:
            raise ValueError(f"delta_by_layer: no epoch {theory_epoch} rows to anchor the theory line")
        anchor = float(at[at["layer"] == layers[-1]][quantity].mean())
        predicted = theory_line(theory, layers, anchor, quantity=quantity)
        ax.plot(range(1, len(layers) + 1), predicted, "k--", lw=1.2, label=theory_label)
    ax.set_xticks(range(1, len(layers) + 1), [str(x) for x in layers])
    ax.set_xlabel("layer (input → output)")
    ax.set_ylabel(QUANTITIES.get(quantity, quantity) + " (loss / pre-activation)")
    _set_log(ax, df[quantity].to_numpy(float))
    if title:
        ax.set_title(title)
    ax.legend(loc="best")
    return fig


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


# --------------------------------------------------------------------------- through time (recurrent layers, watch runs)

TIME_STEPS = 3  # a module applied at least this many times per forward pass (``name@1`` … ``name@T``) is read through time
HORIZON = 0.1  # memory horizon: the first lag at which ‖∂L/∂h‖ falls below 10 % of its value at lag 0 (at the loss)


def time_rows(through_time: pd.DataFrame | None = None, backprop_signal: pd.DataFrame | None = None) -> pd.DataFrame:
    """The through-time view of a watched run as one table: (``run_id``,) ``epoch``, ``layer``, ``t``, ``rms``.

    Rows of ``through_time`` (fused nn.RNN/GRU/LSTM layers, kept as they are, extra columns included) and,
    for cells stepped in a loop, the ``backprop_signal`` rows of a module applied ≥ TIME_STEPS times
    (``cell@1`` … ``cell@T`` → layer ``cell``, t = 1 … T) unless ``through_time`` already has that layer.
    """
    parts = []
    if through_time is not None and len(through_time):
        parts.append(through_time)
    fused = set(through_time["layer"].astype(str)) if parts else set()
    if backprop_signal is not None and len(backprop_signal) and {"epoch", "layer", "rms"} <= set(backprop_signal):
        split = backprop_signal["layer"].astype(str).str.extract(r"^(?P<base>.+)@(?P<k>\d+)$")
        loop = backprop_signal[split["base"].notna() & ~split["base"].isin(fused)]
        if len(loop):
            split = split.loc[loop.index]
            keys = [c for c in ("run_id", "epoch") if c in loop]
            cells = pd.DataFrame({**{c: loop[c] for c in keys}, "layer": split["base"], "t": split["k"].astype(int),
                                  "rms": loop["rms"].astype(float)})
            size = cells.groupby([*keys, "layer"], sort=False)["t"].transform("size")
            cells = cells[size >= TIME_STEPS]
            if len(cells):
                parts.append(cells)
    if not parts:
        return pd.DataFrame({"epoch": pd.Series(dtype="int64"), "layer": pd.Series(dtype=str),
                             "t": pd.Series(dtype="int64"), "rms": pd.Series(dtype=float)})
    return pd.concat(parts, ignore_index=True)


def memory_horizon(by_lag: Sequence[float], fraction: float = HORIZON) -> int | None:
    """The first lag k with ``by_lag[k] < fraction · by_lag[0]`` (None when the signal never falls that low)."""
    v = np.asarray(by_lag, dtype=float)
    if not v.size or not np.isfinite(v[0]) or v[0] <= 0:
        return None
    below = np.nonzero(v < fraction * v[0])[0]
    return int(below[0]) if below.size else None


@styled
def through_time(
    rows: pd.DataFrame,
    *,
    steps: Sequence[int] | str | None = None,
    run_id: str | None = None,
    clock: str = "step",
    horizon: float = HORIZON,
    title: str | None = None,
) -> Figure:
    """‖∂L/∂h_{T−k}‖ against the lag k = T − t, one panel per recurrent layer, log y, memory horizon marked.

    ``rows``: :func:`time_rows` (or ``Results.probe("through_time")``) of one run (``run_id``, default the
    first). ``steps``: the snapshots drawn — default the latest; ``"all"`` or a list draws earlier ones as
    shaded lines behind it. The memory horizon (dashed vertical) is that of the latest snapshot drawn: the
    first lag at which the signal is below ``horizon`` (10 %) of its value at lag 0, the last step, where
    the loss reads h (dotted: that level).
    """
    _require(rows, "through_time", ["epoch", "layer", "t", "rms"])
    df, rid = _one_run(rows, run_id, "through_time") if "run_id" in rows else (rows, None)
    have = sorted({int(e) for e in df["epoch"]})
    if steps is None:
        chosen = have[-1:]
    elif isinstance(steps, str):
        if steps != "all":
            raise ValueError(f"through_time: steps={steps!r}: a list of snapshots, 'all' or None (the latest)")
        chosen = have
    else:
        chosen = sorted({int(s) for s in steps})
        missing = [s for s in chosen if s not in have]
        if missing or not chosen:
            raise ValueError(f"through_time: no snapshot at {clock} {', '.join(map(str, missing)) or '(none given)'} "
                             f"(snapshots: {', '.join(map(str, have))})")
    latest = chosen[-1]
    layers = list(dict.fromkeys(str(n) for n in df["layer"]))
    ncols = min(3, len(layers))
    nrows = -(-len(layers) // ncols)
    fig, axes = new_figure(nrows, ncols, panel=(3.6, 2.7))
    colors = epoch_colors(chosen)
    for ax, layer in zip(axes.flat, layers):
        part = df[df["layer"].astype(str) == layer]
        values = []
        for step in chosen:
            snap = part[part["epoch"].astype(int) == step].sort_values("t")
            if snap.empty:
                continue
            t = snap["t"].to_numpy(int)
            lag = snap["lag"].to_numpy(int) if "lag" in snap and snap["lag"].notna().all() else int(t.max()) - t  # k = T − t
            rms = snap["rms"].to_numpy(float)
            values.append(rms)
            bold = step == latest
            ax.plot(lag, np.where(rms > 0, rms, np.nan), marker="o" if bold else None, ms=3, lw=1.8 if bold else 1.0, alpha=1.0 if bold else 0.35,
                    color=colors[step] if len(chosen) > 1 else TAB10[0], zorder=3 if bold else 2,
                    label=f"{clock} {step}" + (" (latest)" if bold and len(chosen) > 1 else ""))
            if bold:
                by_lag = rms[np.argsort(lag)]
                k = memory_horizon(by_lag, horizon)
                if np.isfinite(by_lag[0]) and by_lag[0] > 0:
                    ax.axhline(horizon * by_lag[0], color="0.5", ls=":", lw=1, label=f"{horizon:.0%} of lag 0")
                if k is not None:
                    ax.axvline(k, color="tab:red", ls="--", lw=1.2, label=f"memory horizon k = {k}")
                else:
                    ax.plot([], [], " ", label=f"no horizon within {len(by_lag)} steps")
        if values:
            _set_log(ax, np.concatenate(values))
        ax.set_title(layer)
        ax.set_xlabel("lag k = T − t (steps back from the last)")
        ax.set_ylabel("RMS ‖∂L/∂h_(T−k)‖")
        ax.legend(loc="best")
    for ax in list(axes.flat)[len(layers):]:
        ax.set_visible(False)
    head = f"run {rid}: " if rid is not None else ""
    fig.suptitle(title or f"{head}error signal through time, {clock} {latest} (log scale)", fontsize=9)
    return fig


# --------------------------------------------------------------------------- accuracy vs depth


def _starred(value) -> bool:
    return _key(value).lower() not in ("off", "none", "false", "0", "")


@styled
def metric_vs_depth(
    runs: pd.DataFrame,
    *,
    metric: str = "test_acc",
    x: str = "depth",
    hue: Sequence[str] = ("activation", "width"),
    star: str | None = "batch_norm",
    title: str | None = None,
) -> Figure:
    """Headline ``metric`` against ``x`` (hidden layers), mean ± s.e. over seeds (Pretorius Fig 2, Tan & Lim Table I).

    One line per combination of the ``hue`` columns (e.g. activation and
    width; those absent from ``runs`` are ignored) and of ``star``: runs
    whose ``star`` column is on (batch norm "before"/"after", True) are drawn
    dashed with star markers. Runs without a value for ``metric`` (failed,
    pending) are left out. Accuracy / MCR in %.
    """
    _require(runs, "metric_vs_depth", [x])
    label, scale = metric_label(metric)
    df = runs.assign(_value=metric_values(runs, metric) * scale)
    df = df[np.isfinite(df["_value"].to_numpy(float))]
    _require(df, f"metric_vs_depth ({metric})", [x])
    hue = [h for h in hue if h in df.columns]
    df = df.assign(_hue=df[hue].apply(lambda r: ", ".join(f"{h}={_key(r[h])}" for h in hue), axis=1) if hue else "all",
                   _star=df[star].map(_starred) if star and star in df.columns else False)
    hues = sorted(df["_hue"].unique())
    colors = dict(zip(hues, group_colors(len(hues))))
    fig, axes = new_figure(1, 1, panel=(4.8, 3.4))
    ax = axes[0][0]
    for (h, s), part in sorted(df.groupby(["_hue", "_star"]), key=lambda kv: (kv[0][0], kv[0][1])):
        stats = seed_stats(part, [x], "_value").sort_values(x)
        ax.errorbar(stats[x].to_numpy(float), stats["mean"].to_numpy(float), yerr=stats["se"].fillna(0).to_numpy(float), color=colors[h],
                    marker="*" if s else "o", markersize=9 if s else 5, ls="--" if s else "-", capsize=2,
                    label=h + (f", {star} on" if s else ""))
    ax.set_xticks(sorted(df[x].unique()))
    ax.set_xlabel("number of hidden layers" if x == "depth" else x)
    ax.set_ylabel(label)
    if title:
        ax.set_title(title)
    ax.legend(loc="best")
    return fig


# --------------------------------------------------------------------------- the activation registry


@styled
def activation_functions(
    names: Sequence[str] | None = None,
    *,
    a_range: tuple[float, float] = (-5.0, 5.0),
    points: int = 401,
    overlay: bool = False,
    columns: int = 4,
) -> Figure:
    """f and f′ of activation registry entries (``names``: specs such as "elu(alpha=0.5)"; default every entry).

    Grid (default): one panel per entry with f (solid) and f′ (dashed).
    ``overlay=True``: two panels, every f in one and every f′ in the other.
    Values come from the registry's own ``f``/``df`` (float64) — the same
    functions the probes use.
    """
    import torch

    from .. import activations

    names = list(activations.NAMES if names is None else names)
    acts = [activations.get(n) for n in names]
    a = torch.linspace(a_range[0], a_range[1], points, dtype=torch.float64)
    x = a.numpy()
    curves = [(act, act.f(a).numpy(), act.df(a).numpy()) for act in acts]
    if overlay:
        fig, axes = new_figure(1, 2, panel=(4.3, 3.2))
        colors = group_colors(len(curves))
        for color, (act, f, df) in zip(colors, curves):
            axes[0][0].plot(x, f, color=color, label=act.spec)
            axes[0][1].plot(x, df, color=color, label=act.spec)
        axes[0][0].set_ylabel("f(a)")
        axes[0][1].set_ylabel("f′(a)")
        for ax in axes[0]:
            ax.set_xlabel("pre-activation a")
            ax.axhline(0, color="0.5", lw=0.5)
        axes[0][1].legend(loc="best", ncols=1 if len(curves) <= 8 else 2)
        return fig
    ncols = min(columns, len(curves))
    nrows = -(-len(curves) // ncols)
    fig, axes = new_figure(nrows, ncols, panel=(2.4, 1.9))
    for ax, (act, f, df) in zip(axes.flat, curves):
        ax.axhline(0, color="0.6", lw=0.5)
        ax.axvline(0, color="0.6", lw=0.5)
        ax.plot(x, f, color=TAB10[0], label="f(a)")
        ax.plot(x, df, color=TAB10[1], ls="--", label="f′(a)")
        ax.set_title(act.name if act.spec == activations.canonical(act.name) else act.spec, fontsize=8)
        ax.set_xlabel("a")
    for ax in list(axes.flat)[len(curves):]:
        ax.set_visible(False)
    fig.legend(*axes.flat[0].get_legend_handles_labels(), loc="outside lower center", ncols=2)
    return fig


__all__ = [
    "DPI", "METRICS", "QUANTITIES", "STYLE",
    "activation_distributions", "activation_functions", "activation_histograms", "batch_delta_lines",
    "class_medians", "delta_by_layer", "epoch_colors", "grad_norm_heatmap", "grad_norm_lines",
    "jacobian_spectrum", "layer_colors", "learning_curves", "metric_vs_depth", "render", "save",
    "memory_horizon", "theory_line", "through_time", "time_rows", "update_ratio_lines",
]
