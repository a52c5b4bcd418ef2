"""The report of a whole results root (``vanishing report DIR``): every run, every figure its data allows.

Sections, in order:

1. **Summary** — how many runs in how many configurations and their
   statuses; which epoch the headline numbers come from (best-validation
   epoch or last epoch) and whether validation was a held-out part of the
   training split or the test set.
2. **Runs** — one row per configuration: the config fields that vary, the
   seeds, statuses, epochs, headline epoch and rule, headline metrics as
   mean ± s.e. over seeds; the fields every run shares; the list of runs.
3. **Learning curves** — training loss and validation/test accuracy per
   epoch, one line per configuration (at most eight per figure), mean ± s.e.
   band over seeds.
4. **Accuracy vs depth** — when the runs cover more than one depth.
5. **Instruments** — per configuration, every probe figure its runs have
   data for: gradient-norm heatmap and lines (``grad_norms``), per-example δ
   by layer (``backprop_signal``), mini-batch δ (``backprop_signal_batch``),
   update ratios (``update_ratio``), per-class activation distributions and
   medians (``activation_stats``), output histograms (``activation_hist``),
   Jacobian spectrum (``jacobian_spectrum``), and for watched recurrent
   layers ‖∂L/∂h‖ against the lag with the memory horizon (``through_time``,
   or a cell loop's ``cell@1`` … ``cell@T`` rows of ``backprop_signal``).
6. **Sparsity, saturation and dead units** — untrained vs trained per layer.
7. **Activation functions** — f and f′ of the activations the runs use.
8. **Command and environment** — the report command, each configuration's
   run command and the environment the runs recorded.

It reads the store only (``vanishing.load`` and the run directories'
``config.json``); nothing here imports training code. A figure that cannot
be drawn is reported in the page and in :attr:`Report.problems` instead of
stopping the report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from ..cliutil import split_top_level
from . import figures, tables
from .groups import INSTRUMENTS, config_labels, label_columns, varying_columns
from .html import Report, environment_info

CURVES_PER_FIGURE = 8
TIME_SNAPSHOTS = 5  # through-time figure: at most this many snapshots, the latest bold



def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _try(report: Report, what: str, make: Callable[[], object], caption: str, name: str) -> None:
    try:
        fig = make()
    except Exception as exc:  # noqa: BLE001 — one bad figure must not cost the whole report
        report.add_problem(what, f"{type(exc).__name__}: {exc}")
        return
    report.add_figure(fig, caption, name=name)


def headline_sentence(runs: pd.DataFrame) -> str:
    """Which epoch the headline numbers come from and what served as validation."""
    rules = sorted({str(x) for x in runs["headline"].dropna()}) if "headline" in runs else []
    if "val_fraction" in runs:
        fractions = sorted({float(v) for v in runs["val_fraction"].dropna()})
    else:
        fractions = []
    parts = []
    if rules:
        parts.append("Headline numbers (test accuracy, MCR, validation accuracy) are taken at each run's "
                     + " / ".join(rules) + " (the runs table lists the epochs).")
    else:
        parts.append("No run has finished yet, so there are no headline numbers.")
    if fractions == [0.0]:
        parts.append("Validation is the test set for every run (val_fraction = 0): the validation numbers are "
                     "test numbers, and no held-out split chose the headline epoch.")
    elif fractions and 0.0 not in fractions:
        held = ", ".join(f"{100 * f:g}%" for f in fractions)
        parts.append(f"Validation is a held-out {held} of the training split, not the test set.")
    elif fractions:
        parts.append("Some runs validate on the test set (val_fraction = 0) and some on a held-out part of the "
                     "training split; the runs table says which.")
    return " ".join(parts)


def _environment(runs: pd.DataFrame) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The environment the runs recorded (values joined where runs differ) and each configuration's command."""
    from ..store.atomic import read_json

    env: dict[str, set[str]] = {}
    commands: dict[str, list[str]] = {}
    for _, row in runs.iterrows():
        doc = read_json(Path(str(row["path"])) / "config.json") or {}
        for k, v in (doc.get("environment") or {}).items():
            env.setdefault(str(k), set()).add(str(v))
        cmd = doc.get("command")
        if cmd and row["config_hash"] not in commands:
            commands[row["config_hash"]] = [str(c) for c in cmd]
    return {k: " | ".join(sorted(v)) for k, v in sorted(env.items())}, commands


def _curve_metrics(runs: pd.DataFrame) -> tuple[str, ...]:
    val_is_test = "val_fraction" in runs and (runs["val_fraction"].fillna(-1) == 0).all()
    return ("train_loss", "test_loss", "test_acc") if val_is_test else ("train_loss", "val_acc", "test_acc")


def _depth_hue(runs: pd.DataFrame) -> list[str]:
    varying = set(varying_columns(runs))
    if "width" in runs and runs["width"].nunique() > 1:
        varying.add("width")
    skip = {"hidden", "depth", "batch_norm", *INSTRUMENTS}
    return [c for c in runs.columns if c in varying and c not in skip]


def _clock(runs: pd.DataFrame, run_id: str) -> str:
    """What the ``epoch`` column of a run's probe tables counts: "step" for a watched run, else "epoch"."""
    from ..store.atomic import read_json

    path = runs.loc[runs["run_id"] == run_id, "path"]
    doc = read_json(Path(str(path.iloc[0])) / "config.json") if len(path) else None
    return "step" if (doc or {}).get("kind") == "watch" else "epoch"


def probe_figures(report: Report, results, config_hash: str, label: str) -> None:
    """Every figure the runs of one configuration have probe data for."""
    ids = set(results.runs.loc[results.runs["config_hash"] == config_hash, "run_id"])

    def rows(name: str) -> pd.DataFrame:
        df = results.probes.get(name)
        return pd.DataFrame() if df is None else df[df["run_id"].isin(ids)]

    seeds = len(ids)
    over = f"mean over {seeds} seeds" if seeds > 1 else "one seed"
    first_run = min(ids)
    tag = f"[{label}]"
    grad = rows("grad_norms")
    if len(grad):
        _try(report, f"gradient-norm heatmap {tag}", lambda: figures.grad_norm_heatmap(grad),
             f"{label}: weight-gradient norm ‖∂E/∂W‖₂ per layer (rows, input at the bottom) and optimizer step, "
             f"log colour scale; {over}.", "grad-heatmap")
        _try(report, f"gradient-norm lines {tag}", lambda: figures.grad_norm_lines(grad),
             f"{label}: weight-gradient norm per layer over optimizer steps (log scale), layers coloured from "
             f"input (dark) to output (light); {over}.", "grad-lines")
    delta = rows("backprop_signal")
    if len(delta):
        _try(report, f"δ by layer {tag}", lambda: figures.delta_by_layer(delta),
             f"{label}: per-example backpropagated signal, RMS over the probe set of ‖∂E_n/∂a_n‖₂, by hidden "
             f"layer at each snapshot epoch (log scale); mean ± s.e. over seeds.", "delta-by-layer")
    batch = rows("backprop_signal_batch")
    if len(batch):
        _try(report, f"mini-batch δ {tag}", lambda: figures.batch_delta_lines(batch),
             f"{label}: mini-batch δ √B·‖∂E/∂A‖_F per hidden layer over steps (log scale); {over}.", "batch-delta")
    upd = rows("update_ratio")
    if len(upd):
        _try(report, f"update ratio {tag}", lambda: figures.update_ratio_lines(upd),
             f"{label}: update ratio ‖ΔW‖₂/‖W‖₂ per layer over steps (log scale; dotted: the ≈ 1e-3 healthy "
             f"scale); {over}.", "update-ratio")
    stats = rows("activation_stats")
    if len(stats):
        _try(report, f"activation distributions {tag}", lambda: figures.activation_distributions(stats, run_id=first_run),
             f"{label}, run {first_run}: per-class distributions of the outputs of the most class-selective "
             f"nodes of the shallow, middle and deep hidden layers (box q25–q75, median, whiskers q05–q95), "
             f"untrained vs trained (Pretorius et al. Fig 3–4).", "activation-distributions")
        _try(report, f"class medians {tag}", lambda: figures.class_medians(stats, run_id=first_run),
             f"{label}, run {first_run}: median output per class for every node of each hidden layer, "
             f"untrained vs trained (Pretorius et al. Fig 5–7).", "class-medians")
    hist = rows("activation_hist")
    if len(hist):
        _try(report, f"activation histograms {tag}", lambda: figures.activation_histograms(hist, run_id=first_run),
             f"{label}, run {first_run}: distribution of each hidden layer's outputs over the probe set per "
             f"snapshot epoch (log density).", "activation-histograms")
    time = figures.time_rows(rows("through_time"), rows("backprop_signal"))
    if len(time):
        time = time[time["run_id"] == first_run]
        snaps = sorted({int(e) for e in time["epoch"]})
        shown = snaps if len(snaps) <= TIME_SNAPSHOTS else [snaps[round(i * (len(snaps) - 1) / (TIME_SNAPSHOTS - 1))]
                                                            for i in range(TIME_SNAPSHOTS)]
        clock = _clock(results.runs, first_run)
        _try(report, f"through time {tag}", lambda: figures.through_time(time, steps=shown, clock=clock),
             f"{label}, run {first_run}: RMS over the probe examples of ‖∂L/∂h‖ of each recurrent layer against "
             f"the lag k = T − t from its last step (log scale), {clock} {shown[-1]} bold"
             + (f", earlier snapshots ({clock} {', '.join(map(str, shown[:-1]))}) shaded" if len(shown) > 1 else "")
             + f"; dashed: the memory horizon, the first lag at which the signal is below "
             f"{figures.HORIZON:.0%} of its value at lag 0 (dotted).", "through-time")
    jac = rows("jacobian_spectrum")
    if len(jac):
        _try(report, f"Jacobian spectrum {tag}", lambda: figures.jacobian_spectrum(jac),
             f"{label}: singular values of the input → last-hidden Jacobian by rank, mean over probe examples "
             f"and seeds (log scale).", "jacobian-spectrum")


def results_report(results, *, title: str | None = None, command: str | Sequence[str] | None = None,
                   save_figures: bool = True, embed_dpi: int = 144) -> Report:
    """Build the :class:`Report` of a results root (a path or a loaded ``Results``; see the module docstring)."""
    from ..store import load

    if not hasattr(results, "runs"):
        results = load(results)
    runs, epochs = results.runs, results.epochs
    root = str(results.root)
    report = Report(title or f"vanishing results: {root}", subtitle=f"results root {root}", save_figures=save_figures,
                    embed_dpi=embed_dpi)

    report.add_heading("Summary")
    if runs.empty:
        report.add_text("This results root holds no runs yet.")
        report.add_heading("Command and environment")
        report.add_command(command or ["vanishing", "report", root])
        return report
    labels = config_labels(runs)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(runs["status"].value_counts().items()))
    report.add_text(f"{_plural(len(runs), 'run')} in {_plural(len(labels), 'configuration')} ({counts}).")
    report.add_text(headline_sentence(runs))
    if label_columns(runs):
        report.add_text("Configurations are named by the fields that vary between them: "
                        + ", ".join(label_columns(runs)) + ".", note=True)

    report.add_heading("Runs")
    report.add_table(tables.runs_table(runs), "Configurations: headline metrics, mean ± s.e. over seeds")
    shared = tables.config_table(runs)
    if len(shared):
        report.add_table(shared, "Configuration shared by every run", collapsed=True)
    report.add_table(tables.run_list(runs), f"All runs ({len(runs)})", collapsed=True)

    with_epochs = epochs[epochs["run_id"].isin(runs["run_id"])] if len(epochs) else epochs
    if len(with_epochs):
        report.add_heading("Learning curves")
        metrics = _curve_metrics(runs)
        ordered = sorted(labels, key=lambda h: labels[h])
        for i in range(0, len(ordered), CURVES_PER_FIGURE):
            chunk = runs[runs["config_hash"].isin(ordered[i:i + CURVES_PER_FIGURE])]
            part = f" (configurations {i + 1}–{min(i + CURVES_PER_FIGURE, len(ordered))})" if len(ordered) > CURVES_PER_FIGURE else ""
            names = ", ".join(figures.metric_label(m)[0] for m in metrics)
            _try(report, f"learning curves{part}",
                 lambda chunk=chunk: figures.learning_curves(with_epochs, chunk, metrics=metrics),
                 f"{names} per epoch{part}; line = mean over seeds, band = ± one standard error (s/√n).",
                 f"learning-curves-{i // CURVES_PER_FIGURE + 1}")

    if "depth" in runs and runs["depth"].nunique() > 1:
        report.add_heading("Accuracy vs depth")
        hue = _depth_hue(runs)
        _try(report, "accuracy vs depth", lambda: figures.metric_vs_depth(runs, metric="test_acc", hue=hue),
             "Headline test accuracy against the number of hidden layers, mean ± s.e. over seeds; "
             "batch-norm runs dashed with star markers (cf. Pretorius et al. Fig 2, Tan & Lim Table I).",
             "accuracy-vs-depth")

    probe_names = [n for n in ("grad_norms", "backprop_signal", "backprop_signal_batch", "update_ratio",
                               "activation_stats", "activation_hist", "jacobian_spectrum", "through_time")
                   if len(results.probes.get(n, ()))]
    if probe_names:
        report.add_heading("Instruments")
        report.add_text("Per configuration, every probe figure its runs recorded data for (docs/probes.md).", note=True)
        for h in sorted(labels, key=lambda h: labels[h]):
            ids = set(runs.loc[runs["config_hash"] == h, "run_id"])
            if not any(results.probes[n]["run_id"].isin(ids).any() for n in probe_names):
                continue
            report.add_heading(labels[h], level=3)
            probe_figures(report, results, h, labels[h])

    tabs = [(name, fn, text) for name, fn, text in (
        ("sparsity", tables.sparsity_table, ("Sparsity: % of (probe example, node) pairs with f(a) ≤ 0, mean over "
                                             "the layer's nodes (Pretorius et al. Table 1); n/a for activations "
                                             "without a hard zero.")),
        ("saturation", tables.saturation_table, ("Saturation: % of (probe example, node) pairs with |f′(a)| < 5% "
                                                 "of max|f′|; n/a for activations that do not saturate.")),
        ("dead_units", tables.dead_units_table, "Dead units: % of a layer's nodes with f(a) ≤ 0 on every probe example."),
    ) if len(results.probes.get(name, ()))]
    if tabs:
        report.add_heading("Sparsity, saturation and dead units")
        for name, fn, text in tabs:
            try:
                report.add_table(fn(results.probes[name], runs), text + " Untrained = epoch 0, trained = each run's "
                                 "last snapshot; mean ± s.e. over seeds.")
            except Exception as exc:  # noqa: BLE001
                report.add_problem(f"{name} table", f"{type(exc).__name__}: {exc}")

    if "activation" in runs:
        acts = sorted({a for value in runs["activation"].dropna() for a in split_top_level(value)})
        if acts:
            report.add_heading("Activation functions")
            _try(report, "activation functions", lambda: figures.activation_functions(acts, columns=min(4, len(acts))),
                 "The activation functions these runs use: f (solid) and its derivative f′ (dashed), from the "
                 "registry (vanishing.activations).", "activation-functions")

    report.add_heading("Command and environment")
    report.add_command(command or ["vanishing", "report", root], caption="This report")
    env, commands = _environment(runs)
    for h in sorted(commands, key=lambda h: labels.get(h, h)):
        report.add_command(commands[h], False, caption=f"Run command, {labels.get(h, h)} (first seed)")
    if env:
        report.add_table([{"": k, "value": v} for k, v in env.items()],
                         "Environment recorded by the runs (values joined by | where runs differ)")
    report.add_table([{"": k, "value": v} for k, v in environment_info().items()], "Environment of this report",
                     collapsed=True)
    return report


def write_results_report(root, out: str | Path | None = None, *, title: str | None = None,
                         command: str | Sequence[str] | None = None, save_figures: bool = True,
                         embed_dpi: int = 144) -> tuple[Path, Report]:
    """Build and write the report of ``root``; ``out`` defaults to ``<root>/report.html``. Returns (path, report)."""
    from ..store import load

    results = load(root)
    report = results_report(results, title=title, command=command, save_figures=save_figures, embed_dpi=embed_dpi)
    path = Path(out) if out is not None else Path(root) / "report.html"
    return report.write(path), report


__all__ = ["headline_sentence", "probe_figures", "results_report", "split_top_level", "write_results_report"]
