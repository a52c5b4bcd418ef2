"""Per-example δ measurement (vanishing.theory.measure) against brute force, and the theory comparison."""

import numpy as np
import pytest
import torch

from vanishing.config import ModelConfig
from vanishing.losses import make_loss
from vanishing.model import build_model
from vanishing.theory import (
    compare,
    delta_table,
    input_second_moment,
    measured_q,
    per_example_deltas,
    predict,
)


def small_model(**kw):
    cfg = ModelConfig(hidden=(7, 6, 5), activation=("tanh", "sigmoid", "relu"), bias_init="normal(std=0.3)", **kw)
    return build_model(cfg, 4, 3, seed=0).double()


def data(n=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (n,), generator=g)


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_per_example_deltas_equal_one_backward_per_example(loss):
    model = small_model(output="softmax")
    x, y = data()
    deltas = per_example_deltas(model, x, y, loss, include_output=True)
    fn = make_loss(loss, "softmax", 3).per_example
    for n in range(len(x)):  # brute force: E_n alone, its own backward
        z, pre, _ = model.forward_with_intermediates(x[n:n + 1])
        grads = torch.autograd.grad(fn(z, y[n:n + 1]).sum(), list(pre) + [z])
        for d, g in zip(deltas, grads):
            torch.testing.assert_close(d[n], g[0], rtol=1e-12, atol=1e-15)
    assert [d.shape[1] for d in deltas] == [7, 6, 5, 3]


def test_measurement_is_in_eval_mode_and_leaves_the_model_alone():
    cfg = ModelConfig(hidden=(6, 6), activation="tanh", batch_norm="before")
    model = build_model(cfg, 4, 3, seed=0).double()
    x, y = data(16)
    model.train()
    model(x)  # move the running statistics away from their initial values
    before = {k: v.clone() for k, v in model.state_dict().items()}
    deltas = per_example_deltas(model, x, y)
    assert model.training  # restored
    assert all(p.grad is None for p in model.parameters())
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k])  # running stats untouched (eval mode)
    # with eval-mode batch norm the examples are independent: chunking changes nothing
    chunked = per_example_deltas(model, x, y, chunk_size=5)
    for a, b in zip(deltas, chunked):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)


def test_delta_table_columns_and_values():
    model = small_model()
    x, y = data(20)
    t = delta_table(model, x, y)
    assert list(t["name"]) == ["hidden1", "hidden2", "hidden3", "output"]
    deltas = per_example_deltas(model, x, y, include_output=True)
    for i, d in enumerate(deltas):
        rms = float(d.square().sum(1).mean().sqrt())
        assert t["rms"].iloc[i] == pytest.approx(rms, rel=1e-12)
        assert t["rms_node"].iloc[i] == pytest.approx(rms / d.shape[1] ** 0.5, rel=1e-12)
        assert t["mean_norm"].iloc[i] == pytest.approx(float(d.norm(dim=1).mean()), rel=1e-12)
    np.testing.assert_allclose(t["ratio"].iloc[:3], t["rms"].iloc[:3].to_numpy() / t["rms"].iloc[1:].to_numpy())
    assert np.isnan(t["ratio"].iloc[3]) and t["decay"].iloc[2] == 1.0
    assert t.attrs["n_samples"] == 20


def test_measured_q_matches_the_pre_activations():
    model = small_model()
    x, _ = data(30)
    q = measured_q(model, x)
    with torch.no_grad():
        _, pre, _ = model.forward_with_intermediates(x)
    for i, a in enumerate(pre):
        assert q["q"].iloc[i] == pytest.approx(float(a.square().mean()))
        assert q["var"].iloc[i] + q["mean"].iloc[i] ** 2 == pytest.approx(q["q"].iloc[i])


def test_theory_matches_measurement_on_gaussian_inputs():
    """A quick (synthetic-data) version of the MNIST check: 256 wide, Gaussian inputs, tanh and Xavier."""
    cfg = ModelConfig(hidden=(256,) * 4, activation="tanh", init="xavier_normal")
    model = build_model(cfg, 100, 10, seed=0)
    g = torch.Generator().manual_seed(1)
    x, y = 1.5 * torch.randn(1000, 100, generator=g), torch.randint(0, 10, (1000,), generator=g)
    c = compare(predict(cfg, 100, 10, input_m2=input_second_moment(x)), delta_table(model, x, y))
    assert np.all(np.abs(c["rel_error"].iloc[:-1]) < 0.06), c
    # the first hidden layer's measured q agrees with q₁ = σ²_w1·mean(x²)
    assert measured_q(model, x)["q"].iloc[0] == pytest.approx(2 * 100 / 356 * input_second_moment(x), rel=0.1)
