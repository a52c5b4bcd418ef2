"""Figures: one function per kind, DataFrames of ``vanishing.load`` in, a matplotlib Figure out.

Every function takes the tables of :func:`vanishing.load` (``Results.runs``,
``Results.epochs``, ``Results.probe(name)``) — filter them first to the runs
you want drawn — and returns a :class:`matplotlib.figure.Figure` built without
pyplot (no global figure registry, nothing to close, any backend). Write one
to disk with :func:`save` (PNG and PDF, 300 dpi); a report embeds it with
:meth:`vanishing.report.Report.add_figure`.

Submodules, one concern each (every name is re-exported here, so
``figures.<name>`` and ``from vanishing.report.figures import <name>`` work
as they always have):

* :mod:`.style` — :data:`STYLE`, :data:`DPI`, :func:`styled`, :func:`new_figure`,
  colours, metric labels and the checks every figure makes
* :mod:`.curves` — learning_curves, grad_norm_heatmap, grad_norm_lines,
  batch_delta_lines, update_ratio_lines
* :mod:`.delta` — delta_by_layer, theory_line
* :mod:`.distributions` — activation_distributions, class_medians,
  activation_histograms, jacobian_spectrum, pick_nodes
* :mod:`.time` — through_time, time_rows, memory_horizon, TIME_STEPS, HORIZON
* :mod:`.depth` — metric_vs_depth
* :mod:`.activations` — activation_functions

Conventions: "mean ± s.e." is over seeds, s.e. = s/√n with the sample
standard deviation s (:mod:`vanishing.report.groups`); accuracies and error
rates are drawn in percent; magnitudes that span decades (gradient norms, δ,
update ratios, singular values) on log axes; layers are coloured from input
(dark, viridis 0) to output (light, viridis 0.9), epochs from untrained
(plasma 0.1, dark) to trained (plasma 0.85, light), configurations and classes
with tab10. Per-step and per-layer curves average the rows given over runs
(mean at each step), so pass one configuration's rows.

:func:`render` and :func:`save` live in this module itself: ``save`` looks
``render`` up here, so replacing ``figures.render`` (as tests do to lower the
resolution) changes what ``save`` writes too.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from .activations import activation_functions
from .curves import (
    _epoch_ticks,
    _layer_lines,
    _layer_step_mean,
    _legend,
    batch_delta_lines,
    grad_norm_heatmap,
    grad_norm_lines,
    learning_curves,
    update_ratio_lines,
)
from .delta import delta_by_layer, theory_line
from .depth import _starred, metric_vs_depth
from .distributions import (
    _epochs_first_last,
    activation_distributions,
    activation_histograms,
    class_medians,
    jacobian_spectrum,
    pick_nodes,
    shallow_middle_deep,
)
from .style import (
    DPI,
    METRICS,
    QUANTITIES,
    STYLE,
    TAB10,
    _one_run,
    _positive_limits,
    _require,
    _set_log,
    _step_edges,
    epoch_colors,
    epoch_name,
    group_colors,
    layer_colors,
    metric_label,
    metric_values,
    new_figure,
    styled,
)
from .time import HORIZON, TIME_STEPS, memory_horizon, through_time, time_rows

# --------------------------------------------------------------------------- saving


def render(fig: Figure, fmt: str = "png", dpi: int = DPI) -> bytes:
    """The figure encoded as ``fmt`` ("png", "pdf", "svg") at ``dpi``."""
    buf = io.BytesIO()
    metadata = {"Software": None} if fmt == "png" else ({"Creator": "vanishing", "CreationDate": None} if fmt == "pdf" else None)
    fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata)
    return buf.getvalue()


def save(fig: Figure, path_stem: str | Path, *, dpi: int = DPI, formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Write ``<path_stem>.png`` and ``<path_stem>.pdf`` (atomically; ``dpi`` for the PNG). Returns the paths."""
    from ...store.atomic import write_bytes

    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        write_bytes(path, render(fig, fmt, dpi))
        paths.append(path)
    return paths


__all__ = [
    "DPI", "METRICS", "QUANTITIES", "STYLE",
    "activation_distributions", "activation_functions", "activation_histograms", "batch_delta_lines",
    "class_medians", "delta_by_layer", "epoch_colors", "grad_norm_heatmap", "grad_norm_lines",
    "jacobian_spectrum", "layer_colors", "learning_curves", "metric_vs_depth", "render", "save",
    "memory_horizon", "theory_line", "through_time", "time_rows", "update_ratio_lines",
]
