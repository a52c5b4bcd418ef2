"""The diagnosis figure: RMS per-example δ per layer at every snapshot, log scale.

Vanishing shows as lines that fall towards the input side (left), exploding
as lines that rise; a healthy net's lines are flat. The dashed grey line is
the vanishing threshold drawn from the last hidden layer of the diagnosed
snapshot: a line falling below it by more than one layer's worth of slope is
below the geometric-mean rule. Needs matplotlib (``pip install matplotlib``);
uses the Agg canvas directly, so it changes no pyplot backend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def delta_figure(diagnosis, path: str | Path | None = None):
    """A matplotlib Figure of ``diagnosis.history``; saved (PNG, PDF … by suffix, 150 dpi) when ``path`` is given."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - matplotlib is installed wherever the figure is used
        raise RuntimeError(f"the diagnosis figure needs matplotlib ({exc}): pip install matplotlib") from None

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
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=150)
    return fig
