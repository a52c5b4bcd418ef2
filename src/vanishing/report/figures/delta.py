"""δ by layer, with the mean-field theory line.

=========================  ==================================================  ======================
function                   what it draws                                       paper
=========================  ==================================================  ======================
delta_by_layer             per-example RMS δ by layer, one line per epoch,      mean-field theory,
                           optional theory line                                 seed 003
=========================  ==================================================  ======================

:func:`theory_line` turns a prediction table (absolute δ, decay or per-layer
ratio) into the values drawn, anchored at the measured last hidden layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..groups import ordered_layers, seed_stats
from .style import QUANTITIES, _require, _set_log, epoch_colors, epoch_name, new_figure, styled


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
