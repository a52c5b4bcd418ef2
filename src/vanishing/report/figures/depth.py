"""Metric against depth: headline accuracy / MCR by number of hidden layers.

=========================  ==================================================  ======================
function                   what it draws                                       paper
=========================  ==================================================  ======================
metric_vs_depth            accuracy / MCR vs number of hidden layers, lines     Pretorius Fig 2,
                           per activation/width, batch norm starred             Tan & Lim Table I
=========================  ==================================================  ======================
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..groups import _key, seed_stats
from .style import _require, group_colors, metric_label, metric_values, new_figure, styled


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
