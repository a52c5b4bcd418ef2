"""The temporal study's protocol: scales, the runs it asks for (:func:`plan`), their measures and ``run()``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..base import StudyContext
from . import claims as C
from . import figures as F
from .common import (ABLATIONS, CELL_ORDER, INIT_ONLY, TASK_METRIC, _fmt, _fmt_log, _k0, _order, _profile)

def _config(p: dict, task: str, length: int, cell: str, seed: int, steps: int | None = None, **overrides):
    from ...recurrent import RecurrentConfig

    fields = dict(task=task, length=length, cell=cell, seed=seed, hidden=p["hidden"], symbols=p["symbols"],
                  steps=p["steps"] if steps is None else steps, batch_size=p["batch_size"], lr=p["lr"],
                  clip_norm=p["clip"], evals=p["evals"], eval_size=p["eval_size"], probe_size=p["probe_size"])
    fields.update(overrides)
    return RecurrentConfig(**fields)


def plan(p: dict) -> dict[str, list]:
    """The study's runs: ``main`` (tasks × lengths × cells × seeds), ``ablation`` and ``init`` (untrained)."""
    seeds = range(p["seeds"])
    longest = max(p["lengths"])
    main = [_config(p, task, T, cell, s) for task in p["tasks"] for T in p["lengths"] for cell in p["cells"]
            for s in seeds]
    ablation = [_config(p, task, T, cell, s, **over) for task in p["tasks"] for T in p["ablation_lengths"]
                for cell, over in ABLATIONS.values() for s in seeds]
    init = [_config(p, task, longest, cell, s, steps=0, **over) for task in p["tasks"]
            for cell, over in (*ABLATIONS.values(), *INIT_ONLY.values()) for s in seeds]
    return {"main": main, "ablation": ablation, "init": init}



def run_measures(res, runs: pd.DataFrame) -> pd.DataFrame:
    """Per run: gradient attenuation g(T−1)/g(k₀) and per-step decay factor at init and after training, spectra."""
    from ...recurrent import decay_rate

    tg, spec = res.probe("time_grad"), res.probe("spectral")
    rows = []
    for _, r in runs.iterrows():
        k0 = _k0(r["task"], r["symbols"])
        out = {"run_id": r["run_id"]}
        for when, step in (("init", 0), ("final", int(r["final_step"]))):
            prof = _profile(tg, r["run_id"], step)
            g = prof["grad_rms"].to_numpy(float)
            out[f"atten_{when}"] = g[-1] / g[k0] if g[k0] > 0 else math.nan
            out[f"rate_{when}"] = decay_rate(g, k0)
            mf = prof["meanfield"].to_numpy(float)
            out[f"rate_mf_{when}"] = decay_rate(mf, k0) if np.isfinite(mf[-1]) else math.nan
            lin = prof["linear"].to_numpy(float)
            if r["cell"].startswith("rnn_"):
                out[f"lin_dev_{when}"] = float(np.nanmax(np.abs(lin - g) / np.maximum(g, 1e-300)))
                bd = prof["bound"].to_numpy(float)
                ok = np.isfinite(bd)
                out[f"bound_ok_{when}"] = bool(np.all(g[ok] <= bd[ok] * (1 + 1e-9)))
            s = spec[(spec["run_id"] == r["run_id"]) & (spec["step"] == step)]
            block = {"lstm": "f", "gru": "z"}.get(r["cell"], "W_hh")
            out[f"radius_{when}"] = float(s.loc[s["block"] == block, "radius"].iloc[0]) if len(s) else math.nan
            out[f"norm2_{when}"] = float(s.loc[s["block"] == block, "norm2"].iloc[0]) if len(s) else math.nan
        rows.append(out)
    return runs.merge(pd.DataFrame(rows), on="run_id")


def _task_error(runs: pd.DataFrame) -> pd.Series:
    """The task's error measure of each run (adding: MSE ÷ Var(y); copy: symbol error), as a fraction of 1."""
    return pd.Series([r[TASK_METRIC[r["task"]][0]] for _, r in runs.iterrows()], index=runs.index, dtype=float)


def _ignored(ctx: StudyContext) -> None:
    for key in ("epochs", "dataset", "train_subset"):
        if ctx.params.get(key) is not None:
            ctx.log(f"[temporal] --{key.replace('_', '-')} does not apply (the sequences are generated; "
                    "use --steps, --lengths, --tasks); ignored")


def _workers(ctx: StudyContext) -> int:
    w = ctx.sweep_options.get("workers")
    if w is not None:
        return int(w)
    from ...sweep.local import default_workers

    return default_workers()


def run(ctx: StudyContext) -> None:
    from ...recurrent import load, run_all

    p = ctx.params
    _ignored(ctx)
    unknown = [c for c in p["cells"] if c not in CELL_ORDER]
    if unknown:
        from ...errors import ConfigError

        raise ConfigError(f"--cells: unknown cell {unknown[0]!r} (valid: {', '.join(CELL_ORDER)})")
    p["ablation_lengths"] = [t for t in p["ablation_lengths"] if t in p["lengths"]] or [max(p["lengths"])]
    runs_plan = plan(p)
    everything = [c for group in runs_plan.values() for c in group]
    ctx.log(f"[temporal] {len(runs_plan['main'])} main runs, {len(runs_plan['ablation'])} ablation runs, "
            f"{len(runs_plan['init'])} untrained probes; {p['steps']} steps each")
    run_all(everything, ctx.results, workers=_workers(ctx), log=ctx.log,
            executor=ctx.sweep_options.get("executor") or "local", address=ctx.sweep_options.get("address"))
    res = load(ctx.results, run_ids=[c.run_id for c in everything])
    bad = res.runs[~res.runs["status"].isin(["done", "diverged"])]
    if len(bad):
        raise RuntimeError(f"{len(bad)} recurrent runs did not finish")
    measured = run_measures(res, res.runs)
    measured["error"] = _task_error(measured)
    # one row per (task, model, T, seed) for what is measured at init (a trained run and an untrained probe of
    # the same config and seed start from the same weights)
    runs = measured.sort_values("steps", ascending=False).drop_duplicates(["task", "label", "length", "seed"])
    trained = measured[measured["steps"] > 0]
    tasks = [t for t in p["tasks"]]
    longest = max(p["lengths"])
    main = trained[trained["label"].isin(CELL_ORDER)]

    # -- figures
    for task in tasks:
        ctx.report.add_heading(f"Gradient through time — {task} task")
        ctx.figure(F.grad_vs_k_figure(res, main, task, longest),
                   f"RMS over {p['probe_size']} probe sequences of ‖∂L_n/∂h_{{T−k}}‖ (float64) against the lag k, {task} "
                   f"task, T = {longest}: at init (dark), at every evaluation point (thin) and after {p['steps']} steps "
                   "(light). Elman cells: × = the linearised RNN, the product of W_hhᵀ diag(f′(a_t)) along the actual "
                   "trajectory applied to the readout's gradient (it lies on the measurement: backprop through time "
                   "is this product); dashed = the mean-field rate Π √(σ_w²⟨f′²⟩); dotted = Hochreiter's bound "
                   "Π max|f′|·‖W_hh‖₂ at init. LSTM: dash-dot = ‖∂L/∂c‖ of the cell state.",
                   f"grad_vs_k_{task}")
        ctx.figure(F.dynamics_figure(res, trained, task, longest),
                   f"Training dynamics at T = {longest} ({task}): test error, attenuation of the gradient over the "
                   "whole sequence, spectral radius of the recurrent matrix (LSTM: forget block, GRU: update block) "
                   "and the % of steps whose gradient norm exceeded the clipping threshold "
                   f"{p['clip']}. Dashed: ablations.", f"dynamics_{task}")
    ctx.report.add_heading("Final task error vs sequence length")
    ctx.figure(F.error_vs_length_figure(trained, tasks),
               f"Task error after {p['steps']} steps against T, mean ± s.e. over {p['seeds']} seeds. Adding: test "
               "MSE ÷ Var(y) = 1/6 (1 = predicting the mean); copy: % of recalled symbols wrong (dotted: chance "
               "1 − 1/K). Dashed, hollow: ablations (forget-gate bias, PyTorch's default init).", "error_vs_length")
    ctx.figure(F.init_profiles_figure(res, runs, tasks, longest),
               f"At init, T = {longest}: how the init scheme and the forget-gate bias set the gradient's reach. "
               "Default = Keras (orthogonal recurrent, Glorot input, zero bias, b_f = 1); [torch_default] = "
               "U(±1/√H) for every weight and bias; (b_f=…) = LSTM forget-gate bias; [orthogonal(4)] = gain 4, "
               "which makes σ′(0)·‖W‖ = 1.", "init_profiles")
    ctx.figure(F.error_vs_steps_figure(res, trained, tasks),
               f"Task error against optimizer steps (batch {p['batch_size']}, fresh sequences every step), mean ± s.e. "
               f"over {p['seeds']} seeds: thick at T = {longest}, thin at the shorter lengths; dotted: chance.",
               "error_vs_steps")

    # -- tables
    err_rows = []
    for (task, label), part in sorted(trained.groupby(["task", "label"]), key=lambda kv: (kv[0][0], _order(kv[0][1]))):
        row = {"task": task, "model": label}
        scale = TASK_METRIC[task][2]
        for T in sorted(set(part["length"])):
            row[f"T={T}"] = _fmt(part.loc[part["length"] == T, "error"], 2 if scale == 1 else 1, scale)
        err_rows.append(row)
    err_table = pd.DataFrame(err_rows).fillna("–")
    ctx.report.add_table(err_table, "Task error after training, mean ± s.e. over seeds (adding: MSE ÷ "
                         "Var(y); copy: symbol error %).")
    ctx.log(err_table.to_string(index=False))

    grad_rows = []
    for (task, label), part in sorted(runs[runs["length"] == longest].groupby(["task", "label"]),
                                      key=lambda kv: (kv[0][0], _order(kv[0][1]))):
        tr = part[part["steps"] > 0]
        grad_rows.append({
            "task": task, "model": label,
            "per-step factor, init": _fmt(part["rate_init"], 3),
            "per-step factor, trained": _fmt(tr["rate_final"], 3) if len(tr) else "–",
            "mean-field factor, init": _fmt(part["rate_mf_init"].dropna(), 3) if part["rate_mf_init"].notna().any() else "–",
            f"g(k={longest - 1})/g(k0), init": _fmt_log(part["atten_init"]),
            f"g(k={longest - 1})/g(k0), trained": _fmt_log(tr["atten_final"]) if len(tr) else "–",
            "spectral radius init → trained": f"{part['radius_init'].mean():.2f} → {tr['radius_final'].mean():.2f}"
            if len(tr) else f"{part['radius_init'].mean():.2f}",
            "clipped steps (%)": _fmt(tr["clipped_fraction"], 0, 100) if len(tr) else "–",
        })
    grad_table = pd.DataFrame(grad_rows)
    ctx.report.add_table(grad_table, f"Gradient through time at T = {longest}: per-step factor (g(T−1)/g(k₀))^(1/(T−1−k₀)) "
                         "mean ± s.e. over seeds; attenuation over the whole sequence as 10^(mean log10) ± s.e. in "
                         "decades; spectral radius of the recurrent block (LSTM forget, GRU update); % of steps clipped.")
    ctx.log(grad_table.to_string(index=False))

    ctx.claims.extend(C.claims(runs, trained, tasks=tasks, lengths=p["lengths"], steps=p["steps"]))



def add_arguments(parser) -> None:
    ints = lambda s: [int(v) for v in s.split(",")]  # noqa: E731
    words = lambda s: [v.strip() for v in s.split(",") if v.strip()]  # noqa: E731
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per run (overrides the scale)")
    parser.add_argument("--lengths", type=ints, default=None, help="sequence lengths, e.g. 10,25,50,100,200")
    parser.add_argument("--tasks", type=words, default=None, help="tasks: adding,copy")
    parser.add_argument("--cells", type=words, default=None, help="cells: rnn_tanh,rnn_sigmoid,rnn_relu,lstm,gru")
    parser.add_argument("--hidden", type=int, default=None, help="recurrent units (overrides the scale)")
    parser.add_argument("--ablation-lengths", dest="ablation_lengths", type=ints, default=None,
                        help="lengths at which the ablations are trained")


# The paper scale's step budget (issue 16: "a step budget at which a trained LSTM is known to solve the adding
# problem at T = 200"). Hochreiter & Schmidhuber (1997, "Long short-term memory", Neural Computation 9(8),
# Experiment 4, the adding problem) stop training their LSTM at T = 100 after 74,000 training sequences, the task
# solved; Arjovsky, Shah & Bengio (2016, "Unitary evolution recurrent neural networks", ICML) train LSTM baselines
# on the adding problem up to T = 750 and report that the LSTM beats the input-blind baseline at every length.
# We take 10,000 Adam steps of 32 fresh sequences = 320,000 sequences: more than 4 × the 1997 budget at T = 100,
# with a modern optimizer (Adam, clipping) instead of the 1997 online gradient descent; the 1997 paper reports no
# T = 200 run, so whether this budget solves T = 200 here is what the paper run measures. Arjovsky et al.'s own iteration count is not restated here (not re-checked).
PAPER_STEPS = 10_000
PAPER_BUDGET = (f"Paper scale: tanh RNN, LSTM and GRU on the adding and copy tasks, T = 10…200, 3 seeds, "
                f"{PAPER_STEPS} Adam steps × batch 32 = {PAPER_STEPS * 32:,} sequences — over 4 × the 74,000 "
                "sequences after which Hochreiter & Schmidhuber (1997, Exp. 4) stop their LSTM on the adding problem "
                "at T = 100, solved; Arjovsky, Shah & Bengio (2016) report LSTMs beating the baseline on the adding "
                "problem up to T = 750.")

SCALES = {
    # quick: 3 seeds (issue 16); the third seed adds about 20–40 s to the quick run (estimated from the medium
    # run's time per step × length)
    "quick": {"tasks": ["adding", "copy"], "lengths": [10, 50, 100], "cells": list(CELL_ORDER), "steps": 150,
              "seeds": 3, "hidden": 32, "symbols": 3, "batch_size": 32, "lr": 1e-3, "clip": 1.0, "evals": 3,
              "eval_size": 300, "probe_size": 64, "ablation_lengths": [100]},
    "medium": {"tasks": ["adding", "copy"], "lengths": [10, 25, 50, 100, 200], "cells": list(CELL_ORDER),
               "steps": 1500, "seeds": 3, "hidden": 64, "symbols": 3, "batch_size": 32, "lr": 1e-3, "clip": 1.0,
               "evals": 6, "eval_size": 1000, "probe_size": 200, "ablation_lengths": [200]},
    # paper: see PAPER_BUDGET. Cost on the 2-core CPU, measured on the first paper runs: a gated cell at T = 200
    # takes 3–8 min per 10,000-step run on one of 2 workers (≈ 1.75 s per unit of length per run), so the 90 main
    # runs (gated cells Σ T = 385 per cell, task and seed) and the 18 ablation runs at T = 200 make ≈ 2 h on 2
    # workers — resumable at every evaluation point (`vanishing study temporal --paper` again continues).
    "paper": {"tasks": ["adding", "copy"], "lengths": [10, 25, 50, 100, 200], "cells": ["rnn_tanh", "lstm", "gru"],
              "steps": PAPER_STEPS, "seeds": 3, "hidden": 64, "symbols": 3, "batch_size": 32, "lr": 1e-3,
              "clip": 1.0, "evals": 20, "eval_size": 1000, "probe_size": 200, "ablation_lengths": [200]},
    "full": {"tasks": ["adding", "copy"], "lengths": [10, 25, 50, 100, 200], "cells": list(CELL_ORDER),
             "steps": 20000, "seeds": 5, "hidden": 128, "symbols": 3, "batch_size": 32, "lr": 1e-3, "clip": 1.0,
             "evals": 20, "eval_size": 2000, "probe_size": 500, "ablation_lengths": [25, 50, 100, 200]},
}
