"""The Pretorius study (seed 001): its own computations against independent ones, and a tiny end-to-end run."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from vanishing.report.tables import VERDICTS
from vanishing.studies import pretorius
from vanishing.studies.pretorius import (
    PAPER_TABLE1,
    next_rates,
    node_summary,
    rank_rates,
    slope,
    trained_epochs,
)

# --------------------------------------------------------------------------- learning-rate ranking


def test_rank_rates_matches_lr_search_rule():
    from vanishing.optim.lr_search import _summarise

    table = pd.DataFrame({
        "lr": [1e-4, 1e-4, 1e-3, 1e-3, 1e-2, 1e-2, 3e-3, 3e-3],
        "seed": [0, 1] * 4,
        "status": ["done", "done", "done", "done", "done", "diverged", "done", "done"],
        "val_acc": [0.90, 0.92, 0.97, 0.95, 0.99, None, 0.96, 0.96],
        "test_acc": [0.0] * 8,
    })
    ours = rank_rates(table)
    ref = _summarise(table.assign(val_acc=np.where(table["status"] == "done", table["val_acc"], 0.0)))
    assert ours["lr"].tolist() == ref["lr"].tolist()
    np.testing.assert_allclose(ours["mean_val_acc"], ref["mean_val_acc"])
    # by hand: 1e-2 has one diverged seed → (0.99 + 0) / 2 = 0.495, last; 1e-3 and 3e-3 tie at 0.96, the
    # smaller spread (3e-3: 0) wins
    assert ours["lr"].tolist() == [3e-3, 1e-3, 1e-4, 1e-2]
    assert ours.loc[ours["lr"] == 1e-2, "mean_val_acc"].item() == pytest.approx(0.495)
    assert ours.loc[ours["lr"] == 1e-2, "n_failed"].item() == 1


def test_next_rates_extends_the_grid_at_an_edge_and_refines_inside():
    grid = [3e-4, 1e-3, 3e-3]
    assert next_rates(grid, 3e-3) == pytest.approx([9e-3])  # upper edge: one step (×3) further
    assert next_rates(grid, 3e-4) == pytest.approx([9e-5])  # lower edge: the edge interval is ×10/3
    assert next_rates(grid, 1e-3) == pytest.approx([math.sqrt(3e-7), math.sqrt(3e-6)])  # midpoints in log
    assert next_rates([1e-3], 1e-3) == pytest.approx([1e-3 / math.sqrt(10), 1e-3 * math.sqrt(10)])
    # rates already tried are not repeated: after a refinement the midpoints with the new neighbours
    tried = [*grid, *next_rates(grid, 1e-3)]
    assert next_rates(tried, 1e-3) == pytest.approx([(3e-7) ** 0.25 * 1e-3 ** 0.5, (3e-6) ** 0.25 * 1e-3 ** 0.5])


def test_slope_and_its_standard_error_match_numpy_polyfit():
    rng = np.random.default_rng(0)
    x = np.repeat([2.0, 4.0, 6.0, 8.0], 3)
    y = 97.0 - 0.3 * x + rng.normal(0, 0.2, len(x))
    b, se = slope(x, y)
    coef, cov = np.polyfit(x, y, 1, cov=True)
    assert b == pytest.approx(coef[0], rel=1e-10)
    assert se == pytest.approx(math.sqrt(cov[0, 0]), rel=1e-10)
    assert math.isnan(slope([1.0, 1.0], [2.0, 3.0])[0])
    assert math.isnan(slope([1.0, 2.0], [2.0, 3.0])[1])  # two points: no s.e.


# --------------------------------------------------------------------------- node statistics


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
    """The node-level quantities of node_summary, straight from the samples, by loops."""
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


def test_node_summary_agrees_with_a_brute_force_computation_from_the_samples():
    rng = np.random.default_rng(1)
    samples, expected = {}, {}
    counts = [7, 11, 9, 13]  # unequal class sizes: η² must weight by n_c
    for epoch in (0, 3):
        for layer in ("hidden1", "hidden2"):
            nodes = []
            for node in range(3):
                if layer == "hidden2" and node == 0:
                    per_class = [np.zeros(n) for n in counts]  # a dead ReLU node: η² = 0, medians at 0
                elif node == 1:
                    per_class = [1 / (1 + np.exp(-rng.normal(3 * c - 4.5, 0.5, n))) for c, n in enumerate(counts)]
                else:
                    per_class = [np.maximum(rng.normal(c * 0.4 - 0.5, 1.0, n), 0) for c, n in enumerate(counts)]
                samples[("r1", epoch, layer, node)] = per_class
                nodes.append(_brute(per_class))
            expected[(epoch, layer)] = {k: np.mean([n[k] for n in nodes]) for k in nodes[0]}
    got = node_summary(_stats_table(samples)).set_index(["epoch", "layer"])
    assert len(got) == 4
    for (epoch, layer), want in expected.items():
        for key, value in want.items():
            assert got.loc[(epoch, layer), key] == pytest.approx(value, rel=1e-9, abs=1e-12), (epoch, layer, key)


def test_eta2_is_one_for_separated_point_classes_and_zero_without_class_information():
    sep = {("r", 0, "hidden1", 0): [np.full(5, 0.1), np.full(5, 0.9)]}
    same = {("r", 0, "hidden1", 0): [np.array([0.1, 0.5, 0.9]), np.array([0.1, 0.5, 0.9])]}
    assert node_summary(_stats_table(sep))["eta2"].item() == pytest.approx(1.0)
    assert node_summary(_stats_table(same))["eta2"].item() == pytest.approx(0.0)


def test_trained_epoch_is_the_best_validation_epoch_when_it_was_snapshotted():
    runs = pd.DataFrame({"run_id": ["a", "b", "c"], "headline_epoch": [3, 7, None]})
    snaps = pd.DataFrame({"run_id": ["a"] * 5 + ["b"] * 3 + ["c"] * 2, "epoch": [0, 1, 2, 3, 4, 0, 5, 6, 0, 2]})
    assert trained_epochs(runs, snaps) == {"a": 3, "b": 6, "c": 2}


def test_direction_verdicts():
    assert pretorius._direction(1.0, 0.2) == "reproduced"
    assert pretorius._direction(1.0, 0.6) == "partly"
    assert pretorius._direction(1.0, math.nan) == "partly"
    assert pretorius._direction(-1.0, 0.1) == "not reproduced"
    assert pretorius._direction(-1.0, 0.1, sign=-1) == "reproduced"


# --------------------------------------------------------------------------- the study on a tiny budget

FIGURES = ["fig1_learning_curves", "fig2a_mnist", "fig2b_cifar10", "fig3_sigmoid_distributions",
           "fig4_relu_distributions", "fig5_sigmoid_medians", "fig6_relu_medians", "fig7_cifar10_sigmoid_medians",
           "fig7_cifar10_relu_medians", "table1_sparsity", "sparsity_by_epoch", "node_summary", "delta_init_sigmoid", "delta_init_relu"]

# claims the tiny grid below must produce (prefix → count); CIFAR-10 depth trends need ≥ 3 depths and are skipped
CLAIMS = {"Fig 1:": 1, "Fig 2a:": 4, "Fig 2b:": 1, "Fig 3:": 3, "Fig 4:": 1, "Fig 4/6:": 1, "Fig 5:": 2, "Fig 6:": 2,
          "Fig 7:": 1, "Table 1 ": 32, "Table 1:": 1, "§2:": 3, "§4:": 2, "§3/§4:": 2, "benchmark:": 2}


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory, shared_data):
    from vanishing.config import ExecConfig
    from vanishing.report import figures
    from vanishing.studies import get, run_study

    render = figures.render
    mp = pytest.MonkeyPatch()
    # the figures are drawn in full; only their pixel resolution is lowered to keep this test fast
    mp.setattr(figures, "render", lambda fig, fmt="png", dpi=figures.DPI: render(fig, fmt, min(dpi, 30)))
    root = tmp_path_factory.mktemp("pretorius")
    with open(root / "log.txt", "w") as log:
        try:
            out = run_study(
                get("pretorius"), "quick",
                {"epochs": 1, "seeds": 1, "train_subset": 500, "width": 16, "wide": 32, "depths": [2, 4],
                 "wide_depths": [2], "cifar": "on", "cifar_depths": [4], "lr_grid": [1e-3, 3e-3], "lr_epochs": 1},
                results=root, exec_config=ExecConfig(threads=1, progress=False, data_dir=str(shared_data)),
                sweep_options={"workers": 0, "display": "silent"}, out=log)
        finally:
            mp.undo()
    return out


def test_tiny_study_writes_the_report_with_every_figure(tiny_study):
    root = tiny_study["results"]
    html = tiny_study["report"].read_text()
    assert tiny_study["report"].name == "report.html" and "Table 1" in html and "Paper vs measured" in html
    for name in FIGURES:
        for ext in ("png", "pdf"):
            path = root / "figures" / f"{name}.{ext}"
            assert path.is_file() and path.stat().st_size > 0, path
    assert html.count("data:image/png;base64,") >= len(FIGURES)


def test_tiny_study_states_every_claim_with_a_valid_verdict(tiny_study):
    claims = tiny_study["claims"]
    on_disk = pd.read_csv(tiny_study["results"] / "claims.csv")
    assert on_disk["claim"].tolist() == claims["claim"].tolist()
    assert claims["verdict"].isin(VERDICTS).all(), claims[~claims["verdict"].isin(VERDICTS)]
    assert claims["reason"].str.len().gt(0).all()
    for prefix, count in CLAIMS.items():
        assert claims["claim"].str.startswith(prefix).sum() == count, prefix
    assert len(claims) == sum(CLAIMS.values())
    # Table 1: every one of the paper's 32 numbers, beside a measurement
    table1 = claims[claims["claim"].str.startswith("Table 1 ") & claims["unit"].eq("%")]
    assert sorted(table1["paper"]) == sorted(v for values in PAPER_TABLE1.values() for v in values)
    assert table1["mean"].between(0, 100).all() and table1["n"].eq(1).all()
