"""The report sections of the Pretorius study: each reads result tables, asks the pure claim functions for rows
(appended to ``ctx.claims``) and adds tables and figures to ``ctx.report``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from ...analysis import NODE_COLUMNS, last_epochs, node_summary, selected_epochs
from ..base import StudyContext
from . import claims as C
from .claims import ACTIVATIONS, NODE_DEPTH, TASKS, sel
from .figures import fig1_curves, node_summary_figure, sparsity_curves, table1_figure
from .node_claims import node_claims
from .protocol import INITS, NODE_LAYERS, _base, _cifar_note, depth_sweep
from .rules import fmt


def _add(ctx: StudyContext, rows) -> None:
    ctx.claims.extend(rows if isinstance(rows, list) else [rows])


def setup_text(ctx: StudyContext, tasks: Sequence[str]) -> None:
    p = ctx.params
    epochs, patience = int(p["epochs"]), p.get("patience")
    stop = ("never stops early (patience = epochs): every epoch is trained and the best-validation epoch's model is "
            "the one reported (model selection); the last epoch's test accuracy is reported beside it"
            if patience is not None and int(patience) >= epochs else
            f"early stopping on validation accuracy (patience {patience})" if patience else "no early stopping")
    ctx.report.add_text(
        "Setup: 784 (MNIST) or 3,072 (CIFAR-10) inputs ÷ 255 → depth × width hidden layers → 10-way softmax; "
        "cross-entropy; Adam with the learning rate from a grid search, decayed ×0.99 per epoch; batch 128; "
        f"at most {epochs} epochs; {stop}; "
        "validation = 10% of the training set (stratified); the best-validation model is evaluated on the test set. "
        "Sigmoid nets use Xavier (Glorot uniform) and ReLU nets He (normal) initialisation, biases 0; batch norm, "
        "when on, sits before the activation. Probes look at 100 training examples per class, in eval mode.")
    if p.get("depth_epochs"):
        ctx.report.add_text(
            f"Fig 1–2 and the accuracy-vs-depth claims come from a separate depth sweep (depths "
            f"{', '.join(map(str, depth_sweep(p)))}, width {p['width']}, MNIST) trained {p['depth_epochs']} epochs "
            f"(the best-validation epoch reported), not the paper's 300: the budget this CPU allows. The 4×{p['width']} "
            f"nets of Table 1 and Fig 3–7 train the full {epochs} epochs.", note=True)
    if p.get("node_epochs") and p["node_epochs"] != "all":
        ctx.report.add_text(
            "Per-class node statistics (activation_stats) are recorded at epochs " + str(p["node_epochs"])
            + "; 'trained' node statistics are those of the latest recorded epoch at or before the best-validation "
            "epoch. Sparsity and saturation are recorded at every epoch, so Table 1 is exact at the selected epoch.",
            note=True)
    if "CIFAR-10" in tasks:
        ctx.report.add_text(_cifar_note(ctx), note=True)


def accuracy_tables(ctx: StudyContext, runs: pd.DataFrame, lr_table: pd.DataFrame) -> None:
    ctx.report.add_heading("Learning rates (grid search)")
    if len(lr_table):
        p = ctx.params
        scope = ("one search per activation × batch norm on the 4×width net; its rate serves every depth and width"
                 if p["lr_scope"] == "net" else "one search per configuration")
        ctx.report.add_text(
            f"Adam, rates {', '.join(f'{r:g}' for r in p['lr_grid'])}" + (f", {p['lr_rounds']} rounds (each round extends the grid past an edge or refines around the best rate)"
                                                                     if int(p['lr_rounds']) > 1 else "")
            + f"; each rate scored by the mean over {min(int(p['lr_seeds']), int(p['seeds']))} seed(s) of the best validation "
            f"accuracy within {min(int(p['lr_epochs']), int(p['epochs']))} epochs; {scope}.")
        ctx.report.add_table(lr_table, "Learning-rate grid: mean best-validation accuracy per rate (the chosen rate first).",
                             collapsed=len(lr_table) > 24)
        ctx.log(lr_table[lr_table["chosen"] != ""].to_string(index=False))
    else:
        ctx.report.add_text(f"Fixed learning rate {ctx.params.get('lr')} (no grid search).")
    rows = []
    keys = ["task", "width", "depth", "activation", "batch_norm"] + (["epochs"] if "epochs" in runs else [])
    for key, part in runs.groupby(keys):  # the epoch budget too: the paper scale's depth sweep trains fewer epochs
        task, width, depth, act, bn = key[:5]
        rows.append({"data": task, "width": width, "depth": depth, "activation": act, "batch norm": bn,
                     **({"epochs": int(key[5])} if len(key) > 5 else {}),
                     "lr": float(part["lr"].iloc[0]), "seeds": len(part),
                     "test acc (%)": fmt(part["test_pct"].tolist()),
                     **({"test acc, last epoch (%)": fmt(part["last_test_pct"].tolist())} if "last_test_pct" in part else {}),
                     "best train acc (%)": fmt(part["train_pct"].tolist()),
                     "best epoch": ", ".join(str(int(e)) for e in part["headline_epoch"].dropna()),
                     "epochs run": ", ".join(str(int(e)) for e in part["epochs_done"].dropna())})
    table = pd.DataFrame(rows)
    ctx.report.add_heading("Accuracy of every configuration")
    ctx.report.add_table(table, "Test accuracy of the best-validation model (and of the last epoch's) and the best training accuracy "
                         "(running mean over an epoch's mini-batches), mean ± s.e. over seeds.")
    ctx.log(table.to_string(index=False))


# --------------------------------------------------------------------------- Fig 1 and 2


def fig1(ctx: StudyContext, mn: pd.DataFrame, epochs: pd.DataFrame, depths: Sequence[int], width: int) -> None:
    ctx.report.add_heading("Fig 1 — learning curves (MNIST)")
    part = mn[mn["width"] == width]
    n = part.groupby(["depth", "activation", "batch_norm"])["run_id"].nunique()
    ctx.figure(fig1_curves(epochs, part, depths, title=f"MNIST, width {width}: training (dashed) and validation (solid) accuracy"),
               f"Fig 1: training and validation accuracy per epoch, width {width}, mean ± s.e. over "
               f"{n.min()}–{n.max()} seeds (bands); top row without, bottom row with batch norm. Training accuracy is "
               "the running mean over each epoch's mini-batches.", "fig1_learning_curves")


def fig2(ctx: StudyContext, runs: pd.DataFrame, tasks: Sequence[str]) -> None:
    from ...report import figures

    ctx.report.add_heading("Fig 2 — test accuracy vs depth")
    for letter, task in zip("ab", TASKS):
        if task not in tasks:
            continue
        part = runs[runs["task"] == task]
        fig = figures.metric_vs_depth(part, metric="test_acc", hue=("activation", "width"), star="batch_norm",
                                      title=f"({letter}) {task}")
        ctx.figure(fig, f"Fig 2({letter}): test accuracy of the best-validation model vs number of hidden layers, "
                   f"{task}, mean ± s.e. over seeds; batch-norm nets starred and dashed.", f"fig2{letter}_{TASKS[task]}")


# --------------------------------------------------------------------------- performance claims (Fig 1–2, §2, §4)


def _pick_nodes(stats_run: pd.DataFrame, epoch: int, layers: Sequence[str]) -> list[tuple[str, int]]:
    """Two nodes per layer: a typical one (median spread of its class medians) and the most class-selective one."""
    from ...report.figures import pick_nodes

    last = stats_run[stats_run["epoch"] == epoch]
    out = []
    for layer in layers:
        order = pick_nodes(last, layer, 10 ** 6)
        if not order:
            continue
        typical = order[len(order) // 2]
        out += [(layer, typical), (layer, order[0])] if order[0] != typical else [(layer, typical)]
    return out


def _node_figures(ctx, node_runs, stats, trained, tasks) -> None:
    from ...report import figures

    ctx.report.add_heading("Fig 3–7 — activation distributions and class medians (4×width nets, no batch norm)")
    if not len(stats):
        ctx.report.add_text("No activation statistics were recorded.", note=True)
        return
    ctx.report.add_text(
        "One run (seed 0) per panel: quantiles of different seeds' nodes are not averaged. 'Trained' is the "
        "best-validation model (the one evaluated on the test set); 'untrained' the network at initialisation. "
        "Fig 3–4 show, for the first, second and last hidden layer, a typical node (the median of the layer's "
        "nodes ranked by how far apart its class medians are) and the most class-selective node.")
    specs = [("MNIST", "sigmoid", "fig3_sigmoid_distributions", "Fig 3"), ("MNIST", "relu", "fig4_relu_distributions", "Fig 4")]
    for task, act, name, label in specs:
        run = _first_run(node_runs, task, act)
        if run is None:
            continue
        part = stats[stats["run_id"] == run]
        e = trained[run]
        fig = figures.activation_distributions(part, epochs=[0, e], nodes=_pick_nodes(part, e, NODE_LAYERS),
                                               nodes_per_layer=2, title=f"{label} — {task}, 4-layer {act} net, run {run}")
        ctx.figure(fig, f"{label}: per-class activation distributions (box q25–q75, median line, whiskers q05–q95) of "
                   f"the {act} net at nodes of hidden layers 1, 2 and 4, untrained and trained (epoch {e}); {task}.", name)
    for task, act, name, label in (("MNIST", "sigmoid", "fig5_sigmoid_medians", "Fig 5"), ("MNIST", "relu", "fig6_relu_medians", "Fig 6"),
                                   ("CIFAR-10", "sigmoid", "fig7_cifar10_sigmoid_medians", "Fig 7 (left)"),
                                   ("CIFAR-10", "relu", "fig7_cifar10_relu_medians", "Fig 7 (right)")):
        run = _first_run(node_runs, task, act)
        if run is None:
            continue
        part = stats[stats["run_id"] == run]
        e = trained[run]
        fig = figures.class_medians(part, epochs=[0, e], title=f"{label} — {task}, 4-layer {act} net, run {run}")
        ctx.figure(fig, f"{label}: median activation of each class (colour) at every node of each hidden layer (rows), "
                   f"untrained (left) and trained (right, epoch {e}); {task}, {act}.", name)


def _first_run(node_runs: pd.DataFrame, task: str, act: str, bn: str = "off") -> str | None:
    part = sel(node_runs, task=task, activation=act, batch_norm=bn).sort_values("seed")
    return None if part.empty else str(part["run_id"].iloc[0])



def vanishing(ctx, runs, delta, depths, width) -> None:
    """Beyond the paper: per-example δ by layer at initialisation for the deepest nets, against the mean-field line."""
    from ...report import figures

    if delta is None or not len(delta):
        return
    deepest = max(depths)
    ctx.report.add_heading(f"Beyond the paper: δ by layer at initialisation ({deepest}×{width}, MNIST, no batch norm)")
    ratios = []
    for act in ACTIVATIONS:
        rs = sel(runs, task="MNIST", depth=deepest, width=width, activation=act, batch_norm="off")
        d = delta[delta["run_id"].isin(rs["run_id"]) & (delta["epoch"] == 0)]
        if d.empty:
            continue
        base = _base(ctx.params, "MNIST", epochs=1, patience=None, probes=["none"])
        theory = ctx.theory(base, {"model.hidden": [width] * deepest, "model.activation": act, "model.init": INITS[act]})
        ctx.figure(figures.delta_by_layer(d, theory=theory, epochs=[0], title=f"{act}, {deepest}×{width}: per-example δ at init"),
                   f"RMS over the probe set of the per-example δ = ∂E_n/∂a at each hidden layer of the untrained "
                   f"{deepest}×{width} {act} net (mean ± s.e. over seeds); dashed: the mean-field prediction anchored "
                   "at the last hidden layer.", f"delta_init_{act}")
        g = d.groupby("layer")["rms"].mean()
        ratios.append(f"{act}: hidden1 / hidden{deepest} = {g.get('hidden1', math.nan) / g.get(f'hidden{deepest}', math.nan):.3g}")
    ctx.report.add_text(
        "The paper argues that the differences in generalisation cannot be ascribed to vanishing gradients, since "
        "its nets fit the training set. At initialisation the error signal does shrink towards the input in the "
        "sigmoid nets and not in the ReLU nets — " + "; ".join(ratios) + ". Adam's per-parameter step "
        "normalisation compensates for the smaller gradients of the lower layers, which is why the sigmoid nets "
        "train anyway.")

def performance_claims(ctx, mn_arch, mn, cf, depths, width, wide, wide_depths, cifar_depths) -> list[str]:
    """The claims of §2 and §4 about accuracy (Fig 1–2); returns the claims this grid cannot test."""
    p = ctx.params
    _add(ctx, C.fig1_claim(mn_arch, depths, width))
    rows, skipped = C.fig2a_claims(mn_arch, depths, width, wide, wide_depths)
    _add(ctx, rows)
    rows, more = C.fig2b_claims(cf, cifar_depths, width)
    _add(ctx, rows)
    _add(ctx, C.fit_claim(mn, cf, int(p["epochs"]), p.get("patience")))
    _add(ctx, C.best_config_claims(mn_arch, cf))
    _add(ctx, C.bn_gain_claims(mn_arch, cf, width))
    return skipped + more


def node_sections(ctx, runs, probes, tasks, width) -> None:
    node_runs = runs[(runs["depth"] == NODE_DEPTH) & (runs["width"] == width)]
    stats = probes.get("activation_stats", pd.DataFrame())
    stats = stats[stats["run_id"].isin(node_runs["run_id"])] if len(stats) else stats
    trained = selected_epochs(node_runs, stats) if len(stats) else {}
    summary = node_summary(stats) if len(stats) else pd.DataFrame()
    _node_figures(ctx, node_runs, stats, trained, tasks)
    if not len(summary):
        return
    table = _node_table(node_runs, summary, trained)
    if table.empty:
        return
    ctx.report.add_heading("How class information sits in the nodes (evidence for Fig 3–7)")
    ctx.figure(node_summary_figure(table),
               "Per hidden layer of the 4-layer nets without batch norm, mean ± s.e. over seeds: η² (the share of a "
               "node's output variance explained by the class, averaged over nodes), the fraction of class pairs "
               "whose interquartile ranges overlap, the fraction of sigmoid class medians within 0.1 of 0 or 1, and of "
               "ReLU class medians at 0. Dotted: untrained; solid: trained (best-validation model).", "node_summary")
    shown = table.groupby(["task", "activation", "state", "layer"])[list(NODE_COLUMNS)].mean().reset_index()
    ctx.report.add_table(shown, "Node statistics per layer, mean over seeds (definitions: node_statistics in "
                         "vanishing/analysis.py).", collapsed=True)
    sp = probes.get("sparsity")
    sp_trained = selected_epochs(node_runs, sp) if sp is not None and len(sp) else trained
    _add(ctx, node_claims(node_runs, summary, probes.get("saturation"), sp, trained, tasks, sparsity_epochs=sp_trained))


def _node_table(node_runs, summary, trained) -> pd.DataFrame:
    rows = []
    for _, r in node_runs[node_runs["batch_norm"] == "off"].iterrows():
        for state, e in (("untrained", 0), ("trained", trained.get(r["run_id"]))):
            part = summary[(summary["run_id"] == r["run_id"]) & (summary["epoch"] == e)]
            for _, s in part.iterrows():
                rows.append({"task": r["task"], "activation": r["activation"], "seed": r["seed"], "state": state,
                             "layer": s["layer"], "layer_index": int(str(s["layer"]).replace("hidden", "")),
                             **{k: s[k] for k in NODE_COLUMNS}})
    return pd.DataFrame(rows)


def table1(ctx, runs, sparsity, width) -> None:
    ctx.report.add_heading("Table 1 — layer sparsity of the 4-layer ReLU nets")
    if sparsity is None or not len(sparsity):
        ctx.report.add_text("No sparsity was recorded.", note=True)
        return
    node = runs[(runs["depth"] == NODE_DEPTH) & (runs["width"] == width) & (runs["activation"] == "relu")]
    sp = sparsity[sparsity["run_id"].isin(node["run_id"])]
    selected = selected_epochs(node, sp)
    values = C.table1_values(node, sp, selected)
    rows, frame = C.table1_claims(values)
    _add(ctx, rows)
    shown = frame.assign(**{"measured (%)": [f"{m:.2f}" + (f" ± {s:.2f}" if math.isfinite(s) else "")
                                             for m, s in zip(frame["mean"], frame["se"])]})
    last = None
    if ctx.params.get("table1_last"):
        last_rows, last = C.table1_claims(C.table1_values(node, sp, last_epochs(sp)), label=", last epoch",
                                          states=("trained",))
        _add(ctx, last_rows)
        keys = ["data", "bn", "state", "layer"]
        last = last.assign(**{"last epoch (%)": [f"{m:.2f}" + (f" ± {s:.2f}" if math.isfinite(s) else "")
                                                 for m, s in zip(last["mean"], last["se"])],
                              "verdict, last epoch": last["verdict"]})
        shown = shown.merge(last[[*keys, "last epoch (%)", "verdict, last epoch"]], on=keys, how="left")
        shown[["last epoch (%)", "verdict, last epoch"]] = shown[["last epoch (%)", "verdict, last epoch"]].fillna("")
    ctx.report.add_table(shown.drop(columns=["mean", "se"]).rename(columns={"paper": "paper (%)", "n": "seeds"}),
                         "Table 1, paper vs measured: the % of probe examples on which a node outputs 0, averaged over "
                         "the layer's nodes; untrained = at initialisation, trained = the best-validation model"
                         + (" (and the last epoch's)" if last is not None else "")
                         + "; mean ± s.e. over seeds (eval mode: batch norm uses its running statistics).")
    ctx.figure(table1_figure(frame), "Table 1 as a figure: measured layer sparsity of the 4-layer ReLU nets (bars, mean ± s.e. "
               "over seeds), untrained (grey) and trained (blue), with the paper's values (black diamonds).", "table1_sparsity")
    ctx.figure(sparsity_curves(sp, node, selected=selected),
               "Layer sparsity of the 4-layer ReLU nets after every recorded epoch (0 = untrained), mean ± s.e. over "
               "seeds, one colour per layer; the paper's Table 1 values as markers of the layer's colour — open circles "
               "at epoch 0 (untrained), diamonds at the last epoch (trained); dashed verticals: the selected "
               "(best-validation) epochs. Whether the curves still rise at the end tells how much of a gap to the paper "
               "is training time.", "sparsity_by_epoch")
    _add(ctx, C.sparsity_growth_claim(values))
    _add(ctx, C.bn_sparsity_claims(values, runs[(runs["depth"] == NODE_DEPTH) & (runs["width"] == width)], width))


def sparsity_readings(ctx, runs, width) -> None:
    """The measurement ablation of Table 1 (:mod:`.sparsity_readings`): the same trained nets read other ways."""
    from ...store.atomic import write_bytes
    from . import sparsity_readings as R

    node = runs[(runs["depth"] == NODE_DEPTH) & (runs["width"] == width) & (runs["activation"] == "relu")]
    readings = R.measure(node, R.run_data_loader(ctx.exec_config), log=ctx.log)
    if not len(readings):
        return
    summary = R.summarise(readings)
    write_bytes(ctx.results / "sparsity_readings.csv", readings.to_csv(index=False).encode())
    ctx.report.add_heading("Ablation — does the way sparsity is read explain Table 1's gap?")
    shown = summary.assign(**{
        "sparsity (%)": [f"{m:.1f}" + (f" ± {s:.1f}" if math.isfinite(s) else "") for m, s in zip(summary["sparsity"], summary["se"])],
        "dead units (%)": [f"{m:.1f}" for m in summary["dead"]], "paper (%)": [f"{p:.1f}" for p in summary["paper"]]})
    ctx.report.add_table(shown[["task", "batch_norm", "weights", "samples", "mode", "sparsity (%)", "dead units (%)",
                                "paper (%)", "n", "verdict", "reason"]],
                         "The 4-layer ReLU nets' layer-mean sparsity (mean ± s.e. over seeds) read with each choice the "
                         "paper leaves open: weights (untrained, selected = best validation, last epoch), samples (the "
                         "probe set of 100 training examples per class, the whole training split, the whole test set) "
                         "and batch-norm mode (eval: running statistics; train: the statistics of batches of 128); dead "
                         "units = nodes inactive on every training example in eval mode. verdict: the numeric rule against "
                         "the paper's layer mean with a 3 pp tolerance (inconclusive on < 3 seeds). Written to "
                         "sparsity_readings.csv.")
    ctx.figure(R.readings_figure(summary), "Trained layer-mean sparsity per reading (bars: blue = selected model, "
               "orange = last epoch; ·tr = batch norm in train mode), the dead units' part of it (dark), the paper's "
               "layer mean (dashed).", "sparsity_readings")
    for line in R.verdict_lines(summary):
        ctx.report.add_text(line)
        ctx.log("[pretorius] sparsity readings: " + line)


def benchmarks(ctx, mn, cf) -> None:
    _add(ctx, C.benchmark_claims(mn, cf))
