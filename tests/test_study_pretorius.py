"""The Pretorius study (seed 001): its own computations against independent ones, and a tiny end-to-end run."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from vanishing.report.tables import VERDICTS
from vanishing.studies.pretorius import (
    PAPER_TABLE1,
    next_rates,
    rank_rates,
    slope,
    trained_epochs,
)

# --------------------------------------------------------------------------- learning-rate ranking


def test_rank_rates_matches_lr_search_rule():
    from vanishing.lr_search import _summarise

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


def test_trained_epoch_is_the_best_validation_epoch_when_it_was_snapshotted():
    runs = pd.DataFrame({"run_id": ["a", "b", "c"], "headline_epoch": [3, 7, None]})
    snaps = pd.DataFrame({"run_id": ["a"] * 5 + ["b"] * 3 + ["c"] * 2, "epoch": [0, 1, 2, 3, 4, 0, 5, 6, 0, 2]})
    assert trained_epochs(runs, snaps) == {"a": 3, "b": 6, "c": 2}


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


def test_tiny_paper_scale_runs_the_depth_sweep_and_reports_the_last_epoch_too(tmp_path, shared_data):
    """The paper scale's own paths (a separate depth sweep for Fig 1–2, sparse node-statistics epochs, Table 1 at
    the last epoch as well) on a tiny budget; one seed, so every verdict is inconclusive."""
    from vanishing.config import ExecConfig
    from vanishing.report import figures
    from vanishing.studies import get, run_study

    render = figures.render
    mp = pytest.MonkeyPatch()
    mp.setattr(figures, "render", lambda fig, fmt="png", dpi=figures.DPI: render(fig, fmt, min(dpi, 30)))
    try:
        with open(tmp_path / "log.txt", "w") as log:
            out = run_study(
                get("pretorius"), "paper",
                {"epochs": 3, "patience": 3, "seeds": 1, "dataset": "mnist-sample", "train_subset": 500, "width": 16,
                 "cifar": "off", "lr_grid": [1e-3, 3e-3], "lr_epochs": 1, "lr_rounds": 1, "node_epochs": "0,2",
                 "depth_sweep": [2, 4], "depth_epochs": 2, "depth_patience": 2},
                results=tmp_path / "r", exec_config=ExecConfig(threads=1, progress=False, data_dir=str(shared_data)),
                sweep_options={"workers": 0, "display": "silent"}, out=log)
    finally:
        mp.undo()
    claims = out["claims"]
    assert claims["verdict"].eq("inconclusive").all()
    last = claims[claims["claim"].str.endswith(", last epoch")]
    assert len(last) == 8 and last["claim"].str.contains("trained sparsity").all()
    assert claims["claim"].str.startswith("Table 1 MNIST").sum() == 16 + 8
    for name in ("sparsity_by_epoch", "table1_sparsity", "fig1_learning_curves", "fig2a_mnist", "sparsity_readings"):
        assert (out["results"] / "figures" / f"{name}.png").is_file()
    # the measurement ablation read every 4-layer ReLU net (BN off and before) every way
    readings = pd.read_csv(out["results"] / "sparsity_readings.csv")
    assert set(readings["batch_norm"]) == {"off", "before"} and set(readings["weights"]) == {"untrained", "selected", "last"}
    assert set(readings[readings["batch_norm"] == "before"]["mode"]) == {"eval", "train"}
    assert set(readings[readings["batch_norm"] == "off"]["mode"]) == {"eval"}
    assert "sparsity readings" in (tmp_path / "log.txt").read_text()
