"""The ``tan-lim`` study (seed 002): its own computations, checked independently, and a tiny end-to-end run."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from vanishing.report.tables import VERDICTS
from vanishing.studies import get, run_study
from vanishing.studies.tan_lim.protocol import SCALES
from vanishing.studies.tan_lim import (
    PAPER_MCR,
    cell_direction,
    layer_ratio,
    monotone_increase,
    paper_mcr,
    rank_by_validation,
    sdagd_state,
    table_one,
)

STUDY = get("tan-lim")


# --------------------------------------------------------------------------- the paper's numbers and the rules


def test_paper_table_is_the_one_of_spec_section_10():
    assert paper_mcr("sgd", "sigmoid", 1) == 10.73 and paper_mcr("sgd", "sigmoid", 5) == 89.91
    assert paper_mcr("sgd", "relu", 3) == 9.32 and paper_mcr("sdagd", "sigmoid", 4) == 4.11
    assert paper_mcr("sdagd", "relu", 1) == 1.77 and paper_mcr("sdagd", "relu", 5) == 2.34
    assert all(len(v) == 5 for v in PAPER_MCR.values()) and len(PAPER_MCR) == 4


def test_monotone_increase_on_the_papers_own_columns():
    """The paper claims a monotonic increase with depth for both optimizers; its SGD-ReLU column falls."""
    assert monotone_increase(PAPER_MCR[("sgd", "sigmoid")])
    assert monotone_increase(PAPER_MCR[("sdagd", "sigmoid")])
    assert monotone_increase(PAPER_MCR[("sdagd", "relu")])  # 2.09 = 2.09: non-strict
    assert not monotone_increase(PAPER_MCR[("sgd", "relu")])


def test_monotone_increase_tolerates_falls_within_two_standard_errors():
    means = [2.0, 1.8, 2.5]
    assert not monotone_increase(means)
    # a fall of 0.2 against 2·√(0.1² + 0.1²) ≈ 0.28: noise
    assert monotone_increase(means, [0.1, 0.1, 0.1])
    assert not monotone_increase(means, [0.05, 0.05, 0.05])  # 0.2 > 2·√(2)·0.05 ≈ 0.14
    assert monotone_increase(means, [math.nan, 0.5, math.nan])  # NaN s.e. (one seed) counts as 0


@pytest.mark.parametrize(
    "cell, other, ours, ours_other, expected",
    [
        (89.91, 5.07, 90.0, 4.0, True),  # failed like the paper, above SDAGD
        (89.91, 5.07, 20.0, 4.0, False),  # learned where the paper failed
        (5.07, 89.91, 4.0, 90.0, True),  # SDAGD cell below SGD
        (1.77, 10.95, 3.0, 2.0, False),  # SDAGD above SGD: the wrong side
        (10.73, 3.34, 12.0, math.nan, False),  # no counterpart measured
    ],
)
def test_cell_direction(cell, other, ours, ours_other, expected):
    assert cell_direction(cell, other, ours, ours_other) is expected


def test_rank_by_validation_matches_lr_search_and_a_brute_force_sort():
    from vanishing.lr_search import _summarise

    rng = np.random.default_rng(0)
    values = [0.03, 0.1, 0.3, 1.0]
    rows = [{"lr": v, "seed": s, "status": "done", "val_acc": float(rng.uniform(0.1, 0.9))} for v in values for s in range(3)]
    rows[0]["val_acc"], rows[1]["val_acc"], rows[2]["val_acc"] = 0.5, 0.5, 0.5  # ties broken by the spread …
    rows[3]["val_acc"], rows[4]["val_acc"], rows[5]["val_acc"] = 0.4, 0.5, 0.6
    table = pd.DataFrame(rows)
    ours = rank_by_validation(table, "lr")
    reference = _summarise(table.assign(test_acc=np.nan))
    assert ours["lr"].tolist() == reference["lr"].tolist()
    # brute force: mean ↓, population std ↑, value ↑
    stats = {v: (np.mean([r["val_acc"] for r in rows if r["lr"] == v]), np.std([r["val_acc"] for r in rows if r["lr"] == v]))
             for v in values}
    expected = sorted(values, key=lambda v: (-round(stats[v][0], 12), round(stats[v][1], 12), v))
    assert ours["lr"].tolist() == expected
    np.testing.assert_allclose(ours.set_index("lr").loc[values, "mean"], [stats[v][0] for v in values])
    # exact tie in mean and spread → the smaller value first
    tie = pd.DataFrame({"radius": [0.6, 0.3], "val_acc": [0.7, 0.7]})
    assert rank_by_validation(tie, "radius")["radius"].tolist() == [0.3, 0.6]


def test_table_one_means_and_standard_errors():
    rows = []
    for kind in ("sgd", "sdagd"):
        for act in ("sigmoid", "relu"):
            for depth in (1, 2):
                for seed, mcr in enumerate((0.10, 0.12, 0.17)):
                    rows.append({"kind": kind, "activation": act, "depth": depth, "seed": seed,
                                 "test_mcr": mcr + 0.01 * depth + (0.5 if kind == "sgd" else 0.0)})
    t = table_one(pd.DataFrame(rows), [1, 2])
    x = np.array([10.0, 12.0, 17.0]) + 1.0 * 2  # SDAGD sigmoid, depth 2, in %
    row = t[t["depth"] == 2].iloc[0]
    assert row["SDAGD sigmoid ours"] == pytest.approx(x.mean())
    assert row["SDAGD sigmoid se"] == pytest.approx(x.std(ddof=1) / math.sqrt(3))
    assert row["SDAGD sigmoid n"] == 3
    assert row["SGD ReLU ours"] == pytest.approx(x.mean() + 50.0)
    assert row["SGD ReLU paper"] == 10.07


def test_layer_ratio():
    df = pd.DataFrame({"layer": ["hidden1", "hidden1", "output", "hidden2"], "v": [1.0, 3.0, 4.0, 100.0]})
    assert layer_ratio(df, "v", "hidden1", "output") == pytest.approx(0.5)
    assert math.isnan(layer_ratio(df, "v", "hidden1", "hidden9"))
    assert math.isnan(layer_ratio(df.iloc[:0], "v", "hidden1", "output"))


def test_sdagd_state_agrees_with_the_update_rule_computed_by_hand():
    """μ_l = ‖g_l‖/R, phase = share of h > μ, step = lr·‖g/(μ + h + ε)‖ — from autograd and curvature.diagonal."""
    from vanishing.config import ModelConfig
    from vanishing.losses import make_loss
    from vanishing.model import build_model
    from vanishing.optim import curvature

    torch.manual_seed(0)
    cfg = ModelConfig(hidden=(12, 9, 7), activation="sigmoid", output="sigmoid", init="xavier_normal")
    model = build_model(cfg, 20, 5, seed=3)
    x, y = torch.randn(40, 20), torch.randint(0, 5, (40,))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    radius, lr = 0.2, 0.7
    state = sdagd_state(model, f"sdagd(radius={radius})", lr, x, y, n_classes=5).set_index("layer")
    for k, v in model.state_dict().items():  # the model given is not changed
        assert torch.equal(v, before[k])

    loss = make_loss("mse", "sigmoid", 5)(model(x), y)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    g_of = dict(zip(model.parameters(), grads))
    h_of = curvature.diagonal(model, x, "mse", "sigmoid")
    names = [f"hidden{i}" for i in (1, 2, 3)] + ["output"]
    assert list(state.index) == names
    for name, (_, params) in zip(names, curvature.layer_groups(model)):
        g = torch.cat([g_of[p].flatten() for p in params]).double()
        h = torch.cat([h_of[p].flatten() for p in params]).double()
        mu = g.norm() / radius
        assert state.loc[name, "grad_norm"] == pytest.approx(float(g.norm()), rel=1e-5)
        assert state.loc[name, "mu"] == pytest.approx(float(mu), rel=1e-5)
        assert state.loc[name, "phase"] == pytest.approx(float((h > mu).double().mean()), abs=1e-9)
        assert state.loc[name, "median_h"] == pytest.approx(float(h.median()), rel=1e-4, abs=1e-12)
        step = lr * (g / (mu + h + 1e-8)).norm()
        assert state.loc[name, "step_norm"] == pytest.approx(float(step), rel=1e-4)


# --------------------------------------------------------------------------- the whole study on a tiny budget


def expected_figures(depths):
    deep = max(depths)
    names = ["rate_search", "table1_mcr_vs_depth", "fig3_sigmoid_training", "fig4_relu_training",
             f"steps_sigmoid_hl{deep}", f"delta_sgd_sigmoid_hl{deep}", f"delta_sdagd_sigmoid_hl{deep}"]
    names += [f"grad_heatmap_sgd_sigmoid_hl{d}" for d in sorted({d for d in depths if d >= 4} | {deep})]
    return names + ["ablation_switch_and_rate"]


def test_tiny_run_writes_report_figures_and_every_claim(tmp_path):
    """All of the study's code on a narrow net: Table I claims for each cell, the qualitative claims, every figure."""
    depths = [1, 2, 4]
    root = tmp_path / "tan-lim"
    overrides = {"epochs": 2, "seeds": 1, "train_subset": 400, "width": 16, "depths": depths, "sgd_rates": [0.3, 1.0],
                 "radii": [0.3], "probe_every": 1, "ablation_depths": [4], "ablation_sgd_rates": [0.1]}
    with open("/dev/null", "w") as devnull:
        out = run_study(STUDY, "quick", overrides, results=root, sweep_options={"workers": 0, "display": "silent"},
                        out=devnull)
    report = out["report"]
    page = report.read_text()
    names = expected_figures(depths)
    assert page.count("<figure") == len(names)
    for name in names:
        assert (root / "figures" / f"{name}.png").stat().st_size > 1000, name
        assert (root / "figures" / f"{name}.pdf").exists(), name

    claims = pd.read_csv(root / "claims.csv")
    table = [c for c in claims["claim"] if c.startswith("Table I:")]
    assert len(table) == 4 * len(depths)
    for kind in ("SGD", "SDAGD"):
        for act in ("sigmoid", "ReLU"):
            for d in depths:
                assert f"Table I: {kind}, {act}, hl-{d} — test MCR (%)" in table
    assert len(claims) == 4 * len(depths) + 10
    assert set(claims["verdict"]) <= set(VERDICTS)
    assert claims["reason"].notna().all()
    numeric = claims[claims["claim"].str.startswith("Table I:")]
    assert (numeric["n"] == 1).all() and numeric["mean"].between(0, 100).all()
    assert "Table I — test misclassification rate" in page and "monotonic increase" in page
    switch = claims[claims["claim"] == "SDAGD works through its two-phase switching of the step length"]["reason"].iloc[0]
    assert "h = 0" in switch and "needs ≥ 3 seeds per variant" in switch  # one seed: the ablation cannot decide
    assert "Ablations — the switch, the budget and SGD" in page and "first epoch ≤ paper" in page


def test_quick_scale_has_no_ablations_and_the_claims_say_so(tmp_path):
    """The quick scale skips the ablation sweep (with it the quick run took 5 min 17 s, over the 5-minute limit):
    no ablation figure or section, and the switch claim names the missing ablation instead of judging it."""
    assert SCALES["quick"]["ablation_depths"] == []
    root = tmp_path / "tan-lim"
    overrides = {"epochs": 1, "seeds": 1, "train_subset": 200, "width": 8, "depths": [1, 4], "sgd_rates": [0.3],
                 "radii": [0.3], "probe_every": 1}
    with open("/dev/null", "w") as devnull:
        out = run_study(STUDY, "quick", overrides, results=root, sweep_options={"workers": 0, "display": "silent"},
                        out=devnull)
    page = out["report"].read_text()
    assert not (root / "figures" / "ablation_switch_and_rate.png").exists()
    assert "Ablations — the switch" not in page
    claims = pd.read_csv(root / "claims.csv")
    switch = claims[claims["claim"] == "SDAGD works through its two-phase switching of the step length"]
    assert "(no h = 0 ablation in this scale)" in switch["reason"].iloc[0]
