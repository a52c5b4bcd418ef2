"""Figures and tables of vanishing.report on small synthetic DataFrames shaped like ``vanishing.load`` output.

Each test recomputes what a figure should show (means over seeds, standard
errors s/√n, quantiles, theory lines) independently — with ``statistics`` or
plain loops — and compares it with the data inside the matplotlib artists.
"""

from __future__ import annotations

import math
import statistics

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import LogNorm

from vanishing.report import figures, tables
from vanishing.report.groups import (
    config_labels,
    layer_rank,
    ordered_layers,
    varying_columns,
)

RNG = np.random.default_rng(7)


def make_runs_epochs(n_epochs: int = 4):
    """Three configurations: relu (3 seeds), sigmoid (3 seeds), tanh (1 seed)."""
    runs, epochs = [], []
    for act, seeds in (("relu", (0, 1, 2)), ("sigmoid", (0, 1, 2)), ("tanh", (5,))):
        for seed in seeds:
            rid = f"{act[:4]}{'0' * 8}-s{seed}"
            acc = float(RNG.uniform(0.1, 0.99))
            runs.append({
                "run_id": rid, "status": "done", "config_hash": f"hash-{act}", "seed": seed,
                "dataset": "mnist-sample", "val_fraction": 0.1, "hidden": "16,16", "depth": 2, "width": 16,
                "activation": act, "batch_norm": "off", "optimizer": "adam(amsgrad=False, beta1=0.9)", "lr": 0.001,
                "epochs": n_epochs, "probes": "grad_norms(every=1, log=0)", "epochs_done": n_epochs,
                "headline_epoch": n_epochs, "headline": "best-validation epoch", "test_acc": acc, "test_mcr": 1 - acc,
                "val_acc": acc, "last_test_acc": acc, "train_time_s": 1.0, "diverged_step": None, "message": None,
                "path": f"/nowhere/{rid}",
            })
            for e in range(1, n_epochs + 1):
                epochs.append({"run_id": rid, "seed": seed, "epoch": e, "train_loss": float(RNG.uniform(0.1, 2)),
                               "train_acc": float(RNG.uniform(0, 1)), "val_loss": float(RNG.uniform(0.1, 2)),
                               "val_acc": float(RNG.uniform(0, 1)), "test_acc": float(RNG.uniform(0, 1))})
    return pd.DataFrame(runs), pd.DataFrame(epochs)


def lines_by_label(ax):
    """Plain lines and the data lines of error-bar containers, by legend label."""
    out = {ln.get_label(): ln for ln in ax.get_lines() if not ln.get_label().startswith("_")}
    out.update({c.get_label(): c.lines[0] for c in ax.containers if hasattr(c, "has_yerr")})
    return out


# --------------------------------------------------------------------------- learning curves


def test_learning_curves_mean_and_standard_error_band_over_seeds():
    runs, epochs = make_runs_epochs()
    fig = figures.learning_curves(epochs, runs, metrics=("train_loss", "val_acc"))
    ax_loss, ax_acc = fig.axes[:2]
    assert ax_acc.get_ylabel() == "validation accuracy (%)" and ax_acc.get_xlabel() == "epoch"
    lines = lines_by_label(ax_acc)
    assert set(lines) == {"activation=relu", "activation=sigmoid", "activation=tanh"}
    bands = [c for c in ax_acc.collections if c.get_label() == "_s.e. band"]
    assert len(bands) == 2  # tanh has one seed: no band
    for act, band in zip(("relu", "sigmoid"), bands):
        ids = runs.loc[runs["activation"] == act, "run_id"]
        line = lines[f"activation={act}"]
        np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3, 4])
        verts = band.get_paths()[0].vertices
        for e in range(1, 5):
            vals = [100 * v for v in epochs[(epochs["run_id"].isin(ids)) & (epochs["epoch"] == e)]["val_acc"]]
            mean, se = statistics.mean(vals), statistics.stdev(vals) / math.sqrt(len(vals))
            assert line.get_ydata()[e - 1] == pytest.approx(mean)
            ys = verts[np.isclose(verts[:, 0], e), 1]
            assert ys.min() == pytest.approx(mean - se) and ys.max() == pytest.approx(mean + se)
    tanh = epochs[epochs["run_id"].str.startswith("tanh")].sort_values("epoch")
    np.testing.assert_allclose(lines["activation=tanh"].get_ydata(), 100 * tanh["val_acc"].to_numpy())
    loss_line = lines_by_label(ax_loss)["activation=relu"]
    ids = runs.loc[runs["activation"] == "relu", "run_id"]
    expected = [statistics.mean(epochs[(epochs["run_id"].isin(ids)) & (epochs["epoch"] == e)]["train_loss"]) for e in (1, 2, 3, 4)]
    np.testing.assert_allclose(loss_line.get_ydata(), expected)


def test_learning_curves_derived_error_rate_and_grouping_by_column():
    runs, epochs = make_runs_epochs()
    fig = figures.learning_curves(epochs, runs, metrics=("train_mcr",), by="activation")
    lines = lines_by_label(fig.axes[0])
    ids = runs.loc[runs["activation"] == "sigmoid", "run_id"]
    rows = epochs[epochs["run_id"].isin(ids) & (epochs["epoch"] == 2)]
    assert lines["activation=sigmoid"].get_ydata()[1] == pytest.approx(100 * statistics.mean(1 - rows["train_acc"]))
    assert fig.axes[0].get_ylabel() == "training error rate (%)"


def test_learning_curves_without_runs_draw_one_line_per_run_and_reject_empty_input():
    _, epochs = make_runs_epochs()
    fig = figures.learning_curves(epochs, metrics=("val_acc",))
    assert len(fig.axes[0].get_lines()) == epochs["run_id"].nunique()
    with pytest.raises(ValueError, match="no rows"):
        figures.learning_curves(epochs.iloc[:0])


# --------------------------------------------------------------------------- per-step, per-layer


def make_grad_norms(layers=("hidden1", "hidden2", "hidden10", "output"), steps=(1, 2, 3, 5, 8), seeds=(0, 1)):
    rows = []
    for seed in seeds:
        for li, layer in enumerate(layers):
            for step in steps:
                rows.append({"run_id": f"r-s{seed}", "seed": seed, "step": step, "epoch": 1 + (step > 3), "layer": layer,
                             "weight_l2": float(10.0 ** (-li) * RNG.uniform(0.5, 2)), "weight_mean_abs": 1e-3,
                             "bias_l2": 1e-2, "bias_mean_abs": 1e-3})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=1)  # shuffled: order must not matter


def test_layer_order_is_input_to_output_with_natural_numbers():
    assert ordered_layers(["output", "hidden10", "hidden2", "hidden1"]) == ["hidden1", "hidden2", "hidden10", "output"]
    assert layer_rank(3) < layer_rank("hidden4") < layer_rank("output")


def test_grad_norm_heatmap_cells_are_the_mean_over_runs_on_a_log_colour_scale():
    df = make_grad_norms()
    fig = figures.grad_norm_heatmap(df)
    ax = fig.axes[0]
    mesh = ax.collections[0]
    assert isinstance(mesh.norm, LogNorm)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["hidden1", "hidden2", "hidden10", "output"]
    z = np.ma.getdata(mesh.get_array()).reshape(4, 5)
    for i, layer in enumerate(["hidden1", "hidden2", "hidden10", "output"]):
        for j, step in enumerate((1, 2, 3, 5, 8)):
            vals = df[(df["layer"] == layer) & (df["step"] == step)]["weight_l2"]
            assert z[i, j] == pytest.approx(statistics.mean(vals))
    values = df["weight_l2"]
    assert mesh.norm.vmin == pytest.approx(df.groupby(["layer", "step"])["weight_l2"].mean().min())
    assert mesh.norm.vmax == pytest.approx(df.groupby(["layer", "step"])["weight_l2"].mean().max())
    assert values.max() / values.min() > 100  # the test data span decades
    assert "‖∂E/∂W‖₂" in fig.axes[1].get_ylabel()  # colour bar labelled


def test_grad_norm_lines_one_line_per_layer_coloured_input_to_output_log_scale():
    df = make_grad_norms()
    fig = figures.grad_norm_lines(df)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "optimizer step"
    lines = lines_by_label(ax)
    order = ["hidden1", "hidden2", "hidden10", "output"]
    assert [ln.get_label() for ln in ax.get_lines() if not ln.get_label().startswith("_")] == order
    for layer in order:
        expected = [statistics.mean(df[(df["layer"] == layer) & (df["step"] == s)]["weight_l2"]) for s in (1, 2, 3, 5, 8)]
        np.testing.assert_allclose(lines[layer].get_ydata(), expected)
        np.testing.assert_array_equal(lines[layer].get_xdata(), [1, 2, 3, 5, 8])
    viridis = matplotlib.colormaps["viridis"]
    assert matplotlib.colors.to_rgba(lines["hidden1"].get_color()) == pytest.approx(viridis(0.0))
    assert matplotlib.colors.to_rgba(lines["output"].get_color()) == pytest.approx(viridis(0.9))


def test_update_ratio_lines_with_the_healthy_reference():
    df = make_grad_norms().rename(columns={"weight_l2": "ratio"})
    fig = figures.update_ratio_lines(df)
    ax = fig.axes[0]
    ref = [ln for ln in ax.get_lines() if "healthy" in ln.get_label()]
    assert len(ref) == 1 and list(ref[0].get_ydata()) == [1e-3, 1e-3]
    assert ax.get_yscale() == "log" and "‖ΔW‖₂ / ‖W‖₂" in ax.get_ylabel()


# --------------------------------------------------------------------------- δ by layer and the theory line


def make_delta(n_layers=4, seeds=(0, 1, 2), epochs=(0, 3)):
    rows = []
    for seed in seeds:
        for epoch in epochs:
            for layer in range(1, n_layers + 1):
                rms = 0.5 * 0.25 ** (n_layers - layer) * RNG.uniform(0.8, 1.2) * (1 + epoch)
                rows.append({"run_id": f"r-s{seed}", "seed": seed, "epoch": epoch, "layer": f"hidden{layer}", "rms": rms,
                             "mean_norm": rms, "median_norm": rms, "rms_node": rms / 4, "n_samples": 100})
    return pd.DataFrame(rows)


def test_delta_by_layer_mean_and_se_over_seeds_per_epoch():
    df = make_delta()
    fig = figures.delta_by_layer(df)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    lines = lines_by_label(ax)
    assert set(lines) == {"untrained (epoch 0)", "after epoch 3"}
    for epoch, name in ((0, "untrained (epoch 0)"), (3, "after epoch 3")):
        expected = [statistics.mean(df[(df["epoch"] == epoch) & (df["layer"] == f"hidden{l}")]["rms"]) for l in range(1, 5)]
        np.testing.assert_allclose(lines[name].get_ydata(), expected)
    # error bars: the vertical segments span mean ± s.e.
    container = next(c for c in ax.containers if c.get_label() == "untrained (epoch 0)")
    segs = container.lines[2][0].get_segments()
    vals = list(df[(df["epoch"] == 0) & (df["layer"] == "hidden2")]["rms"])
    se = statistics.stdev(vals) / math.sqrt(3)
    assert segs[1][:, 1].min() == pytest.approx(statistics.mean(vals) - se)
    assert segs[1][:, 1].max() == pytest.approx(statistics.mean(vals) + se)


def test_delta_by_layer_theory_line_from_ratios_is_anchored_at_the_last_layer():
    df = make_delta()
    ratios = [0.2, 0.3, 0.4, 1.7]  # √χ per hidden layer; the last is the ratio to the output δ (unused)
    theory = pd.DataFrame({"layer": [1, 2, 3, 4], "name": [f"hidden{i}" for i in range(1, 5)], "ratio": ratios})
    fig = figures.delta_by_layer(df, theory=theory)
    line = lines_by_label(fig.axes[0])["mean-field prediction"]
    anchor = statistics.mean(df[(df["epoch"] == 0) & (df["layer"] == "hidden4")]["rms"])
    expected = [anchor * 0.2 * 0.3 * 0.4, anchor * 0.3 * 0.4, anchor * 0.4, anchor]
    np.testing.assert_allclose(line.get_ydata(), expected)
    assert line.get_linestyle() == "--"
    # a decay column gives the same line; a table for other layers is refused
    decay = pd.DataFrame({"layer": [1, 2, 3, 4], "decay": [0.024, 0.12, 0.4, 1.0]})
    line2 = lines_by_label(figures.delta_by_layer(df, theory=decay).axes[0])["mean-field prediction"]
    np.testing.assert_allclose(line2.get_ydata(), expected)
    with pytest.raises(ValueError, match="every layer"):
        figures.delta_by_layer(df, theory=pd.DataFrame({"layer": [1, 2], "ratio": [0.5, 0.5]}))


def test_theory_line_per_node_rescales_by_widths():
    theory = pd.DataFrame({"name": ["hidden1", "hidden2"], "ratio": [0.5, 2.0], "width": [100, 25]})
    got = figures.theory_line(theory, ["hidden1", "hidden2"], 1.0, quantity="rms_node")
    np.testing.assert_allclose(got, [0.5 * math.sqrt(25 / 100), 1.0])


# --------------------------------------------------------------------------- activation distributions (Pretorius)


def make_activation_stats(layers=("hidden1", "hidden2", "hidden3"), nodes=4, classes=3, epochs=(0, 2), runs=("a-s0", "b-s1")):
    rows = []
    for rid in runs:
        for epoch in epochs:
            for layer in layers:
                for node in range(nodes):
                    for cls in [*range(classes), -1]:
                        base = node * (cls + 1) + epoch
                        q = sorted(RNG.uniform(0, 0.1, 5) + base)
                        rows.append({"run_id": rid, "seed": int(rid[-1]), "epoch": epoch, "layer": layer, "node": node,
                                     "class": cls, "count": 10, "mean": q[2], "std": 0.1, "q05": q[0], "q25": q[1],
                                     "median": q[2], "q75": q[3], "q95": q[4]})
    return pd.DataFrame(rows)


def test_activation_distributions_boxes_are_the_stored_quantiles():
    df = make_activation_stats()
    fig = figures.activation_distributions(df, epochs=[0, 2], nodes=[("hidden2", 1), ("hidden3", 3)], nodes_per_layer=2)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["hidden2, node 1", "hidden3, node 3"]
    ax = axes[0]
    run = df[(df["run_id"] == "a-s0") & (df["layer"] == "hidden2") & (df["node"] == 1)]
    medians = [ln for ln in ax.get_lines() if ln.get_color() == "black"]
    assert len(medians) == 2 * 3  # 2 epochs × 3 classes
    for ln, (epoch, cls) in zip(medians, [(0, 0), (0, 1), (0, 2), (2, 0), (2, 1), (2, 2)]):
        row = run[(run["epoch"] == epoch) & (run["class"] == cls)].iloc[0]
        assert ln.get_ydata()[0] == pytest.approx(row["median"])
        assert cls - 0.5 < np.mean(ln.get_xdata()) < cls + 0.5
    whisker_ys = sorted(y for ln in ax.get_lines() if ln.get_color() != "black" for y in ln.get_ydata())
    row = run[(run["epoch"] == 0) & (run["class"] == 0)].iloc[0]
    assert row["q05"] == pytest.approx(min(y for y in whisker_ys if abs(y - row["q05"]) < 1e-12))
    assert any(abs(y - row["q95"]) < 1e-12 for y in whisker_ys)


def test_activation_distributions_default_nodes_shallow_middle_deep_most_selective():
    df = make_activation_stats(layers=("hidden1", "hidden2", "hidden3", "hidden4"))
    fig = figures.activation_distributions(df, nodes_per_layer=1)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.get_title()]
    # node 3 has the largest spread of class medians (node·(class+1)); layers first, middle, last
    assert titles == ["hidden1, node 3", "hidden3, node 3", "hidden4, node 3"]


def test_class_medians_scatter_every_node_per_class_untrained_vs_trained():
    df = make_activation_stats()
    fig = figures.class_medians(df, run_id="b-s1")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:2] == ["hidden1, untrained (epoch 0)", "hidden1, after epoch 2"]
    ax = fig.axes[1]
    run = df[(df["run_id"] == "b-s1") & (df["layer"] == "hidden1") & (df["epoch"] == 2)]
    for cls, coll in enumerate(ax.collections):
        rows = run[run["class"] == cls].sort_values("node")
        np.testing.assert_allclose(coll.get_offsets(), rows[["node", "median"]].to_numpy())


# --------------------------------------------------------------------------- accuracy vs depth


def test_metric_vs_depth_lines_per_activation_and_width_with_batch_norm_starred():
    rows = []
    for act in ("relu", "sigmoid"):
        for bn in ("off", "before"):
            for depth in (2, 4, 6):
                for seed in range(3):
                    acc = float(RNG.uniform(0.5, 1.0))
                    rows.append({"run_id": f"{act}{bn}{depth}-s{seed}", "config_hash": f"{act}{bn}{depth}", "seed": seed,
                                 "activation": act, "width": 200, "depth": depth, "batch_norm": bn, "test_acc": acc,
                                 "test_mcr": 1 - acc, "status": "done"})
    runs = pd.DataFrame(rows)
    fig = figures.metric_vs_depth(runs)
    ax = fig.axes[0]
    lines = lines_by_label(ax)
    assert set(lines) == {"activation=relu, width=200", "activation=relu, width=200, batch_norm on",
                          "activation=sigmoid, width=200", "activation=sigmoid, width=200, batch_norm on"}
    starred = lines["activation=sigmoid, width=200, batch_norm on"]
    assert starred.get_marker() == "*" and starred.get_linestyle() == "--"
    assert lines["activation=sigmoid, width=200"].get_marker() == "o"
    part = runs[(runs["activation"] == "sigmoid") & (runs["batch_norm"] == "before")]
    expected = [100 * statistics.mean(part[part["depth"] == d]["test_acc"]) for d in (2, 4, 6)]
    np.testing.assert_allclose(starred.get_ydata(), expected)
    np.testing.assert_array_equal(starred.get_xdata(), [2, 4, 6])
    assert ax.get_xlabel() == "number of hidden layers" and ax.get_ylabel() == "test accuracy (%)"
    mcr = figures.metric_vs_depth(runs, metric="test_mcr", hue=("activation",), star=None)
    assert set(lines_by_label(mcr.axes[0])) == {"activation=relu", "activation=sigmoid"}


# --------------------------------------------------------------------------- the activation registry


def test_activation_functions_plot_f_and_derivative_from_the_registry():
    import torch

    from vanishing import activations

    fig = figures.activation_functions(["sigmoid", "relu", "elu(alpha=0.5)"], a_range=(-4, 4), points=81)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["sigmoid", "relu", "elu(alpha=0.5)"]
    a = torch.linspace(-4, 4, 81, dtype=torch.float64)
    for ax, name in zip(panels, ["sigmoid", "relu", "elu(alpha=0.5)"]):
        act = activations.get(name)
        lines = lines_by_label(ax)
        np.testing.assert_allclose(lines["f(a)"].get_ydata(), act.f(a).numpy())
        np.testing.assert_allclose(lines["f′(a)"].get_ydata(), act.df(a).numpy())
    assert max(lines_by_label(panels[0])["f′(a)"].get_ydata()) == pytest.approx(0.25)  # σ′ ≤ ¼
    every = figures.activation_functions()
    assert len([ax for ax in every.axes if ax.get_visible()]) == len(activations.NAMES)
    overlay = figures.activation_functions(["sigmoid", "tanh"], overlay=True)
    assert [ln.get_label() for ln in overlay.axes[1].get_lines() if not ln.get_label().startswith("_")] == ["sigmoid", "tanh"]


# --------------------------------------------------------------------------- saving


def test_save_writes_png_at_high_dpi_and_pdf(tmp_path):
    fig = figures.grad_norm_lines(make_grad_norms())
    paths = figures.save(fig, tmp_path / "sub" / "grads")
    assert [p.name for p in paths] == ["grads.png", "grads.pdf"]
    png, pdf = (p.read_bytes() for p in paths)
    assert png.startswith(b"\x89PNG") and pdf.startswith(b"%PDF")
    from PIL import Image

    with Image.open(paths[0]) as im:
        assert im.size == (round(fig.get_figwidth() * 300), round(fig.get_figheight() * 300))
    assert not [p for p in (tmp_path / "sub").iterdir() if p.name.startswith(".")]  # no temp files left


# --------------------------------------------------------------------------- groups and tables


def test_labels_name_configurations_by_the_fields_that_vary():
    runs, _ = make_runs_epochs()
    assert varying_columns(runs) == ["activation"]  # probes, optimizer etc. are shared; depth/width follow hidden
    labels = config_labels(runs)
    assert labels["hash-relu"] == "activation=relu"
    runs2 = runs.assign(optimizer=np.where(runs["activation"] == "relu", "sgd(momentum=0.0)", "adam(beta1=0.9)"))
    assert config_labels(runs2)["hash-relu"] == "activation=relu, optimizer=sgd"


def test_runs_table_mean_and_standard_error_over_seeds():
    runs, _ = make_runs_epochs()
    table = tables.runs_table(runs).set_index("activation")
    accs = [100 * a for a in runs.loc[runs["activation"] == "relu", "test_acc"]]
    mean, se = statistics.mean(accs), statistics.stdev(accs) / math.sqrt(3)
    assert table.at["relu", "test accuracy (%)"] == f"{mean:.2f} ± {se:.2f}"
    tanh = 100 * runs.loc[runs["activation"] == "tanh", "test_acc"].iloc[0]
    assert table.at["tanh", "test accuracy (%)"] == f"{tanh:.2f}"  # one seed: no ±
    assert table.at["relu", "seeds"] == "0, 1, 2" and table.at["relu", "status"] == "3 done"
    assert table.at["relu", "validation"] == "10% of the training split, held out"
    assert table.at["relu", "headline rule"] == "best-validation epoch"


def test_sparsity_table_untrained_vs_trained_and_not_applicable():
    rows = []
    for seed, vals in ((0, (0.50, 0.80)), (1, (0.48, 0.84))):
        for epoch, v in zip((0, 5), vals):
            rows.append({"run_id": f"relu-s{seed}", "seed": seed, "epoch": epoch, "layer": "hidden1", "sparsity": v,
                         "defined": True, "n_samples": 100, "width": 10})
            rows.append({"run_id": f"sig-s{seed}", "seed": seed, "epoch": epoch, "layer": "hidden1", "sparsity": np.nan,
                         "defined": False, "n_samples": 100, "width": 10})
    runs = pd.DataFrame([{"run_id": f"{a}-s{s}", "config_hash": a, "seed": s, "activation": a, "status": "done"}
                         for a in ("relu", "sig") for s in (0, 1)])
    t = tables.sparsity_table(pd.DataFrame(rows), runs).set_index("configuration")
    se0 = statistics.stdev([50, 48]) / math.sqrt(2)
    se1 = statistics.stdev([80, 84]) / math.sqrt(2)
    assert t.at["activation=relu", "untrained (%)"] == f"49.0 ± {se0:.1f}"
    assert t.at["activation=relu", "trained (%)"] == f"82.0 ± {se1:.1f}"
    assert t.at["activation=relu", "trained at epoch"] == "5"
    assert t.at["activation=sig", "untrained (%)"] == "n/a"


@pytest.mark.parametrize(
    ("paper", "mean", "se", "direction", "verdict"),
    [
        (93.7, 93.0, 0.2, None, "reproduced"),  # within 1 pp
        (93.7, 91.0, 1.5, None, "reproduced"),  # within 2 s.e. = 3.0
        (93.7, 91.0, 0.5, True, "partly"),
        (93.7, 91.0, 0.5, False, "not reproduced"),
        (10.6, 11.35, float("nan"), None, "reproduced"),
    ],
)
def test_numeric_verdict_rule(paper, mean, se, direction, verdict):
    got, reason = tables.numeric_verdict(paper, mean, se, direction_holds=direction)  # n None: not a seed average
    assert got == verdict and "pp" in reason


def test_verdict_table_formats_mean_se_and_rejects_unknown_verdicts():
    t = tables.verdict_table([{"claim": "ReLU, 10 epochs", "paper": 93.7, "measured": (93.1, 0.25, 3),
                               "verdict": "reproduced", "reason": "within 1 pp"}])
    assert t.loc[0, "measured"] == "93.10 ± 0.25 (n = 3)"
    assert list(t.columns) == ["claim", "paper", "measured", "verdict", "reason"]
    with pytest.raises(ValueError, match="must be one of"):
        tables.verdict_table([{"claim": "x", "paper": 1, "measured": 1, "verdict": "great", "reason": ""}])
    with pytest.raises(ValueError, match="missing: reason"):
        tables.verdict_table([{"claim": "x", "paper": 1, "measured": 1, "verdict": "partly"}])
