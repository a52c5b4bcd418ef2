"""The zoo's dying-unit ablation: the f′ ≤ tiny census against a unit-by-unit loop, and the per-rate table."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from vanishing import activations
from vanishing.config import ModelConfig
from vanishing.model import build_model
from vanishing.studies.zoo import unit_census
from vanishing.studies.zoo.ablation import DEAD_RUN, TINY, ablation_figure, ablation_table, ablation_text


def _tiny_by_loop(model, x, tiny: float) -> list[float]:
    """Per layer, the share of units whose f′ (float64, the registry's definition) is ≤ tiny on every example."""
    out, h = [], x
    model.eval()
    with torch.no_grad():
        for layer in model.hidden_layers:
            a = layer.linear(h)
            act = activations.get(layer.act.activation.spec)
            hits = sum(all(abs(float(act.df(v.double()))) <= tiny for v in a[:, j]) for j in range(a.shape[1]))
            out.append(hits / a.shape[1])
            h = layer(h)
    return out


@pytest.mark.parametrize("activation", ["elu", "leaky_relu", "relu"])
def test_tiny_gradient_census_matches_a_loop(activation):
    model = build_model(ModelConfig(hidden=(10, 10), activation=activation), 5, 3, seed=2)
    with torch.no_grad():  # units 0–2 far below zero (ELU: f′ = e^-40 ≈ 4e-18 ≤ 1e-6, yet > 0 in float32), 3 just below
        model.hidden1.linear.bias[:3] = -40.0
        model.hidden1.linear.bias[3] = -5.0
        model.hidden2.linear.bias[:2] = -200.0  # ELU: e^-200 underflows to exactly 0 in float32
    x = torch.rand(30, 5)
    got = unit_census(model, x, tiny=TINY)
    assert list(got["tiny_gradient"]) == pytest.approx(_tiny_by_loop(model, x, TINY))
    if activation == "elu":
        assert got.loc[0, "tiny_gradient"] >= 3 / 10 and got.loc[0, "no_gradient"] == 0  # tiny, not exactly 0
        assert got.loc[1, "no_gradient"] >= 2 / 10  # float32 underflow: ELU passes exactly no gradient
    if activation == "leaky_relu":
        assert (got["tiny_gradient"] == 0).all()
    assert (unit_census(model, x)["tiny_gradient"] == unit_census(model, x)["no_gradient"]).all()  # tiny = 0


def _runs() -> pd.DataFrame:
    rows = []
    for lr, elu_dead in ((0.01, [0.0, 69.0, 0.0, 12.0]), (0.001, [0.0, 0.0, 0.0, 0.0])):
        for seed, v in enumerate(elu_dead):
            rows.append({"act": "elu", "lr": lr, "seed": seed, "run_id": f"e{lr}{seed}", "test_acc": 90.0 + seed,
                         "no_gradient": v / 2, "tiny_gradient": v})
            rows.append({"act": "relu", "lr": lr, "seed": seed, "run_id": f"r{lr}{seed}", "test_acc": 80.0,
                         "no_gradient": 30.0, "tiny_gradient": 30.0})
    return pd.DataFrame(rows)


def test_ablation_table_counts_dead_seeds_per_rate():
    table = ablation_table(_runs())
    col = f"seeds with ≥ {100 * DEAD_RUN:.0f}% such units"
    assert list(table["activation"]) == ["relu", "relu", "elu", "elu"]  # ABLATION_ACTS order, larger rate first
    assert list(table["lr"]) == ["0.01", "0.001", "0.01", "0.001"]
    elu = table[table["activation"] == "elu"].set_index("lr")
    assert elu.loc["0.01", col] == "2 / 4" and elu.loc["0.001", col] == "0 / 4"  # 69% and 12% ≥ 10%; 0% is not
    assert elu.loc["0.01", "f′ ≤ 1e-6 everywhere (%)"].startswith("20.2")  # mean of 0, 69, 0, 12
    assert table[table["activation"] == "relu"][col].tolist() == ["4 / 4", "4 / 4"]
    assert "elu at lr 0.01: 2/4 seeds" in ablation_text(_runs(), 0.01)


def test_ablation_figure_plots_every_run():
    fig = ablation_figure(_runs())
    points = sum(len(c.get_offsets()) for c in fig.axes[0].collections)
    assert points == len(_runs())
