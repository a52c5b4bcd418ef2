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
per layer, the memory horizon of :func:`~vanishing.watch.diagnose.through_time`
(the first lag below 10 % of the value at lag 0) dashed.

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

    The ``through_time`` rows (fused recurrent layers, as recorded, extra columns kept) and, for a module
    applied ≥ ``TIME_STEPS`` times per forward pass (a cell loop), its ``name@t`` rows of ``backprop_signal``
    as layer ``name`` — unless ``through_time`` has that layer already. Empty when the run has neither.
    """
    from .diagnose import TIME_STEPS

    tables = _tables(source)
    parts = []
    fused = tables.get("through_time")
    if fused is not None and len(fused):
        parts.append(fused.drop(columns=[c for c in ("run_id", "seed") if c in fused]))
    known = set(fused["layer"].astype(str)) if parts else set()
    bs = tables.get("backprop_signal")
    if bs is not None and len(bs):
        split = bs["layer"].astype(str).str.extract(r"^(?P<base>.+)@(?P<k>\d+)$")
        keep = split["base"].notna() & ~split["base"].isin(known)
        if keep.any():
            cells = pd.DataFrame({"epoch": bs.loc[keep, "epoch"].astype("int64"), "layer": split.loc[keep, "base"],
                                  "t": split.loc[keep, "k"].astype("int64"), "rms": bs.loc[keep, "rms"].astype(float)})
            cells = cells[cells.groupby(["epoch", "layer"], sort=False)["t"].transform("size") >= TIME_STEPS]
            if len(cells):
                parts.append(cells)
    if not parts:
        return pd.DataFrame({"epoch": pd.Series(dtype="int64"), "layer": pd.Series(dtype=str),
                             "t": pd.Series(dtype="int64"), "rms": pd.Series(dtype=float)})
    return pd.concat(parts, ignore_index=True)


def through_time_figure(source: Any, path: str | Path | None = None, *, steps: Sequence[int] | str | None = None):
    """‖∂L/∂h_{T−k}‖ against the lag k per recurrent layer (log y), memory horizon marked; saved when ``path`` is given.

    ``source``: a :class:`~vanishing.watch.Watch`, a ``Diagnosis`` (cell loops only, from its δ history, unless
    it carries the ``through_time`` table), a dict of tables, a ``through_time`` DataFrame or a run directory.
    ``steps``: the snapshots — default the latest; ``"all"`` or a list draws the earlier ones as shaded lines
    behind the latest. Raises ``ValueError`` when there is no through-time data (no recurrent layer read).
    """
    from .diagnose import HORIZON, through_time

    rows = time_table(source)
    if not len(rows):
        raise ValueError("through-time figure: no recurrent layer was read through time (no through_time rows, no module "
                         "applied ≥ 3 times per forward pass)")
    have = sorted({int(e) for e in rows["epoch"]})
    if steps is None:
        chosen = have[-1:]
    elif isinstance(steps, str):
        if steps != "all":
            raise ValueError(f"through-time figure: steps={steps!r}: a list of steps, 'all' or None (the latest)")
        chosen = have
    else:
        chosen = sorted({int(s) for s in steps})
        missing = [s for s in chosen if s not in have]
        if missing or not chosen:
            raise ValueError(f"through-time figure: no snapshot at step {', '.join(map(str, missing)) or '(none given)'} "
                             f"(snapshots: {', '.join(map(str, have))})")
    latest = chosen[-1]
    FigureCanvasAgg, Figure = _figure_classes()
    from matplotlib import colormaps

    layers = list(dict.fromkeys(str(n) for n in rows["layer"]))
    ncols = min(3, len(layers))
    nrows = -(-len(layers) // ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.3 * nrows))
    FigureCanvasAgg(fig)
    cmap = colormaps["viridis"]
    for i, layer in enumerate(layers):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        part = rows[rows["layer"].astype(str) == layer]
        for j, step in enumerate(chosen):
            snap = part[part["epoch"].astype(int) == step].sort_values("t")
            if snap.empty:
                continue
            t = snap["t"].to_numpy(dtype=int)
            lag = snap["lag"].to_numpy(dtype=int) if "lag" in snap and snap["lag"].notna().all() else int(t.max()) - t  # k = T − t
            rms = snap["rms"].to_numpy(dtype=float)
            bold = step == latest
            color = cmap(0.85 * j / max(len(chosen) - 1, 1)) if len(chosen) > 1 else "C0"
            ax.semilogy(lag, np.where(rms > 0, rms, np.nan), "o-" if bold else "-", ms=3, color=color,
                        lw=2.0 if bold else 1.0, alpha=1.0 if bold else 0.35, zorder=3 if bold else 2,
                        label=f"step {step}" + (" (latest)" if bold and len(chosen) > 1 else ""))
            if bold:
                read = through_time([f"{layer}@{k}" for k in t], rms).get(layer, {})
                ref = rms[np.argmax(t)]
                if np.isfinite(ref) and ref > 0:
                    ax.axhline(HORIZON * ref, color="0.5", ls=":", lw=1, label=f"{HORIZON:.0%} of lag 0")
                if read.get("horizon") is not None:
                    ax.axvline(read["horizon"], color="tab:red", ls="--", lw=1.2, label=f"memory horizon k = {read['horizon']}")
                else:
                    ax.plot([], [], " ", label=f"no horizon within {len(t)} steps")
        ax.set_title(layer, fontsize=10)
        ax.set_xlabel("lag k = T − t (steps back from the last)")
        ax.set_ylabel("RMS ‖∂L/∂h_(T−k)‖")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"error signal through time, step {latest}", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
