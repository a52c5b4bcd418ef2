"""The activation registry: f and f′ of its entries.

=========================  ==================================================  ======================
function                   what it draws                                       paper
=========================  ==================================================  ======================
activation_functions       f and f′ of registry entries                         zoo (seed 004)
=========================  ==================================================  ======================
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure

from .style import TAB10, group_colors, new_figure, styled


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

    from ... import activations

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
