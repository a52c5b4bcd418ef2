"""Figure style and shared helpers: rcParams, colours, metric labels, the checks every figure makes.

Every figure function is decorated with :func:`styled` (built under
:data:`STYLE`) and lays out its axes with :func:`new_figure` (constrained
layout, no pyplot). Colours: layers from input (dark, viridis 0) to output
(light, viridis 0.9) (:func:`layer_colors`), epochs from untrained (plasma
0.1, dark) to trained (plasma 0.85, light) (:func:`epoch_colors`),
configurations and classes with tab10 (:func:`group_colors`, :data:`TAB10`).
:data:`METRICS` holds the axis label and scale of each metric (accuracies and
error rates in percent), :data:`QUANTITIES` the label of each probe quantity;
:data:`DPI` is the resolution of the files :func:`~vanishing.report.figures.save` writes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import matplotlib
import numpy as np
import pandas as pd
from cycler import cycler
from matplotlib.figure import Figure

from ..groups import ordered_layers

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
