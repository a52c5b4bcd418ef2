"""The ``zoo`` study (seed 004): the unit census of trained models, the run summary, and a tiny end-to-end run."""

from __future__ import annotations

import io

import pandas as pd
import pytest
import torch

from vanishing.config import ModelConfig
from vanishing.model import build_model
from vanishing.report.tables import VERDICTS
from vanishing.studies import get, run_study
from vanishing.studies.zoo import act_name, load_trained, run_summary, unit_census

STUDY = get("zoo")
FIGURES = ("activation_functions", "article_functions", "activation_cost", "delta_by_layer_all", "grad_norms_by_layer",
           "grad_norms_sigmoid", "grad_norms_tanh", "grad_norms_relu", "summary_bars", "learning_curves",
           "remedies_delta", "remedies_learning_curves", "dying_units")
CLAIMS = 19


def _census_by_loop(model, x) -> pd.DataFrame:
    """The same census one unit at a time: each unit's pre-activation column and the registry's f′."""
    from vanishing import activations

    rows, h = [], x
    model.eval()
    with torch.no_grad():
        for name, layer in zip(model.layer_names, model.hidden_layers):
            a = layer.linear(h)
            act = activations.get(layer.act.activation.spec)
            neg = dead = 0
            for j in range(a.shape[1]):
                col = a[:, j]
                neg += int(all(float(v) <= 0 for v in col))
                dead += int(all(float(act.df(v)) == 0 for v in col))
            rows.append({"layer": name, "negative": neg / a.shape[1], "no_gradient": dead / a.shape[1]})
            h = layer(h)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu", "relu6"])
def test_unit_census_matches_a_unit_by_unit_loop(activation):
    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden=(12, 12, 12), activation=activation), 6, 3, seed=1)
    with torch.no_grad():  # kill a few units: large negative biases
        model.hidden1.linear.bias[:4] = -50.0
        model.hidden2.linear.bias[:3] = -50.0
    x = torch.rand(40, 6)
    got = unit_census(model, x)
    ref = _census_by_loop(model, x)
    pd.testing.assert_frame_equal(got[["layer", "negative", "no_gradient"]], ref, check_dtype=False)
    assert got.loc[0, "negative"] >= 4 / 12
    if activation in ("relu", "relu6"):
        assert got.loc[0, "no_gradient"] >= 4 / 12
    else:  # a slope below zero: never without a gradient
        assert (got["no_gradient"] == 0).all()


def test_activation_cost_table():
    from vanishing.studies.zoo import activation_cost

    cost = activation_cost(["relu", "sigmoid", "leaky_relu(alpha=0.1)"], shape=(32, 32), calls=3, rounds=3)
    assert list(cost["activation"]) == ["relu", "sigmoid", "leaky_relu"]
    assert (cost["us"] > 0).all() and cost.loc[0, "vs_relu"] == 1.0
    assert torch.get_num_threads() >= 1


def test_act_name():
    assert act_name("leaky_relu(alpha=0.01)") == "leaky_relu"
    assert act_name("swish") == "silu"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The whole study on a tiny budget: 4 activations, 3 × 16 units, 300 examples, one epoch, one seed, in-process."""
    root = tmp_path_factory.mktemp("zoo")
    out = run_study(STUDY, "quick", {"epochs": 1, "seeds": 1, "train_subset": 300, "depth": 3, "width": 16,
                                     "activations": ["sigmoid", "tanh", "relu", "elu"]},
                    results=root, sweep_options={"workers": 0, "display": "silent"}, out=io.StringIO())
    return root, out


def test_tiny_run_writes_report_figures_and_every_claim(tiny):
    root, out = tiny
    html = out["report"].read_text()
    assert html.count("<figure") == len(FIGURES)
    for name in FIGURES:
        assert (root / "figures" / f"{name}.png").stat().st_size > 1000, name
        assert (root / "figures" / f"{name}.pdf").exists(), name
    claims = pd.read_csv(root / "claims.csv")
    assert len(claims) == CLAIMS
    assert set(claims["verdict"]) <= set(VERDICTS)
    assert claims["reason"].notna().all()
    for text in ("sigmoid's derivative is at most 0.25", "tanh(x) = 2σ(2x) − 1", "RReLU uses the mean slope"):
        assert claims[claims["claim"].str.contains(text, regex=False)]["verdict"].item() == "reproduced"


def test_run_summary_agrees_with_the_probe_tables(tiny):
    """δ₁/δ_L and the dead share of the summary, recomputed directly from the stored probe tables."""
    import vanishing

    root, _ = tiny
    res = vanishing.load(root)
    summary = run_summary(res).set_index("run_id")
    bs, dead = res.probes["backprop_signal"], res.probes["dead_units"]
    for rid in res.runs[res.runs["activation"] == "relu"]["run_id"]:
        b0 = bs[(bs["run_id"] == rid) & (bs["epoch"] == 0)].set_index("layer")["rms"]
        assert summary.loc[rid, "delta_ratio0"] == pytest.approx(b0["hidden1"] / b0["hidden3"])
        d = dead[(dead["run_id"] == rid) & (dead["epoch"] == dead[dead["run_id"] == rid]["epoch"].max())]
        assert summary.loc[rid, "dead_last"] == pytest.approx(100 * d["fraction"].mean())
    assert summary["test_acc"].between(0, 100).all()


def test_trained_models_reload_with_their_weights(tiny):
    """load_trained rebuilds a run's net from config.json + checkpoint: its test accuracy is the stored last one."""
    import vanishing
    from vanishing.data import load_dataset

    root, _ = tiny
    res = vanishing.load(root)
    row = res.runs[(res.runs["activation"] == "tanh") & (res.runs["batch_norm"] == "off")
                   & (~res.runs["residual"].astype(bool))].iloc[0]
    data = load_dataset("mnist-sample", train_subset=300)
    model = load_trained(row["path"], data.n_features, data.n_classes).eval()
    with torch.no_grad():
        acc = float((model(data.x_test).argmax(1) == data.y_test).float().mean())
    assert acc == pytest.approx(float(row["last_test_acc"]), abs=1e-6)
