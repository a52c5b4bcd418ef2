"""The diagnosis figures: RMS per-example δ per layer at every snapshot, and ‖∂L/∂h‖ through time; log scale.

:func:`delta_figure` (kind ``"delta"``, ``Diagnosis.figure``): vanishing shows as lines that fall towards the input side (left), exploding
as lines that rise; a healthy net's lines are flat. The dashed grey line is
the vanishing threshold drawn from the last hidden layer of the diagnosed
snapshot: a line falling below it by more than one layer's worth of slope is
below the geometric-mean rule.

:func:`through_time_figure` (kind ``"through_time"``): for every recurrent
layer — a fused ``nn.RNN``/``GRU``/``LSTM`` (table ``through_time``) or a cell
stepped in a loop (``cell@1`` … ``cell@T`` rows of ``backprop_signal``) — RMS
over the probe examples of ‖∂L/∂h_{T−k}‖ against the lag k = T − t, one panel
per layer, the memory horizon (the first lag below 10 % of the value at lag 0,
the rule of :func:`~vanishing.watch.time_verdicts.through_time`) dashed; drawn by
:func:`vanishing.report.figures.through_time`, the figure of the report page.

Needs matplotlib (``pip install matplotlib``);
uses the Agg canvas directly, so it changes no pyplot backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

KINDS = ("delta", "through_time")


def _figure_classes():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - matplotlib is installed wherever the figure is used
        raise RuntimeError(f"the diagnosis figure needs matplotlib ({exc}): pip install matplotlib") from None
    return FigureCanvasAgg, Figure


def _save(fig, path):
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=150)
    return fig


def figure(source, path: str | Path | None = None, *, kind: str = "delta", steps: Sequence[int] | str | None = None):
    """The figure ``kind`` of a diagnosis, watch, tables or run directory (see :data:`KINDS`); saved when ``path`` is given.

    ``"delta"`` needs a :class:`~vanishing.watch.diagnose.Diagnosis`; ``"through_time"`` takes any
    ``source`` of :func:`time_table`, and ``steps`` (default: the latest snapshot).
    """
    if kind == "delta":
        if steps is not None:
            raise ValueError("figure(kind='delta'): steps is for kind='through_time' (the delta figure shows every snapshot)")
        return delta_figure(source, path)
    if kind == "through_time":
        return through_time_figure(source, path, steps=steps)
    raise ValueError(f"figure: kind={kind!r} must be one of {', '.join(KINDS)}")


def delta_figure(diagnosis, path: str | Path | None = None):
    """A matplotlib Figure of ``diagnosis.history``; saved (PNG, PDF … by suffix, 150 dpi) when ``path`` is given."""
    FigureCanvasAgg, Figure = _figure_classes()
    history = diagnosis.history
    order = list(diagnosis.layers["layer"])
    fig = Figure(figsize=(7.5, 4.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    snaps = sorted(int(e) for e in history["epoch"].unique())
    cmap = fig.colormaps["viridis"] if hasattr(fig, "colormaps") else None
    if cmap is None:
        from matplotlib import colormaps

        cmap = colormaps["viridis"]
    x = np.arange(len(order))
    for i, snap in enumerate(snaps):
        rows = history[history["epoch"] == snap].set_index("layer")["rms"]
        y = np.array([float(rows.get(name, np.nan)) for name in order])
        y = np.where(y > 0, y, np.nan)
        color = cmap(i / max(len(snaps) - 1, 1))
        bold = snap == diagnosis.snapshot
        ax.semilogy(x, y, "o-", color=color, lw=2.2 if bold else 1.0, alpha=1.0 if bold else 0.6,
                    label=f"{diagnosis.clock} {snap}" + (" (diagnosed)" if bold else ""))
    last = float(diagnosis.layers["rms"].iloc[-1]) if len(order) else np.nan
    if np.isfinite(last) and last > 0 and len(order) > 1:
        ref = last * diagnosis.thresholds.vanishing ** (len(order) - 1 - x)
        ax.semilogy(x, ref, "--", color="0.5", lw=1, label=f"ratio {diagnosis.thresholds.vanishing:g} per layer")
    ax.set_xticks(x, [str(n) for n in order], rotation=30 if len(order) > 6 else 0, ha="right" if len(order) > 6 else "center")
    ax.set_xlabel("hidden layer (input side left)")
    ax.set_ylabel("RMS per-example ‖δ‖")
    kinds = ", ".join(diagnosis.kinds)
    ax.set_title(f"{diagnosis.source or 'run'}: {kinds}", fontsize=10)
    ax.legend(fontsize=7, ncol=2 if len(snaps) > 6 else 1)
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


# --------------------------------------------------------------------------- through time


def _tables(source: Any) -> Mapping[str, pd.DataFrame]:
    """Probe tables of a Watch, a Diagnosis, a tables mapping, a ``through_time`` DataFrame or a run directory."""
    if isinstance(source, pd.DataFrame):
        return {"through_time": source}
    if isinstance(source, Mapping):
        return source
    if isinstance(source, (str, Path)):
        from ..store.results import read_probe_tables

        return read_probe_tables(Path(source) / "probes")
    if hasattr(source, "history") and hasattr(source, "verdicts"):  # a Diagnosis: cell loops from its δ history
        return {"backprop_signal": source.history, "through_time": getattr(source, "through_time", None)}
    if callable(getattr(source, "tables", None)):  # a Watch
        return source.tables()
    raise TypeError(f"through-time figure: cannot read tables from {type(source).__name__} "
                    "(give a Watch, a Diagnosis, a dict of tables, a through_time DataFrame or a run directory)")


def time_table(source: Any) -> pd.DataFrame:
    """The through-time view as one table ``epoch`` (the step), ``layer``, ``t`` (1 … T), ``rms``.

    :func:`vanishing.report.figures.time_rows` of the source's ``through_time`` rows (fused recurrent
    layers, extra columns kept) and ``backprop_signal`` rows (a cell loop's ``name@t`` as layer ``name``).
    Empty when the run has neither.
    """
    from ..report.figures import time_rows

    tables = _tables(source)
    fused = tables.get("through_time")
    if fused is not None:
        fused = fused.drop(columns=[c for c in ("run_id", "seed") if c in fused])
    bs = tables.get("backprop_signal")
    if bs is not None:
        bs = bs.drop(columns=[c for c in ("run_id", "seed") if c in bs])
    return time_rows(fused, bs)


def through_time_figure(source: Any, path: str | Path | None = None, *, steps: Sequence[int] | str | None = None):
    """‖∂L/∂h_{T−k}‖ against the lag k per recurrent layer (log y), memory horizon marked; saved when ``path`` is given.

    ``source``: a :class:`~vanishing.watch.Watch`, a ``Diagnosis`` (cell loops only, from its δ history, unless
    it carries the ``through_time`` table), a dict of tables, a ``through_time`` DataFrame or a run directory.
    ``steps``: the snapshots — default the latest; ``"all"`` or a list draws the earlier ones as shaded lines
    behind the latest. Drawn by :func:`vanishing.report.figures.through_time` (the report page's figure).
    Raises ``ValueError`` when there is no through-time data (no recurrent layer read).
    """
    from ..report.figures import through_time

    rows = time_table(source)
    if not len(rows):
        raise ValueError("through-time figure: no recurrent layer was read through time (no through_time rows, no module "
                         "applied ≥ 3 times per forward pass)")
    return _save(through_time(rows, steps=steps, clock="step", title=None), path)
