"""tan-lim's ablations (SDAGD without its Newton phase; SGD-ReLU at smaller rates): tables and verdicts by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from vanishing.studies.tan_lim.ablation import (
    curvature_of,
    rate_points,
    rate_table,
    rate_text,
    switch_points,
    switch_table,
    switch_verdict,
)
from vanishing.studies.tan_lim.protocol import _point


def switch_runs(sdagd: dict, h0: dict) -> pd.DataFrame:
    """One row per (depth, variant, seed): test_mcr given as fractions, variants by their optimizer text."""
    rows = []
    for spec, values in (("sdagd(radius=0.6)", sdagd), ("sdagd(radius=0.6, curvature='none')", h0)):
        for depth, mcrs in values.items():
            rows += [{"depth": depth, "optimizer": spec, "seed": i, "test_mcr": v / 100} for i, v in enumerate(mcrs)]
    return pd.DataFrame(rows)


def se(values):
    m = sum(values) / len(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1) / len(values))


def test_switch_table_by_hand():
    a, b = [3.0, 3.2, 3.4], [3.1, 3.5, 3.6]
    t = switch_table(switch_runs({5: a}, {5: b}))
    row = t.iloc[0]
    assert row["SDAGD"] == pytest.approx(3.2) and row["h = 0"] == pytest.approx(sum(b) / 3)
    assert row["difference"] == pytest.approx(sum(b) / 3 - 3.2)
    assert row["2 se"] == pytest.approx(2 * math.sqrt(se(a) ** 2 + se(b) ** 2))
    assert row["SDAGD n"] == 3 and row["paper SDAGD"] == 5.07


@pytest.mark.parametrize("sdagd, h0, expected", [
    ({5: [3.0, 3.2, 3.4]}, {5: [3.1, 3.5, 3.6]}, "matches"),  # +0.2 pp, within 2 s.e. and 1 pp
    ({5: [3.0, 3.2, 3.4]}, {5: [6.0, 6.1, 6.2]}, "worse"),  # +2.9 pp ≫ 2 s.e.
    ({5: [6.0, 6.1, 6.2]}, {5: [3.0, 3.2, 3.4]}, "better"),
    ({5: [3.0, 3.2]}, {5: [3.0, 3.2]}, "undecided"),  # n = 2
    ({5: [1.0, 5.0, 9.0]}, {5: [2.5, 6.5, 10.5]}, "undecided"),  # within 2 s.e. but the band is wide
    ({1: [2.0, 2.1, 2.2], 5: [3.0, 3.2, 3.4]}, {1: [2.0, 2.1, 2.2], 5: [6.0, 6.1, 6.2]}, "worse"),  # one depth decides
])
def test_switch_verdict_branches(sdagd, h0, expected):
    verdict, text = switch_verdict(switch_table(switch_runs(sdagd, h0)))
    assert verdict == expected
    assert "hl-5" in text
    if expected == "undecided":
        assert "seeds" in text


def test_points_repeat_the_main_runs_configs_and_add_the_variants():
    p = {"width": 8, "sdagd_schedule": "step(step_size=4, gamma=0.3)", "ablation_depths": [1, 3],
         "ablation_sgd_rates": [0.01, 0.03]}
    radius = {("sigmoid", 1): 0.3, ("sigmoid", 3): 0.6}
    points = switch_points(p, radius)
    assert points[0] == _point(p, "sigmoid", 1, "sdagd(radius=0.3)", 1.0)  # the main run's own point: reused
    assert [curvature_of(pt["optim.optimizer"]) for pt in points] == ["lecun", "none", "lecun", "none"]
    assert points[3]["model.hidden"] == [8, 8, 8] and points[3]["optim.schedule"] == p["sdagd_schedule"]
    rates = rate_points(p, {("relu", 1): 1.0, ("relu", 3): 0.03})
    assert [(len(pt["model.hidden"]), pt["optim.lr"]) for pt in rates] == [(1, 1.0), (1, 0.03), (1, 0.01), (3, 0.03),
                                                                          (3, 0.01)]
    assert all(pt["optim.schedule"] == "constant" and pt["model.activation"] == "relu" for pt in rates)


def test_rate_table_and_text():
    runs = pd.DataFrame([{"depth": 1, "lr": lr, "seed": s, "test_mcr": v / 100}
                         for lr, vals in ((1.0, [2.0, 2.2, 2.4]), (0.01, [9.0, 10.0, 11.0])) for s, v in enumerate(vals)])
    t = rate_table(runs, {("relu", 1): 1.0})
    assert list(t["lr"]) == [1.0, 0.01] and list(t["searched"]) == [True, False]
    assert t["ours"].tolist() == pytest.approx([2.2, 10.0]) and t["se"].iloc[1] == pytest.approx(se([9.0, 10.0, 11.0]))
    assert t["paper"].iloc[0] == 10.95 and (t["n"] == 3).all()
    text = rate_text(t)
    assert "lr 1 → 2.20% (searched)" in text and "nearest the paper: lr 0.01" in text


def test_budget_table_by_hand():
    from vanishing.studies.tan_lim.ablation import budget_table

    runs = pd.DataFrame([{"run_id": f"r{s}", "kind": "sdagd", "activation": "sigmoid", "depth": 5} for s in (0, 1)])
    curves = {"r0": [90, 10, 6, 5, 4.0, 3.5, 3.4, 3.3, 3.2], "r1": [90, 12, 8, 5, 5.0, 3.5, 3.2, 3.3, 3.0]}  # epoch 0…8
    epochs = pd.DataFrame([{"run_id": r, "epoch": e, "test_mcr": v / 100} for r, c in curves.items() for e, v in
                           enumerate(c)])
    row = budget_table(epochs, runs, marks=(1, 4)).iloc[0]
    assert row["paper"] == 5.07 and row["epoch 1"] == pytest.approx(11.0) and row["epoch 4"] == pytest.approx(4.5)
    assert row["epoch 8"] == pytest.approx(3.1)
    assert row["first epoch ≤ paper"] == 3  # mean 5.0 at epoch 3 (epoch 0, untrained, is not counted)
    assert row["fall over the last 4 (pp/epoch)"] == pytest.approx((3.5 - 3.1) / 3)  # epochs 5 … 8
