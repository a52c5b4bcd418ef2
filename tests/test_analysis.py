"""vanishing.analysis: node statistics, class medians, selected epochs and sparsity against epoch, each against a
brute-force loop over synthetic tables (no training)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from vanishing import analysis
from vanishing.analysis import (
    at_epochs,
    class_medians,
    last_epochs,
    node_statistics,
    node_summary,
    selected_epochs,
    slope,
    sparsity_by_epoch,
)


def _stats_table(samples: dict) -> pd.DataFrame:
    """An activation_stats-like table from raw samples {(run, epoch, layer, node): [values of class 0, class 1, …]}."""
    rows = []
    for (run, epoch, layer, node), per_class in samples.items():
        groups = [*[(c, np.asarray(v, float)) for c, v in enumerate(per_class)], (-1, np.concatenate(per_class))]
        for c, v in groups:
            q = np.quantile(v, [0.05, 0.25, 0.5, 0.75, 0.95])
            rows.append({"run_id": run, "seed": 0, "epoch": epoch, "layer": layer, "node": node, "class": c,
                         "count": len(v), "mean": v.mean(), "std": v.std(ddof=1), "q05": q[0], "q25": q[1],
                         "median": q[2], "q75": q[3], "q95": q[4]})
    return pd.DataFrame(rows)


def _brute(per_class: list) -> dict:
    """The node-level quantities, straight from the samples, by loops."""
    allv = np.concatenate(per_class)
    ss_total = ((allv - allv.mean()) ** 2).sum()
    ss_between = sum(len(v) * (np.mean(v) - allv.mean()) ** 2 for v in per_class)
    meds = [np.median(v) for v in per_class]
    iqr = [(np.quantile(v, 0.25), np.quantile(v, 0.75)) for v in per_class]
    pairs = [(a, b) for a in range(len(per_class)) for b in range(a + 1, len(per_class))]
    overlapping = sum(1 for a, b in pairs if max(iqr[a][0], iqr[b][0]) <= min(iqr[a][1], iqr[b][1]))
    stds = [np.std(v, ddof=1) for v in per_class]
    return {
        "eta2": ss_between / ss_total if ss_total > 0 else 0.0,
        "median_spread": float(np.sqrt(np.mean((np.array(meds) - np.mean(meds)) ** 2))),
        "overlap": overlapping / len(pairs),
        "median_extreme": np.mean([m <= 0.1 or m >= 0.9 for m in meds]),
        "median_zero": np.mean([m <= 0 for m in meds]),
        "median_offcentre": np.mean([abs(m - 0.5) for m in meds]),
        "active_classes": float(sum(m > 0 for m in meds)),
        "within_std": np.mean(stds),
        "point_fraction": np.mean([s < 0.01 for s in stds]),
    }


def _samples(rng):
    samples = {}
    counts = [7, 11, 9, 13]  # unequal class sizes: η² must weight by n_c
    for epoch in (0, 3):
        for layer in ("hidden1", "hidden2"):
            for node in range(3):
                if layer == "hidden2" and node == 0:
                    per_class = [np.zeros(n) for n in counts]  # a dead ReLU node: η² = 0, medians at 0
                elif node == 1:
                    per_class = [1 / (1 + np.exp(-rng.normal(3 * c - 4.5, 0.5, n))) for c, n in enumerate(counts)]
                else:
                    per_class = [np.maximum(rng.normal(c * 0.4 - 0.5, 1.0, n), 0) for c, n in enumerate(counts)]
                samples[("r1", epoch, layer, node)] = per_class
    return samples


def test_node_statistics_agree_with_a_brute_force_computation_per_node():
    samples = _samples(np.random.default_rng(1))
    got = node_statistics(_stats_table(samples)).set_index(["run_id", "epoch", "layer", "node"])
    assert len(got) == len(samples)
    for key, per_class in samples.items():
        for col, value in _brute(per_class).items():
            assert got.loc[key, col] == pytest.approx(value, rel=1e-9, abs=1e-12), (key, col)


def test_node_summary_is_the_mean_over_a_layers_nodes():
    samples = _samples(np.random.default_rng(2))
    got = node_summary(_stats_table(samples)).set_index(["epoch", "layer"])
    assert len(got) == 4
    for epoch in (0, 3):
        for layer in ("hidden1", "hidden2"):
            nodes = [_brute(v) for (r, e, lay, n), v in samples.items() if e == epoch and lay == layer]
            for col in analysis.NODE_COLUMNS:
                assert got.loc[(epoch, layer), col] == pytest.approx(np.mean([n[col] for n in nodes]), rel=1e-9, abs=1e-12)


def test_eta2_is_one_for_separated_point_classes_and_zero_without_class_information():
    sep = {("r", 0, "hidden1", 0): [np.full(5, 0.1), np.full(5, 0.9)]}
    same = {("r", 0, "hidden1", 0): [np.array([0.1, 0.5, 0.9]), np.array([0.1, 0.5, 0.9])]}
    assert node_summary(_stats_table(sep))["eta2"].item() == pytest.approx(1.0)
    assert node_summary(_stats_table(same))["eta2"].item() == pytest.approx(0.0)


def test_class_medians_is_the_median_of_every_class_at_every_node():
    samples = _samples(np.random.default_rng(3))
    got = class_medians(_stats_table(samples)).set_index(["run_id", "epoch", "layer", "node"])
    for key, per_class in samples.items():
        for c, v in enumerate(per_class):
            assert got.loc[key, c] == pytest.approx(np.median(v))


def test_selected_epoch_is_the_best_validation_snapshot_or_the_latest_before_it():
    runs = pd.DataFrame({"run_id": ["a", "b", "c", "d"], "headline_epoch": [3, 7, None, 1]})
    snaps = pd.DataFrame({"run_id": ["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"] * 2,
                          "epoch": [0, 1, 2, 3, 4, 0, 5, 10, 0, 2, 0, 10]})
    assert selected_epochs(runs, snaps) == {"a": 3, "b": 5, "c": 2, "d": 0}
    assert last_epochs(snaps) == {"a": 4, "b": 10, "c": 2, "d": 10}
    picked = at_epochs(snaps, {"a": 3, "b": 5})
    assert sorted(map(tuple, picked[["run_id", "epoch"]].to_numpy().tolist())) == [("a", 3), ("b", 5)]


def test_sparsity_by_epoch_is_the_seed_mean_and_standard_error_per_group_layer_epoch():
    rng = np.random.default_rng(4)
    runs = pd.DataFrame({"run_id": [f"r{i}" for i in range(6)], "batch_norm": ["off"] * 3 + ["before"] * 3})
    rows = [{"run_id": r, "epoch": e, "layer": lay, "sparsity": float(rng.uniform())}
            for r in runs["run_id"] for e in range(4) for lay in ("hidden1", "hidden2")]
    sp = pd.DataFrame(rows)
    got = sparsity_by_epoch(sp, runs, by=["batch_norm"]).set_index(["batch_norm", "layer", "epoch"])
    assert len(got) == 2 * 2 * 4
    for bn in ("off", "before"):
        ids = set(runs[runs["batch_norm"] == bn]["run_id"])
        for lay in ("hidden1", "hidden2"):
            for e in range(4):
                vals = [100 * r["sparsity"] for r in rows if r["run_id"] in ids and r["layer"] == lay and r["epoch"] == e]
                mean = sum(vals) / len(vals)
                se = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) / math.sqrt(len(vals))
                row = got.loc[(bn, lay, e)]
                assert row["mean"] == pytest.approx(mean) and row["se"] == pytest.approx(se) and row["n"] == 3
    flat = sparsity_by_epoch(sp)  # no grouping: every run together
    assert set(flat.columns) == {"layer", "epoch", "mean", "se", "n"} and flat["n"].eq(6).all()


def test_slope_and_its_standard_error_match_numpy_polyfit():
    rng = np.random.default_rng(0)
    x = np.repeat([2.0, 4.0, 6.0, 8.0], 3)
    y = 97.0 - 0.3 * x + rng.normal(0, 0.2, len(x))
    b, se = slope(x, y)
    coef, cov = np.polyfit(x, y, 1, cov=True)
    assert b == pytest.approx(coef[0], rel=1e-10) and se == pytest.approx(math.sqrt(cov[0, 0]), rel=1e-10)
    assert math.isnan(slope([1.0, 1.0], [2.0, 3.0])[0]) and math.isnan(slope([1.0, 2.0], [2.0, 3.0])[1])
