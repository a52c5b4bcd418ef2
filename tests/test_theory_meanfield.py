"""Mean-field theory (vanishing.theory.meanfield): reference values, q-map, fixed points, predictions, CLI."""

import math

import numpy as np
import pytest
import torch

from vanishing.cli import main
from vanishing.config import ModelConfig
from vanishing.model import build_model
from vanishing.theory import (
    bias_moments,
    chi,
    depth_scale,
    fixed_point,
    fixed_point_summary,
    input_second_moment,
    layer_variances,
    phase,
    predict,
    predict_from_model,
    predict_layers,
    q_map,
    reference_values,
    second_moments,
    weight_sigma2,
)

# SPEC §7 reference values (σ_b = 0, at the fixed point), with the digits the SPEC gives
SPEC_REFERENCE = [
    ("sigmoid", 1 / 3, 0.020, 3),
    ("sigmoid", 1.0, 0.056, 3),
    ("sigmoid", 2.0, 0.101, 3),
    ("tanh", 1 / 3, 0.333, 3),
    ("tanh", 1.0, 1.0, 2),  # "≈ 1"
    ("relu", 2.0, 1.0, 12),
]


@pytest.mark.parametrize("act,sw2,expected,digits", SPEC_REFERENCE)
def test_spec_reference_values(act, sw2, expected, digits):
    fp = fixed_point_summary(act, sw2, 0.0)
    assert round(fp.chi1, digits) == pytest.approx(expected, abs=1e-12)


def test_spec_sqrt_chi_for_xavier_sigmoid_and_phases():
    fp = fixed_point_summary("sigmoid", 1.0)
    assert round(fp.ratio, 3) == 0.236
    assert fp.phase == "ordered / vanishing"
    assert fp.depth_scale == pytest.approx(-1 / math.log(fp.chi1))
    assert fp.trainable_depth == pytest.approx(6 * fp.depth_scale)
    for act, sw2 in (("tanh", 1.0), ("relu", 2.0)):
        fp = fixed_point_summary(act, sw2)
        assert fp.phase == "critical" and math.isinf(fp.depth_scale) and math.isinf(fp.trainable_depth)
    fp = fixed_point_summary("tanh", 2.0)
    assert fp.chi1 > 1 and fp.phase == "chaotic / exploding"
    assert fp.depth_scale == pytest.approx(1 / math.log(fp.chi1))


def test_reference_table_matches_the_individual_summaries():
    df = reference_values()
    assert list(df["activation"]) == ["sigmoid", "sigmoid", "sigmoid", "tanh", "tanh", "relu"]
    np.testing.assert_allclose(df["chi1"].round(3), [0.020, 0.056, 0.101, 0.333, 1.0, 1.0])


def test_sigmoid_fixed_point_is_nonzero_and_solves_the_q_map():
    for sw2 in (1 / 3, 1.0, 2.0, 4.0):
        q = fixed_point("sigmoid", sw2)
        assert q > 0.2 * sw2  # φ(0) = ½: q* ≈ σ_w²/4 for small σ_w²
        assert float(q_map("sigmoid", q, sw2)) == pytest.approx(q, rel=1e-10)
        # the q-map iterated from far away lands there
        qi = 5.0
        for _ in range(60):
            qi = float(q_map("sigmoid", qi, sw2))
        assert qi == pytest.approx(q, rel=1e-8)


def test_fixed_points_of_tanh_and_relu():
    assert fixed_point("tanh", 1 / 3) == 0.0 and fixed_point("tanh", 1.0) == 0.0
    q = fixed_point("tanh", 2.0)  # chaotic: a nonzero fixed point
    assert q > 0.5 and float(q_map("tanh", q, 2.0)) == pytest.approx(q, rel=1e-10)
    q = fixed_point("tanh", 1.0, 0.05)  # a bias variance moves it off 0
    assert float(q_map("tanh", q, 1.0, 0.05)) == pytest.approx(q, rel=1e-10)
    assert fixed_point("relu", 2.0, q0=0.37) == pytest.approx(0.37)  # every q is fixed at σ_w² = 2
    assert fixed_point("relu", 1.0) == 0.0
    assert math.isinf(fixed_point("relu", 3.0))
    assert fixed_point("relu", 1.5, 0.1) == pytest.approx(0.1 / (1 - 0.75), rel=1e-10)
    assert fixed_point_summary("relu", 1.0).chi1 == pytest.approx(0.5)  # χ at q* = 0 is the q → 0⁺ limit
    assert fixed_point_summary("relu", 3.0).chi1 == pytest.approx(1.5)


def test_chi_and_q_map_definitions():
    for act in ("sigmoid", "tanh", "gelu"):
        for q in (0.1, 0.7):
            e_f2, e_df2 = second_moments(act, q)
            assert float(q_map(act, q, 1.7, 0.2)) == pytest.approx(1.7 * float(e_f2) + 0.2)
            assert float(chi(act, q, 1.7)) == pytest.approx(1.7 * float(e_df2))
    assert float(chi("relu", 0.3, 2.0)) == pytest.approx(1.0)
    assert float(q_map("relu", 0.3, 2.0)) == pytest.approx(0.3)
    # a bias mean: q is the second moment, the map returns the next variance
    assert float(q_map("linear", 1.0 + 0.25, 1.0, bias_mean=0.5)) == pytest.approx(1.25)


def test_phase_and_depth_scale():
    assert phase(0.5) == "ordered / vanishing" and phase(1.0) == "critical" and phase(1.5) == "chaotic / exploding"
    assert depth_scale(math.exp(-1 / 3)) == pytest.approx(3.0)
    assert depth_scale(math.exp(1 / 4)) == pytest.approx(4.0)
    assert math.isinf(depth_scale(1.0)) and depth_scale(0.0) == 0.0


def test_init_schemes_give_the_documented_sigma_w2():
    assert weight_sigma2("torch_default", 700, 700, "sigmoid") == pytest.approx(1 / 3)
    assert weight_sigma2("xavier_normal", 700, 700, "sigmoid") == pytest.approx(1.0)
    assert weight_sigma2("xavier_uniform", 784, 700, "tanh") == pytest.approx(2 * 784 / 1484)
    assert weight_sigma2("he_normal", 784, 700, "relu") == pytest.approx(2.0)
    assert weight_sigma2("auto", 300, 300, "relu") == pytest.approx(2.0)
    assert weight_sigma2("orthogonal(gain=1.5)", 300, 300, "tanh") == pytest.approx(2.25)
    assert weight_sigma2("orthogonal", 784, 300, "tanh") == pytest.approx(1.0)
    assert weight_sigma2("orthogonal", 300, 784, "tanh") == pytest.approx(300 / 784)
    assert weight_sigma2("normal(std=0.1)", 100, 50, "tanh") == pytest.approx(1.0)
    assert bias_moments("zeros", 10) == (0.0, 0.0)
    assert bias_moments("constant(value=0.1)", 10) == (0.1, 0.0)
    assert bias_moments("normal(std=0.2)", 10) == (0.0, pytest.approx(0.04))
    assert bias_moments("torch_default", 300) == (0.0, pytest.approx(1 / 900))


def test_orthogonal_sigma_w2_matches_the_forward_and_backward_gain():
    g = torch.Generator().manual_seed(0)
    for fan_in, fan_out in ((300, 784), (784, 300)):
        cfg = ModelConfig(hidden=(fan_out,), activation="tanh", init="orthogonal")
        model = build_model(cfg, fan_in, 10, seed=1)
        w = model.hidden1.linear.weight.detach().double()
        x = torch.randn(2000, fan_in, generator=g, dtype=torch.float64)
        sw2 = weight_sigma2("orthogonal", fan_in, fan_out, "tanh")
        q = (x @ w.T).square().mean()  # forward: mean a² = σ_w²·mean x²
        assert float(q / x.square().mean()) == pytest.approx(sw2, rel=0.03)
        d = torch.randn(2000, fan_out, generator=g, dtype=torch.float64)  # backward: ‖Wᵀδ‖² = σ_w²·‖δ‖²
        ratio = (d @ w).square().sum(1).mean() / d.square().sum(1).mean()
        assert float(ratio) == pytest.approx(sw2, rel=0.03)


def test_layer_variances_follow_build_model():
    cfg = ModelConfig(hidden=(700, 500), activation=("sigmoid", "relu"), init="auto", bias_init="normal(std=0.1)")
    lv = layer_variances(cfg, 784, 10)
    assert [x.name for x in lv] == ["hidden1", "hidden2", "output"]
    assert lv[0].sigma_w2 == pytest.approx(2 * 784 / 1484)  # xavier for sigmoid
    assert lv[1].sigma_w2 == pytest.approx(2.0)  # he for relu
    assert lv[2].sigma_w2 == pytest.approx(2 * 500 / 510)  # xavier for the softmax output
    assert all(x.sigma_b2 == pytest.approx(0.01) and x.bias_mean == 0 for x in lv)
    model = build_model(cfg, 784, 10, seed=0)
    for x, (_, lin) in zip(lv, model.named_linears()):
        emp = lin.weight.detach().double().square().mean() * lin.in_features
        assert float(emp) == pytest.approx(x.sigma_w2, rel=0.02)


def test_predict_runs_the_q_map_from_the_input_statistics():
    cfg = ModelConfig(hidden=(700,) * 5, activation="sigmoid", init="xavier_normal")
    m2 = 0.112
    df = predict(cfg, 784, 10, input_m2=m2)
    assert list(df["layer"]) == [1, 2, 3, 4, 5]
    assert df.attrs["q1_source"] == "inputs"
    assert df["q"].iloc[0] == pytest.approx(2 * 784 / 1484 * m2)
    for i in range(4):  # the q-map, layer to layer
        assert df["q"].iloc[i + 1] == pytest.approx(float(q_map("sigmoid", df["q"].iloc[i], 1.0)), rel=1e-12)
        assert df["chi"].iloc[i] == pytest.approx(float(chi("sigmoid", df["q"].iloc[i], 1.0)), rel=1e-12)
    np.testing.assert_allclose(df["ratio"], np.sqrt(df["chi"]))
    assert df["chi"].iloc[4] == pytest.approx(float(chi("sigmoid", df["q"].iloc[4], 2 * 700 / 710)))  # to the output
    np.testing.assert_allclose(df["decay"], [np.prod(df["ratio"].iloc[i:4]) for i in range(5)])
    assert df["q"].iloc[-1] == pytest.approx(df.attrs["fixed_point"]["q_star"], rel=1e-3)  # converges to q*
    assert df.attrs["fixed_point"]["chi1"] == pytest.approx(0.0557, abs=5e-5)
    assert list(df["phase"]) == ["ordered / vanishing"] * 4 + ["to output"]
    assert np.isnan(df["depth_scale"].iloc[4])
    # given q1, and no input statistics (fixed point)
    assert predict(cfg, 784, 10, q1=0.5)["q"].iloc[0] == 0.5
    df_fp = predict(cfg, 784, 10, sigma_w2=1.0)
    assert df_fp.attrs["q1_source"] == "fixed point"
    np.testing.assert_allclose(df_fp["q"], fixed_point("sigmoid", 1.0), rtol=1e-9)


def test_predict_with_a_bias_mean_and_mixed_activations():
    df = predict_layers(["tanh", "relu", "sigmoid"], [20, 30, 30, 30, 5], [1.0, 2.0, 1.5, 1.0], 0.01, 0.1, q1=0.3)
    assert df["q"].iloc[0] == 0.3
    v2 = 2.0 * float(second_moments("tanh", 0.3 - 0.01, 0.1)[0]) + 0.01
    assert df["q"].iloc[1] == pytest.approx(v2 + 0.01)
    assert df["chi"].iloc[1] == pytest.approx(1.5 * float(second_moments("relu", v2, 0.1)[1]))
    assert df["ratio_node"].iloc[0] == pytest.approx(df["ratio"].iloc[0])
    assert df["ratio_node"].iloc[2] == pytest.approx(df["ratio"].iloc[2] * math.sqrt(5 / 30))
    with pytest.raises(ValueError):
        predict_layers(["tanh"], [3, 4], [1.0, 1.0])
    with pytest.raises(ValueError):
        predict(ModelConfig(hidden=(10,), batch_norm="before"), 5, 2)


def test_predict_from_model_uses_the_actual_weights():
    cfg = ModelConfig(hidden=(400,) * 3, activation="tanh", init="xavier_normal")
    model = build_model(cfg, 100, 10, seed=0)
    x = torch.rand(50, 100)
    a = predict_from_model(model, x)
    b = predict(cfg, 100, 10, input_m2=input_second_moment(x))
    np.testing.assert_allclose(a["chi"], b["chi"], rtol=0.03)
    assert input_second_moment(x) == pytest.approx(float(x.double().square().mean()))
    assert input_second_moment(x.numpy()) == pytest.approx(input_second_moment(x))


def test_cli_prints_the_prediction_table(capsys):
    code = main(["theory", "--activation", "sigmoid", "--init", "xavier_normal", "--depth", "5", "--width", "700",
                 "--q1", "0.12"])
    out = capsys.readouterr().out
    assert code == 0
    assert "784 → 700×5 → 10" in out and "q₁ = 0.12 (given)" in out
    assert out.count("hidden") >= 5 and "χ₁ = 0.05572" in out
    assert "trainable depth ≈ 6ξ = 2.078 layers" in out


def test_cli_dataset_reference_and_bad_input(capsys):
    assert main(["theory", "--activation", "relu", "--init", "he_normal", "--depth", "3", "--width", "64",
                 "--dataset", "mnist-sample"]) == 0
    out = capsys.readouterr().out
    assert "mnist-sample training split" in out and "mean x²" in out and "critical" in out
    assert main(["theory", "--reference"]) == 0
    out = capsys.readouterr().out
    for text in ("0.0200", "0.0557", "0.2361", "0.1010", "0.3333", "critical"):
        assert text in out
    assert main(["theory", "--activation", "tanh", "--sigma-w2", "2"]) == 0
    assert "chaotic / exploding" in capsys.readouterr().out
    assert main(["theory", "--nodes", "31"]) == 2
    assert "even" in capsys.readouterr().err
    assert main(["theory", "--activation", "nope"]) == 2
    assert main(["theory", "--activation", "relu,tanh", "--depth", "3"]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["theory", "--help"])
    assert exc.value.code == 0 and "σ_w²" in capsys.readouterr().out
