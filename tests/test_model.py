"""The MLP builder: named layers, layer order, norms, residuals, intermediates."""

import pytest
import torch

from vanishing.config import ModelConfig, RunConfig, resolve, with_overrides
from vanishing.model import MLP, build_model


def model_config(**kw):
    overrides = {f"model.{k}": v for k, v in kw.items()}
    return resolve(with_overrides(RunConfig(), overrides)).model


def test_layers_are_named_and_shaped():
    m = build_model(model_config(hidden=[7, 5, 3], activation="tanh"), 11, 4, seed=0)
    assert m.layer_names == ["hidden1", "hidden2", "hidden3"]
    assert [(n, l.in_features, l.out_features) for n, l in m.named_linears()] == [
        ("hidden1", 11, 7), ("hidden2", 7, 5), ("hidden3", 5, 3), ("output", 3, 4)
    ]
    assert m(torch.randn(2, 11)).shape == (2, 4)


def test_forward_matches_a_hand_written_network():
    m = build_model(model_config(hidden=[6, 6], activation=["sigmoid", "relu"]), 4, 3, seed=1).double()
    x = torch.randn(5, 4, dtype=torch.float64)
    h1 = torch.sigmoid(x @ m.hidden1.linear.weight.T + m.hidden1.linear.bias)
    h2 = torch.relu(h1 @ m.hidden2.linear.weight.T + m.hidden2.linear.bias)
    z = h2 @ m.output.weight.T + m.output.bias
    assert torch.allclose(m(x), z)


@pytest.mark.parametrize("position", ["before", "after"])
def test_batch_norm_position(position):
    m = build_model(model_config(hidden=[6], activation="tanh", batch_norm=position), 4, 3, seed=2).double().eval()
    layer = m.hidden1
    with torch.no_grad():
        layer.norm.running_mean.uniform_(-1, 1)
        layer.norm.running_var.uniform_(0.5, 2)
        layer.norm.weight.uniform_(0.5, 2)
        layer.norm.bias.uniform_(-1, 1)
    x = torch.randn(5, 4, dtype=torch.float64)
    bn = layer.norm
    norm = lambda t: (t - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias
    lin = layer.linear(x)
    expected = torch.tanh(norm(lin)) if position == "before" else norm(torch.tanh(lin))
    assert torch.allclose(layer(x), expected)


def test_residual_skips_equal_width_layers_only():
    m = build_model(model_config(hidden=[6, 6, 4], activation="relu", residual=True), 3, 2, seed=3).double()
    assert [l.residual for l in m.hidden_layers] == [False, True, False]
    x = torch.randn(4, 3, dtype=torch.float64)
    h1 = m.hidden1(x)
    assert torch.allclose(m.hidden2(h1), h1 + torch.relu(m.hidden2.linear(h1)))


def test_layer_norm_before_activation():
    m = build_model(model_config(hidden=[6], activation="sigmoid", layer_norm=True), 3, 2, seed=4).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    a = m.hidden1.linear(x)
    a = (a - a.mean(1, keepdim=True)) / torch.sqrt(a.var(1, unbiased=False, keepdim=True) + 1e-5)
    assert torch.allclose(m.hidden1(x), torch.sigmoid(a))


def test_intermediates_are_pre_and_post_activations():
    m = build_model(model_config(hidden=[5, 5], activation="tanh"), 3, 2, seed=5)
    x = torch.randn(4, 3)
    z, pre, post = m.forward_with_intermediates(x)
    assert torch.allclose(z, m(x))
    assert torch.allclose(post[0], torch.tanh(pre[0])) and torch.allclose(post[1], torch.tanh(pre[1]))
    assert torch.allclose(pre[1], m.hidden2.linear(post[0]))


def test_same_seed_same_weights_and_auto_init_per_layer():
    cfg = model_config(hidden=[400, 100], activation=["relu", "sigmoid"], init="auto")
    a, b = build_model(cfg, 800, 10, seed=7), build_model(cfg, 800, 10, seed=7)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    # He for the relu layer (Var 2/fan_in), Xavier for the sigmoid layer (Var 2/(fan_in+fan_out))
    assert a.hidden1.linear.weight.var().item() == pytest.approx(2 / 800, rel=0.03)
    assert a.hidden2.linear.weight.var().item() == pytest.approx(2 / 500, rel=0.03)  # He would be 2/400
    assert a.output.weight.var().item() == pytest.approx(2 / 110, rel=0.15)
    assert torch.count_nonzero(a.hidden1.linear.bias) == 0
