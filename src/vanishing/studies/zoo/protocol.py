"""Zoo protocol: the configs, sweeps and run(); claims in :mod:`.claims`, figures in :mod:`.figures`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..base import StudyContext, mean_se
from .claims import claim_rows, function_claim_rows
from .common import *  # noqa: F403
from .common import _base, _census_means, _col, _fmt, _fmt_g, _layer_values, _m, _variant  # noqa: F401
from .figures import figure_cost, figure_delta_grid, figure_dying, figure_grad_heatmap, figure_remedy_delta, figure_summary_bars

def unit_census(model, x, *, tiny: float = 0.0) -> pd.DataFrame:
    """Per hidden layer of a trained MLP, in eval mode on the inputs ``x``: which units are off for every example.

    ``negative``: share of units whose pre-activation a ≤ 0 on every example
    (for ReLU these output 0 for every input); ``no_gradient``: share of
    units whose derivative f′(a) is 0 on every example (they pass no
    gradient to their weights — the dying ReLU; 0 by construction for leaky
    ReLU, PReLU, RReLU and ELU, whose f′ > 0 below zero — in exact
    arithmetic: ELU's αeᵃ underflows to 0 in float32 for a ≲ −103);
    ``tiny_gradient``: share of units with f′(a) ≤ ``tiny`` on every example
    (= ``no_gradient`` at ``tiny`` = 0). Columns ``layer``, ``width``,
    ``negative``, ``no_gradient``, ``tiny_gradient`` (fractions).
    """
    import torch

    was_training = model.training
    model.eval()
    rows = []
    try:
        with torch.no_grad():
            h = x
            for name, layer in zip(model.layer_names, model.hidden_layers):
                a = layer.pre_activation(h)
                df = layer.act.derivative(a)
                rows.append({"layer": name, "width": a.shape[1],
                             "negative": float((a <= 0).all(dim=0).double().mean()),
                             "no_gradient": float((df == 0).all(dim=0).double().mean()),
                             "tiny_gradient": float((df.abs() <= tiny).all(dim=0).double().mean())})
                h = layer.post_activation(h, a)
    finally:
        model.train(was_training)
    return pd.DataFrame(rows)


def trained_census(ctx: StudyContext, summary: pd.DataFrame, probe, *, tiny: float = 0.0):
    """(run row, :func:`unit_census` of its trained model on the probe set) per run of ``summary`` whose
    model loads; a run that does not is logged and left out."""
    for _, r in summary.iterrows():
        try:
            model = load_trained(r["path"], probe.x.shape[1], probe.n_classes)
        except (OSError, KeyError, RuntimeError) as exc:
            ctx.log(f"[zoo] cannot load the trained model of {r['run_id']}: {exc}")
            continue
        yield r, unit_census(model, probe.x, tiny=tiny)


def load_trained(run_path: str, n_in: int, n_out: int):
    """The MLP of a finished run, rebuilt from its ``config.json`` and the last checkpoint (weights only)."""
    import json
    from pathlib import Path

    import torch

    from ...config import config_from_dict, resolve
    from ...model import build_model

    folder = Path(run_path)
    cfg = resolve(config_from_dict(json.loads((folder / "config.json").read_text())["config"]))
    model = build_model(cfg.model, n_in, n_out, seed=cfg.seed)
    state = torch.load(folder / "checkpoint.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    return model


def activation_cost(names: Sequence[str], *, shape: tuple[int, int] = (128, 256), calls: int = 30,
                    rounds: int = 15, seed: int = 0) -> pd.DataFrame:
    """Time of one forward + backward of each activation module on a ``shape`` tensor (one thread), in µs.

    The modules are the ones the MLPs use (training mode). Each round times
    ``calls`` calls of every activation in a shuffled order (interleaved, so
    a slow spell of a shared machine hits them all); the table holds the
    median over rounds (``us``) and its ratio to ReLU's (``vs_relu``).
    """
    import time

    import torch

    from ... import activations

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)
    try:
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(*shape, generator=gen, requires_grad=True)
        grad = torch.randn(*shape, generator=gen)
        mods = {n: activations.get(n).module(shape[1]).train() for n in names}
        times: dict[str, list[float]] = {n: [] for n in names}
        for _ in range(rounds):
            for n in rng.permutation(list(names)):
                mod = mods[n]
                start = time.perf_counter()
                for _ in range(calls):
                    x.grad = None
                    mod(x).backward(grad)
                times[n].append((time.perf_counter() - start) / calls * 1e6)
    finally:
        torch.set_num_threads(threads)
    rows = [{"activation": act_name(n), "us": float(np.median(times[n]))} for n in names]
    df = pd.DataFrame(rows)
    relu = df[df["activation"] == "relu"]["us"]
    df["vs_relu"] = df["us"] / float(relu.iloc[0]) if len(relu) else math.nan
    return df


# --------------------------------------------------------------------------- figures




def _probe_data(ctx: StudyContext, base: Mapping):
    """The runs' data set (preprocessed as for them) and its probe set: for q₁ of the theory and the unit census."""
    from ...config import config_from_dict, resolve
    from ...data import load_dataset
    from ...probes.probe_set import make_probe_set

    cfg = resolve(config_from_dict(dict(base)))
    d = cfg.data
    data = load_dataset(d.dataset, data_dir=ctx.exec_config.data_dir, mirror=ctx.exec_config.mirror,
                        val_fraction=d.val_fraction, split_seed=d.split_seed, pixel_divisor=d.pixel_divisor,
                        standardize=d.standardize, train_subset=d.train_subset)
    probe = make_probe_set(data, cfg.probes.probe_split, cfg.probes.probe_per_class, cfg.probes.probe_seed)
    return data, probe


def _theories(ctx: StudyContext, base: Mapping, data, overrides: Sequence[Mapping]) -> dict:
    """Mean-field predictions (:func:`vanishing.theory.predict`, as :meth:`StudyContext.theory` makes them: q₁ from
    the training inputs' second moment) for plain-MLP configs, keyed by ``_label``."""
    from ...config import config_from_dict, resolve, with_overrides
    from ...theory import input_second_moment, predict

    m2 = input_second_moment(data.x_train)
    out = {}
    for ov in overrides:
        fields = {k: v for k, v in ov.items() if not k.startswith("_")}
        try:
            cfg = resolve(with_overrides(config_from_dict(dict(base)), fields))
            out[ov["_label"]] = predict(cfg.model, data.n_features, data.n_classes, input_m2=m2)
        except ValueError as exc:  # outside the theory
            ctx.log(f"[zoo] no mean-field prediction for {ov['_label']}: {exc}")
    return out



def run(ctx: StudyContext) -> None:
    from ... import activations
    from ...report import figures, tables as rtables

    p = ctx.params
    acts = list(p["activations"]) if p.get("activations") else list(activations.NAMES)
    names = [act_name(a) for a in acts]
    depth = p["depth"]
    opt_text = f"{p['optimizer']}, lr {p['lr']:g}"
    net = f"784 → {p['width']}×{depth} → 10"

    # 0. the functions
    ctx.report.add_heading("The activation functions and their derivatives")
    ctx.figure(figures.activation_functions(acts), "f (solid) and f′ (dashed) of every activation of the registry "
               "(float64, the definitions the probes use).", "activation_functions")
    ctx.figure(figures.activation_functions(list(ARTICLE), overlay=True),
               "The article's seven functions overlaid: f (left) and f′ (right). Only the sigmoid's derivative "
               "stays at or below ¼; tanh′ peaks at 1; the ReLU family's is 1 for x > 0.", "article_functions")
    ctx.claims.extend(function_claim_rows())
    cost = activation_cost(acts)
    ctx.figure(figure_cost(cost), "Cost of the activation function alone: one forward + backward of each registry "
               "module (training mode) on a 128 × 256 tensor (a mini-batch of one hidden layer), one thread, median "
               "of 15 interleaved rounds of 30 calls.",
               "activation_cost")

    # 1. every activation, trained
    base = _base(p)
    zoo = ctx.sweep("activations", base=base, grid={"model.activation": acts})
    summary = run_summary(zoo)
    data, probe = _probe_data(ctx, base)
    theories = _theories(ctx, base, data, [{"_label": act_name(a), "model.activation": a} for a in acts])
    signal = zoo.probes.get("backprop_signal", pd.DataFrame())

    rows = []
    for act in names:
        s = summary[summary["act"] == act]
        th = theories.get(act)
        rows.append({
            "activation": act, "init": str(s["init"].iloc[0]) if len(s) else "–", "seeds": len(s),
            "test acc (%)": _fmt(s["test_acc"]),
            "train loss, epoch 1": _fmt(s["train_loss1"], 3),
            f"train loss, epoch {p['epochs']}": _fmt(s["train_loss_last"], 3),
            "δ₁/δ_L at init": _fmt_g(s["delta_ratio0"]),
            "δ₁/δ_L mean-field": f"{th['decay'].iloc[0]:.3g}" if th is not None else "–",
            "δ₁/δ_L trained": _fmt_g(s["delta_ratio_last"]),
            "dead (%)": _fmt(s["dead_last"], 1), "saturated (%)": _fmt(s["sat_last"], 1),
            "sparsity (%)": _fmt(s["sparsity_last"], 1), "|mean y|": _fmt(s["mean_act_last"], 3),
            "epoch time (s)": _fmt(s["epoch_time"], 2),
        })
    zoo_table = pd.DataFrame(rows)
    ctx.report.add_heading(f"Every activation in a deep MLP ({net})")
    ctx.report.add_table(zoo_table, f"MNIST, {net}, init 'auto' (Xavier for sigmoid/tanh/softplus/hardtanh/linear, "
                         f"LeCun for SELU, He for the rest), {opt_text}, batch 128, {p['epochs']} epochs; mean ± s.e. "
                         "over seeds. Test accuracy at the best-validation epoch. δ₁/δ_L: per-example RMS δ of hidden1 "
                         "over that of the last hidden layer (probe set, eval mode). Dead, saturated, sparsity: mean "
                         "over hidden layers after training (– where undefined for the activation). |mean y|: mean "
                         "over layers of the absolute mean output.")
    ctx.log(zoo_table.to_string(index=False))
    if not signal.empty:
        ctx.figure(figure_delta_grid(summary, signal, theories, names),
                   "Per-example δ = ∂E_n/∂a by hidden layer for every activation, at init and after training (mean ± "
                   "s.e. over seeds), with the mean-field prediction at init (dashed; q₁ from the data, anchored at "
                   "the last hidden layer). A line falling to the left is a gradient vanishing towards the input.",
                   "delta_by_layer_all")
    grad = zoo.probes.get("grad_norms")
    if grad is not None and not grad.empty:
        ctx.figure(figure_grad_heatmap(grad, summary, names),
                   "Weight-gradient norm ‖∂E/∂W‖₂ per layer, mean over the first epoch's steps and the seeds, for "
                   "every activation (log colour). ∇W carries the layer input's scale as well as δ (docs/theory.md).",
                   "grad_norms_by_layer")
        for act in ("sigmoid", "tanh", "relu"):
            ids = summary[summary["act"] == act]["run_id"]
            g = grad[grad["run_id"].isin(ids)]
            if not g.empty:
                ctx.figure(figures.grad_norm_lines(g, title=f"{act}: ‖∂E/∂W‖ per layer ({opt_text})"),
                           f"Weight-gradient norm per layer over training, {act} (mean over seeds at each step).",
                           f"grad_norms_{act}")
    ctx.figure(figure_summary_bars(summary, names),
               "Per activation (mean ± s.e. over seeds): test accuracy, the share of dead units (no output on any "
               "probe example; defined for activations with a hard zero) and of saturated (example, unit) pairs "
               "(|f′| < 5% of its maximum; defined for saturating activations) after training, averaged over "
               "hidden layers.", "summary_bars")
    ctx.figure(figures.learning_curves(zoo.epochs, summary.assign(activation=summary["act"]), by="activation",
                                       metrics=("train_loss", "val_acc")),
               "Learning curves of every activation (mean ± s.e. over seeds).", "learning_curves")
    for title, table, fn in (("Dead units per layer", "dead_units", rtables.dead_units_table),
                             ("Saturation per layer", "saturation", rtables.saturation_table),
                             ("Sparsity per layer", "sparsity", rtables.sparsity_table)):
        df = zoo.probes.get(table)
        if df is not None and not df.empty and df["defined"].astype(bool).any():
            runs = zoo.runs.assign(activation=zoo.runs["activation"].map(act_name))
            t = fn(df[df["defined"].astype(bool)], runs[["run_id", "config_hash", "seed", "activation"]])
            ctx.report.add_table(t, f"{title}: untrained vs trained, mean ± s.e. over seeds (only the activations "
                                 "for which it is defined).", collapsed=True)

    # 2. remedies: init, batch norm, residual connections
    rem = ctx.sweep("remedies", base=base, grid={"model.activation": list(REMEDY_ACTS)},
                    zip={"model.init": [v[0] for v in REMEDIES.values()],
                         "model.batch_norm": [v[1] for v in REMEDIES.values()],
                         "model.residual": [v[2] for v in REMEDIES.values()]})
    rsum = run_summary(rem)
    rsum["variant"] = rsum.apply(_variant, axis=1)
    rtheory = _theories(ctx, base, data, [{"_label": f"{a}|{v}", "model.activation": a, "model.init": REMEDIES[v][0]}
                                    for a in REMEDY_ACTS for v in ("torch default init", "Xavier / He init")])
    rows = []
    for act in REMEDY_ACTS:
        for variant in REMEDIES:
            s = rsum[(rsum["act"] == act) & (rsum["variant"] == variant)]
            th = rtheory.get(f"{act}|{variant}")
            rows.append({"activation": act, "variant": variant, "test acc (%)": _fmt(s["test_acc"]),
                         "δ₁/δ_L at init": _fmt_g(s["delta_ratio0"]),
                         "δ₁/δ_L mean-field": f"{th['decay'].iloc[0]:.3g}" if th is not None else "outside the theory",
                         "δ₁/δ_L trained": _fmt_g(s["delta_ratio_last"]),
                         "dead (%)": _fmt(s["dead_last"], 1), "saturated (%)": _fmt(s["sat_last"], 1)})
    rem_table = pd.DataFrame(rows)
    ctx.report.add_heading("Remedies: initialisation, batch norm, residual connections")
    ctx.report.add_table(rem_table, f"{net}, {opt_text}, {p['epochs']} epochs, mean ± s.e. over seeds. Torch default "
                         "init: U(±1/√fan_in) (σ_w² = 1/3); Xavier for sigmoid/tanh, He for ReLU; batch norm before "
                         "the activation; residual: identity skips around hidden2 … hiddenL. Mean-field theory covers "
                         "plain MLPs only.")
    ctx.log(rem_table.to_string(index=False))
    rsignal = rem.probes.get("backprop_signal", pd.DataFrame())
    if not rsignal.empty:
        ctx.figure(figure_remedy_delta(rsum, rsignal),
                   "Per-example δ by layer (mean over seeds) for sigmoid, tanh and ReLU under each remedy, at init (top) "
                   "and after training (bottom). The probe runs in eval mode, where batch norm uses its running "
                   "statistics — at init those are 0 and 1, so at init '+ batch norm' coincides with the plain net.",
                   "remedies_delta")
    ctx.figure(figures.learning_curves(rem.epochs, rsum.assign(activation=rsum["act"]), by=["activation", "variant"],
                                       metrics=("train_loss", "val_acc")),
               "Learning curves of the remedy grid (mean ± s.e. over seeds).", "remedies_learning_curves")

    # 3. the dying-ReLU stress test
    dbase = _base(p, probes=LIGHT_PROBES, optimizer=p["dying_optimizer"], lr=p["dying_lr"])
    dying = ctx.sweep("dying", base=dbase, grid={"model.activation": list(DYING_ACTS)})
    dying_bn = ctx.sweep("dying-bn", base={**dbase, "model": {**dbase["model"], "activation": "relu",
                                                               "batch_norm": "before"}})
    dsum = pd.concat([run_summary(dying), run_summary(dying_bn)], ignore_index=True)
    dsum["label"] = [a + (" + batch norm" if bn != "off" else "") for a, bn in zip(dsum["act"], dsum["batch_norm"])]
    census = [c.assign(run_id=r["run_id"], label=r["label"], seed=r["seed"]) for r, c in trained_census(ctx, dsum, probe)]
    census = pd.concat(census, ignore_index=True) if census else pd.DataFrame()
    dopt = f"{p['dying_optimizer']}, lr {p['dying_lr']:g}"
    rows = []
    labels = [a for a in (*DYING_ACTS, "relu + batch norm") if a in set(dsum["label"])]
    for label in labels:
        s = dsum[dsum["label"] == label]
        c = census[census["label"] == label] if not census.empty else census
        per_run_neg = c.groupby("run_id")["negative"].mean() * 100 if not c.empty else pd.Series(dtype=float)
        per_run_dead = c.groupby("run_id")["no_gradient"].mean() * 100 if not c.empty else pd.Series(dtype=float)
        rows.append({"activation": label, "test acc (%)": _fmt(s["test_acc"]),
                     "a ≤ 0 on every probe example (%)": _fmt(per_run_neg, 1),
                     "no gradient (dead) (%)": _fmt(per_run_dead, 1),
                     "dead, at init (%)": _fmt(s["dead0"], 1)})
    dying_table = pd.DataFrame(rows)
    ctx.report.add_heading("Dying ReLU: a stress test")
    ctx.report.add_table(dying_table, f"{net}, {dopt} (a large step that kills ReLU units), {p['epochs']} epochs, mean "
                         "± s.e. over seeds; shares of hidden units, mean over layers, counted on the 1,000-example "
                         "probe set with the trained weights (eval mode).")
    ctx.log(dying_table.to_string(index=False))
    if not census.empty:
        ctx.figure(figure_dying(census),
                   f"Dying-ReLU stress test ({dopt}): per hidden layer, the share of units whose pre-activation is ≤ 0 "
                   "on every probe example (left) and of units whose derivative is 0 on every probe example, i.e. "
                   "that pass no gradient at all (right); mean ± s.e. over seeds.", "dying_units")

    if p.get("ablation_seeds"):
        _dying_ablation(ctx, p, dbase, probe, dopt)
    ctx.claims.extend(claim_rows(p, summary, theories, rsum, dsum, census, opt_text, dopt, cost))


def _dying_ablation(ctx: StudyContext, p: Mapping, dbase: Mapping, probe, dopt: str) -> None:
    """The stress test on more seeds and at a smaller rate (:mod:`.ablation`): table, figure and the log line."""
    from .ablation import ablation_figure, ablation_table, ablation_text, dying_ablation

    runs = dying_ablation(ctx, p, dbase, probe)
    if runs.empty:
        return
    table = ablation_table(runs)
    ctx.report.add_heading("Ablation: does ELU die too? More seeds, a smaller rate")
    ctx.report.add_table(table, f"The stress test ({dopt}) and the same at the smaller rates "
                         f"{', '.join(f'{v:g}' for v in p['ablation_lrs'][1:])}, on {p['ablation_seeds']} seeds; shares "
                         "of hidden units, mean over layers, on the probe set (eval mode). ELU's f′ = eᵃ on the "
                         "negative side is below 1e-6 for a < −13.8 and exactly 0 in float32 for a ≲ −103.")
    ctx.log(table.to_string(index=False))
    ctx.log(ablation_text(runs, float(p["dying_lr"])))
    ctx.figure(ablation_figure(runs), "Dying-unit ablation: per run (dot), the share of hidden units whose derivative "
               "is at most 1e-6 on every probe example, by activation and Adam rate; dotted: the 10% line above which "
               "a run counts as having died.", "dying_ablation")



def add_arguments(parser) -> None:
    parser.add_argument("--depth", type=int, default=None, help="hidden layers (overrides the scale)")
    parser.add_argument("--width", type=int, default=None, help="hidden width (overrides the scale)")
    parser.add_argument("--activations", type=lambda s: [a.strip() for a in s.split(";") if a.strip()], default=None,
                        help="activations to train, ';'-separated (default: the whole registry)")
    parser.add_argument("--optimizer", default=None, help="optimizer of the main and remedy sweeps (default sgd(momentum=0.9))")
    parser.add_argument("--lr", type=float, default=None, help="its learning rate (default 0.01)")


_COMMON = {"optimizer": "sgd(momentum=0.9)", "lr": 0.01, "dying_optimizer": "adam", "dying_lr": 0.01,
           "activations": None}

SCALES = {
    "quick": {"dataset": "mnist-sample", "epochs": 2, "seeds": 3, "depth": 8, "width": 128, **_COMMON},
    "medium": {"dataset": "mnist", "epochs": 5, "seeds": 3, "depth": 8, "width": 256, **_COMMON},
    # medium on 3 seeds, plus the dying-unit ablation (8 seeds, Adam lr 0.01 and 0.001; :mod:`.ablation`)
    "paper": {"dataset": "mnist", "epochs": 5, "seeds": 3, "depth": 8, "width": 256, **_COMMON,
              "ablation_seeds": 8, "ablation_lrs": [0.01, 0.001]},
    "full": {"dataset": "mnist", "epochs": 20, "seeds": 5, "depth": 10, "width": 512, **_COMMON},
}
