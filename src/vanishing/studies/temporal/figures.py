"""The temporal study's figures: gradient vs lag, error vs length, training dynamics, init profiles, error vs steps."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .common import CELL_NAMES, CELL_ORDER, GRAD_LABEL, TASK_METRIC, _cell_color, _geo, _profile

def grad_vs_k_figure(res, runs: pd.DataFrame, task: str, length: int):
    """One panel per cell: RMS ‖∂L/∂h_{T−k}‖ vs k at every snapshot (init dark → trained light), theory lines."""
    import matplotlib

    from ...report.figures import STYLE, epoch_colors, new_figure

    tg = res.probe("time_grad")
    sel = runs[(runs["task"] == task) & (runs["length"] == length)]
    labels = [c for c in CELL_ORDER if c in set(sel["label"])]
    with matplotlib.rc_context(STYLE), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cols = min(3, len(labels))
        rows = math.ceil(len(labels) / cols)
        fig, axes = new_figure(rows, cols, panel=(3.6, 2.9))
        for ax in axes.flat[len(labels):]:
            ax.set_visible(False)
        for ax, label in zip(axes.flat, labels):
            part = sel[sel["label"] == label]
            steps = sorted(set(tg.loc[tg["run_id"].isin(part["run_id"]), "step"]))
            colors = epoch_colors(range(len(steps)))
            for i, step in enumerate(steps):
                frames = [_profile(tg, rid, step) for rid in part["run_id"]]
                frames = [f for f in frames if len(f)]
                if not frames:
                    continue
                k = frames[0]["k"].to_numpy()
                edge = i in (0, len(steps) - 1)
                name = "init" if step == 0 else f"step {step}"
                ax.plot(k, _geo(frames, "grad_rms"), color=colors[i], lw=1.6 if edge else 0.6,
                        alpha=1 if edge else 0.6, label=f"measured, {name}" if edge else None)
                if edge and label.startswith("rnn_"):
                    lin = _geo(frames, "linear")
                    every = max(1, len(k) // 12)
                    ax.plot(k[::every], lin[::every], ls="none", marker="x", ms=4, color="k", mew=0.8,
                            label="linearised Π Wᵀdiag(f′)" if i == 0 else None)
                    ax.plot(k, _geo(frames, "meanfield"), ls="--", lw=1, color=colors[i],
                            label="mean-field rate" if i == 0 else None)
                    if i == 0:
                        ax.plot(k, _geo(frames, "bound"), ls=":", lw=1.2, color="0.4",
                                label="bound Π max|f′|·‖W‖₂ (init)")
                if edge and label == "lstm":
                    ax.plot(k, _geo(frames, "cell_rms"), ls="-.", lw=1, color=colors[i],
                            label="‖∂L/∂c‖" if i == 0 else None)
            ax.set_yscale("log")
            ax.set_title(f"{CELL_NAMES.get(label, label)}", loc="left")
            ax.set_xlabel("lag k (steps back from the end)")
            ax.set_ylabel(GRAD_LABEL)
        # one legend for every panel (per-panel legends cost most of the rendering time)
        entries: dict[str, object] = {}
        for ax in axes.flat[:len(labels)]:
            for handle, text in zip(*ax.get_legend_handles_labels()):
                entries.setdefault(text, handle)
        spare = axes.flat[len(labels)] if len(labels) < axes.size else None
        if spare is not None:
            spare.set_visible(True)
            spare.axis("off")
            spare.legend(list(entries.values()), list(entries), loc="center", fontsize=7)
        else:
            fig.legend(list(entries.values()), list(entries), loc="outside lower center", ncols=4, fontsize=7)
        fig.suptitle(f"{task} task, T = {length}: gradient through time (geometric mean over seeds)", fontsize=9)
    return fig


def error_vs_length_figure(runs: pd.DataFrame, tasks: Sequence[str]):
    """Final task error vs T per model, mean ± s.e. over seeds; ablations dashed with hollow markers."""
    import matplotlib

    from ...report.figures import STYLE, new_figure

    with matplotlib.rc_context(STYLE):
        fig, axes = new_figure(1, len(tasks), panel=(4.2, 3.2))
        for ax, task in zip(axes[0], tasks):
            col, ylabel, scale = TASK_METRIC[task]
            part = runs[(runs["task"] == task) & (runs["steps"] > 0)]
            order = [l for l in CELL_ORDER if l in set(part["label"])] + sorted(set(part["label"]) - set(CELL_ORDER))
            for label in order:
                g = part[part["label"] == label].groupby("length")[col]
                stats = g.agg(["mean", "std", "count"]).reset_index()
                se = stats["std"] / np.sqrt(stats["count"])
                main = label in CELL_ORDER
                ax.errorbar(stats["length"], stats["mean"] * scale, yerr=se.fillna(0) * scale, capsize=2,
                            color=_cell_color(label), ls="-" if main else "--", marker="o",
                            mfc=None if main else "white", label=CELL_NAMES.get(label, label))
            chance = 1.0 if task == "adding" else float(part["chance_error"].iloc[0]) if len(part) else math.nan
            ax.axhline(chance * scale, color="0.3", ls=":", lw=1, label="chance (input-blind)")
            if task == "adding":
                ax.set_yscale("log")  # MSE ratios span decades (a solved task: 1e-3; a diverging start: > 1)
            ax.set_xscale("log")
            lengths = sorted(set(part["length"]))
            ax.set_xticks(lengths, [str(t) for t in lengths])
            ax.minorticks_off()
            ax.set_xlabel("sequence length T")
            ax.set_ylabel(ylabel)
            ax.set_title(f"{task}: error after training", loc="left")
        axes[0][-1].legend(fontsize=6.5, loc="best")
    return fig


def dynamics_figure(res, runs: pd.DataFrame, task: str, length: int):
    """Over training, per model: task error, attenuation g(T−1)/g(k₀), spectral radius, clipped fraction."""
    import matplotlib

    from ...report.figures import STYLE, new_figure

    hist = res.history
    sel = runs[(runs["task"] == task) & (runs["length"] == length) & (runs["steps"] > 0)]
    col, ylabel, scale = TASK_METRIC[task]
    with matplotlib.rc_context(STYLE):
        fig, axes = new_figure(1, 4, panel=(3.0, 2.7))
        for label in [l for l in CELL_ORDER if l in set(sel["label"])] + sorted(set(sel["label"]) - set(CELL_ORDER)):
            ids = sel.loc[sel["label"] == label, "run_id"]
            h = hist[hist["run_id"].isin(ids)].copy()
            if h.empty:
                continue
            h["atten"] = h["grad_kmax"] / h["grad_k0"]
            m = h.groupby("step").agg(err=(col, "mean"), radius=("spectral_radius", "mean"),
                                      clipped=("clipped_fraction", "mean"))
            with np.errstate(divide="ignore"):
                m["atten"] = 10 ** h.assign(l=np.log10(h["atten"])).groupby("step")["l"].mean()
            style = dict(color=_cell_color(label), ls="-" if label in CELL_ORDER else "--", lw=1.2,
                         label=CELL_NAMES.get(label, label))
            axes[0][0].plot(m.index, m["err"] * scale, **style)
            axes[0][1].plot(m.index, m["atten"], **style)
            axes[0][2].plot(m.index, m["radius"], **style)
            axes[0][3].plot(m.index[1:], 100 * m["clipped"].iloc[1:], **style)
        axes[0][0].set_ylabel(ylabel)
        axes[0][1].set_yscale("log")
        axes[0][1].set_ylabel(r"$\|\partial L/\partial h_1\| \,/\, \|\partial L/\partial h_T\|$")
        if task == "adding":
            axes[0][0].set_yscale("log")
        axes[0][2].set_ylabel("spectral radius (W_hh; LSTM f, GRU z block)")
        axes[0][3].set_ylabel("steps clipped (%)")
        for ax in axes[0]:
            ax.set_xlabel("optimizer step")
        axes[0][3].legend(fontsize=6.5, loc="best")
        fig.suptitle(f"{task} task, T = {length}: training dynamics (mean over seeds; attenuation: geometric)", fontsize=9)
    return fig


def init_profiles_figure(res, runs: pd.DataFrame, tasks: Sequence[str], length: int):
    """At init, T = ``length``: ‖∂L/∂h_{T−k}‖ for the cells and their init / forget-bias variants."""
    import matplotlib

    from ...report.figures import STYLE, new_figure

    tg = res.probe("time_grad")
    sel = runs[runs["length"] == length]
    with matplotlib.rc_context(STYLE):
        fig, axes = new_figure(len(tasks), 2, panel=(4.0, 3.0))
        for row, task in zip(axes, tasks):
            part = sel[sel["task"] == task]
            for ax, gated in zip(row, (False, True)):
                labels = sorted(l for l in set(part["label"]) if l.startswith(("lstm", "gru")) == gated)
                labels.sort(key=lambda l: (l not in CELL_ORDER, CELL_ORDER.index(l.split("(")[0].split("[")[0])
                                           if l.split("(")[0].split("[")[0] in CELL_ORDER else 9, l))
                styles = ["-", "--", "-.", ":"]
                seen: dict[str, int] = {}
                for label in labels:
                    ids = part.loc[part["label"] == label, "run_id"]
                    frames = [f for f in (_profile(tg, rid, 0) for rid in ids) if len(f)]
                    if not frames:
                        continue
                    base = label.split("(")[0].split("[")[0]
                    i = seen.get(base, 0)
                    seen[base] = i + 1
                    ax.plot(frames[0]["k"], _geo(frames, "grad_rms"), color=_cell_color(label), ls=styles[i % 4],
                            lw=1.3, label=label)
                ax.set_yscale("log")
                ax.set_xlabel("lag k")
                ax.set_ylabel(GRAD_LABEL + " at init")
                ax.set_title(f"{task}, T = {length}: {'gated cells' if gated else 'Elman cells'}", loc="left")
                if task == tasks[0]:  # the same lines in every row: one legend per column
                    ax.legend(fontsize=6, loc="lower left")
    return fig


def error_vs_steps_figure(res, runs: pd.DataFrame, tasks: Sequence[str], paper_steps: int | None = None):
    """Task error against optimizer steps per cell, mean ± s.e. over seeds: thick at the longest T, thin at the others."""
    import matplotlib

    from ...report.figures import STYLE, new_figure

    hist = res.history
    sel = runs[(runs["steps"] > 0) & runs["label"].isin(CELL_ORDER)]
    with matplotlib.rc_context(STYLE):
        fig, axes = new_figure(1, len(tasks), panel=(4.4, 3.2))
        for ax, task in zip(axes[0], tasks):
            col, ylabel, scale = TASK_METRIC[task]
            part = sel[sel["task"] == task]
            lengths = sorted(set(part["length"]))
            for label in [c for c in CELL_ORDER if c in set(part["label"])]:
                for T in lengths:
                    ids = part.loc[(part["label"] == label) & (part["length"] == T), "run_id"]
                    h = hist[hist["run_id"].isin(ids)]
                    if h.empty:
                        continue
                    g = h.groupby("step")[col].agg(["mean", "std", "count"])
                    se = (g["std"] / np.sqrt(g["count"])).fillna(0)
                    longest = T == lengths[-1]
                    ax.plot(g.index, g["mean"] * scale, color=_cell_color(label), lw=1.6 if longest else 0.6,
                            alpha=1 if longest else 0.45, label=f"{CELL_NAMES.get(label, label)}, T = {T}" if longest
                            else None)
                    if longest:
                        ax.fill_between(g.index, (g["mean"] - se) * scale, (g["mean"] + se) * scale,
                                        color=_cell_color(label), alpha=0.2, linewidth=0)
            chance = 1.0 if task == "adding" else float(part["chance_error"].iloc[0]) if len(part) else math.nan
            ax.axhline(chance * scale, color="0.3", ls=":", lw=1, label="chance (input-blind)")
            if task == "adding":
                ax.set_yscale("log")
            if paper_steps:
                ax.axvline(paper_steps, color="0.5", ls="--", lw=0.8, label="literature budget")
            ax.set_xlabel("optimizer step")
            ax.set_ylabel(ylabel)
            ax.set_title(f"{task}: error against training steps (thin: shorter T)", loc="left")
        axes[0][-1].legend(fontsize=6.5, loc="best")
    return fig
