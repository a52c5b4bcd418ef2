"""Through time: recurrent layers of watch runs, the error signal against the lag.

=========================  ==================================================  ======================
function                   what it draws                                       paper
=========================  ==================================================  ======================
through_time               ‖∂L/∂h‖ against the lag k per recurrent layer        Hochreiter (1991),
                           (log y), memory horizon marked                       Bengio et al. (1994)
=========================  ==================================================  ======================

:func:`time_rows` gathers the through-time view of a run (fused recurrent
layers and cells stepped at least :data:`TIME_STEPS` times);
:func:`memory_horizon` is the first lag below :data:`HORIZON` of lag 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .style import TAB10, _one_run, _require, _set_log, epoch_colors, new_figure, styled


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
