"""The ``chain`` study's figures: ∂J/∂y per layer against the bounds, layer factors, spreads, surviving ReLU chains."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .compute import PAPER_DEPTH

def _geo_band(ax, t, prof, color, label):
    m, se = prof["log_mean"].to_numpy(float), prof["log_se"].fillna(0).to_numpy(float)
    ax.plot(t, 10 ** m, color=color, marker="o", ms=2.5, label=label)
    ax.fill_between(t, 10 ** (m - se), 10 ** (m + se), color=color, alpha=0.25, linewidth=0, label="_band")


def figure_gradients(profiles: Mapping[str, pd.DataFrame], params: Mapping):
    """∂J/∂y per layer back from the output vs the chain bound and Mᵗ alone, one panel per activation."""
    from ...report.figures import STYLE, TAB10, new_figure
    import matplotlib

    with matplotlib.rc_context(STYLE):
        fig, axes = new_figure(1, len(profiles), panel=(3.6, 3.1))
        for ax, (act, prof) in zip(axes[0], profiles.items()):
            t = prof["t"].to_numpy(float)
            _geo_band(ax, t, prof, TAB10[0], "measured |∂J/∂y| (geometric mean ± s.e.)")
            ax.plot(t, 10 ** prof["bound_log_mean"], color=TAB10[3], ls="--", label="chain bound Mᵗ·Π|w| (geo. mean)")
            m_label = "(¼)ᵗ (the article)" if act == "sigmoid" else "Mᵗ = 1"
            ax.plot(t, 10 ** prof["plain_log"], color="0.2", ls=":", label=m_label)
            if act == "sigmoid" and len(t) > PAPER_DEPTH:
                ax.plot([PAPER_DEPTH], [0.25 ** PAPER_DEPTH], "k*", ms=9, label="the article's 10⁻⁶ at r = 10")
            ax.set_yscale("log")
            ax.set_xlabel("layers back from the output, t")
            title = act
            if act == "relu":
                title += f" (chains with a non-zero gradient: {100 * prof['n'].iloc[-1] / max(1, params['seeds']):.0f}% at t = {int(t[-1])})"
            ax.set_title(title, fontsize=8)
            ax.legend(loc="lower left", fontsize=6.5)
        axes[0][0].set_ylabel("|∂J/∂y| (∂J/∂y = 1 at the top)")
        fig.suptitle(f"{params['seeds']} chains, w ~ N({params['w_mean']:g}, {params['w_std']:g}²), "
                     f"b ~ N(0, {params['b_std']:g}²), x ~ U(0, 1)", fontsize=9)
    return fig


def figure_step_factors(results: Mapping[str, Mapping], limit: int = 4000, seed: int = 0):
    """Per-layer factor |w_k φ′(z_k)| against |w_k| with the bound M·|w| (a random subsample of steps)."""
    from ...report.figures import STYLE, TAB10, new_figure
    import matplotlib

    rng = np.random.default_rng(seed)
    with matplotlib.rc_context(STYLE):
        fig, axes = new_figure(1, len(results), panel=(3.2, 3.0))
        for ax, (act, res) in zip(axes[0], results.items()):
            aw = np.abs(res["w_used"]).ravel()
            fac = np.abs(res["w_used"] * res["dphi"]).ravel()
            pick = rng.choice(aw.size, size=min(limit, aw.size), replace=False)
            ax.scatter(aw[pick], fac[pick], s=3, color=TAB10[0], alpha=0.35, linewidths=0, label="measured steps")
            grid = np.linspace(0, aw.max(), 50)
            ax.plot(grid, res["max_df"] * grid, color=TAB10[3], ls="--", label=f"bound {res['max_df']:g}·|w|")
            ax.axhline(1.0, color="0.4", lw=0.7, ls=":", label="factor 1")
            ax.set_xlabel("|w_k|")
            ax.set_title(act, fontsize=8)
            ax.legend(loc="upper left", fontsize=6.5)
        axes[0][0].set_ylabel("layer factor |∂J/∂y(k−1)| / |∂J/∂y(k)| = |w_k·φ′(z_k)|")
    return fig


def figure_spreads(spread_rows: pd.DataFrame):
    """Fraction of sigmoid chains with |∂J/∂y| ≤ (¼)ᵗ, and the geometric-mean gradient, per weight spread."""
    from ...report.figures import STYLE, group_colors, new_figure
    import matplotlib

    with matplotlib.rc_context(STYLE):
        fig, axes = new_figure(1, 2, panel=(3.8, 3.1))
        spreads = sorted(spread_rows["w_std"].unique())
        for color, s in zip(group_colors(len(spreads)), spreads):
            p = spread_rows[spread_rows["w_std"] == s]
            axes[0][0].plot(p["t"], 100 * p["below_plain"], color=color, marker="o", ms=2.5, label=f"w_std = {s:g}")
            axes[0][1].plot(p["t"], 10 ** p["log_mean"], color=color, marker="o", ms=2.5, label=f"w_std = {s:g}")
        t = np.sort(spread_rows["t"].unique())
        axes[0][1].plot(t, 0.25 ** t, "k:", label="(¼)ᵗ")
        axes[0][1].set_yscale("log")
        axes[0][0].set_ylabel("chains with |∂J/∂y| ≤ (¼)ᵗ (%)")
        axes[0][1].set_ylabel("geometric mean |∂J/∂y|")
        for ax in axes[0]:
            ax.set_xlabel("layers back from the output, t")
            ax.legend(loc="best", fontsize=7)
        axes[0][0].set_title("the chain bound (¼)ᵗ·Π|w| holds for 100% at every spread", fontsize=8)
    return fig


def figure_relu_alive(alive: np.ndarray, p_pos: float | None):
    """Fraction of ReLU chains whose first r′ units are all active, measured vs P(w > 0)ʳ′."""
    from ...report.figures import STYLE, TAB10, new_figure
    import matplotlib

    with matplotlib.rc_context(STYLE):
        fig, axes = new_figure(1, 1, panel=(4.4, 3.1))
        ax = axes[0][0]
        r = np.arange(1, len(alive) + 1)
        ax.plot(r, 100 * alive, color=TAB10[0], marker="o", ms=3, label="measured")
        if p_pos is not None:
            ax.plot(r, 100 * p_pos ** r, "k--", label=f"P(w > 0)ʳ = {p_pos:.4f}ʳ (b = 0, x > 0)")
        ax.set_xlabel("chain length r")
        ax.set_ylabel("ReLU chains with every unit active (%)")
        ax.set_title("one negative weight kills the unit and every unit above it", fontsize=8)
        ax.legend(loc="best")
    return fig

