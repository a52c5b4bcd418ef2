"""Chain bounds (vanishing.theory.chain): scalar sigmoid chains and the layer/spectral-norm version."""


import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vanishing.config import ModelConfig
from vanishing.model import MLP, build_model
from vanishing.theory import (
    check_layer_bound,
    layer_bound_factors,
    model_bound_factors,
    scalar_chain,
)


def autograd_chain(w, b, x, act=torch.sigmoid):
    """∂C/∂b_k and ∂C/∂y_k for C = y_r, by autograd in float64."""
    wt = torch.tensor(w, dtype=torch.float64)
    bt = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(float(x), dtype=torch.float64)
    ys = []
    for k in range(len(w)):
        y = act(wt[k] * y + bt[k])
        y.retain_grad()
        ys.append(y)
    y.backward()
    return bt.grad.numpy(), np.array([float(t.grad) for t in ys])


finite = st.floats(-3, 3, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=12), finite, st.floats(-2, 2))
def test_scalar_chain_matches_autograd_and_the_bound_holds(wb, x, dc):
    w, b = [p[0] for p in wb], [p[1] for p in wb]
    df = scalar_chain(w, b, x, dC_dy=dc)
    grad_b, grad_y = autograd_chain(w, b, x)
    # rtol 1e-9: σ′ = y(1 − y) loses digits to cancellation when y → 1 (z = 11: 1 − y ≈ 1.7e-5)
    np.testing.assert_allclose(df["dC_db"], dc * grad_b, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(df["dC_dy"], dc * grad_y, rtol=1e-9, atol=1e-300)
    # |∂C/∂b_k| ≤ (¼)^{r−k+1} Π_{j>k} |w_j| |∂C/∂y_r|, the first entry being SPEC §7's bound on ∂C/∂b₁
    assert np.all(np.abs(df["dC_db"]) <= df["bound_db"] * (1 + 1e-12))
    r = len(w)
    assert df["bound_db"].iloc[0] == pytest.approx(0.25**r * np.prod(np.abs(w[1:])) * abs(dc), rel=1e-12)


def test_scalar_bound_is_tight_when_every_pre_activation_is_zero():
    rng = np.random.default_rng(0)
    w = rng.uniform(0.2, 3.0, size=8) * rng.choice([-1, 1], size=8)  # any signs
    x, b, y = 0.7, [], 0.7
    for wk in w:  # b_k = −w_k·y_{k−1} puts z_k = 0, σ′(z_k) = ¼
        b.append(-wk * y)
        y = 0.5
    df = scalar_chain(w, b, x)
    np.testing.assert_allclose(df["z"], 0.0, atol=1e-15)
    np.testing.assert_allclose(np.abs(df["dC_db"]), df["bound_db"], rtol=1e-13)
    assert abs(df["dC_db"].iloc[0]) == pytest.approx(0.25**8 * np.prod(np.abs(w[1:])), rel=1e-13)


def test_quarter_per_layer_for_weights_of_mean_one():
    """The seed 003 argument: weights N(1, 0.5²) → each layer multiplies ∂J/∂y by at most ¼|w|."""
    rng = np.random.default_rng(3)
    r, chains = 10, 300
    log_ratios, totals = [], []
    for _ in range(chains):
        w = rng.normal(1.0, 0.5, size=r)
        b = rng.normal(0.0, 1.0, size=r)
        df = scalar_chain(w, b, rng.uniform(-1, 1))
        g = np.append(df.attrs["dC_dx"], df["dC_dy"].to_numpy())  # ∂J/∂y_0 … ∂J/∂y_r
        ratio = np.abs(g[:-1] / g[1:])  # |∂J/∂y_t| / |∂J/∂y_{t+1}| = |w_{t+1}| σ′(z_{t+1})
        np.testing.assert_allclose(ratio, np.abs(w) * df["dphi"].to_numpy(), rtol=1e-12)
        assert np.all(ratio <= 0.25 * np.abs(w) * (1 + 1e-12))
        log_ratios.append(np.log(ratio))
        totals.append(abs(df["dC_db"].iloc[0]))
        assert totals[-1] <= df["bound_db"].iloc[0] * (1 + 1e-12)
    mean_ratio = float(np.exp(np.mean(log_ratios)))  # geometric mean per layer
    mean_abs_w = float(np.exp(np.mean(np.log(np.abs(rng.normal(1.0, 0.5, size=100_000))))))
    assert mean_ratio < 0.25 * mean_abs_w and mean_ratio > 0.15
    assert float(np.exp(np.mean(np.log(totals)))) < 1e-6  # "10⁻⁶ after r = 10"


def float64_mlp(widths, acts, seed, init="xavier_normal", bias="normal(std=0.5)"):
    cfg = ModelConfig(hidden=tuple(widths[1:-1]), activation=tuple(acts), init=init, bias_init=bias)
    return build_model(cfg, widths[0], widths[-1], seed=seed).double()


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("reference", ["last_hidden", "output"])
def test_layer_bound_holds_on_random_mlps(seed, reference):
    g = torch.Generator().manual_seed(seed)
    acts = [("sigmoid",) * 4, ("tanh", "relu", "sigmoid", "gelu"), ("elu", "silu", "tanh", "leaky_relu")][seed % 3]
    model = float64_mlp([12, 9, 7, 11, 6, 4], acts, seed, init=["xavier_normal", "he_normal", "normal(std=0.5)", "orthogonal"][seed])
    x = torch.randn(64, 12, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (64,), generator=g)
    table = check_layer_bound(model, x, y, reference=reference)
    assert table["holds"].all(), table
    assert (table["tightness"] > 0).all()
    if reference == "last_hidden":
        assert table["factor"].iloc[-1] == 1.0 and table["max_ratio"].iloc[-1] == pytest.approx(1.0)


def test_layer_bound_factors_formula():
    ws = [torch.randn(5, 3, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64),
          torch.randn(6, 4, dtype=torch.float64), torch.randn(2, 6, dtype=torch.float64)]
    norms = [float(torch.linalg.matrix_norm(w, ord=2)) for w in ws]
    t = layer_bound_factors(ws, [0.25, 0.25, 0.25])
    # SPEC: ‖δ_l‖ ≤ (¼)^{L−l} Π_{k=l+1..L} ‖W_k‖₂ ‖δ_L‖
    assert t["factor"].tolist() == pytest.approx([0.25**2 * norms[1] * norms[2], 0.25 * norms[2], 1.0])
    t = layer_bound_factors(ws, [0.25, 1.0, 0.25], reference="output")
    assert t["factor"].tolist() == pytest.approx([0.25 * norms[1] * norms[2] * 0.25 * norms[3],
                                                 norms[2] * 0.25 * norms[3], 0.25 * norms[3]])
    with pytest.raises(ValueError):
        layer_bound_factors(ws, [0.25, 0.25])


def test_layer_bound_is_tight_for_a_width_one_sigmoid_mlp_at_zero_pre_activation():
    """Width-1 layers with z = 0 everywhere: every inequality in the chain is an equality."""
    model = MLP(1, [1] * 6, 1, activation="sigmoid").double()
    with torch.no_grad():
        y_prev = torch.tensor(0.3, dtype=torch.float64)
        for k, layer in enumerate(model.hidden_layers):
            w = 0.5 + 0.4 * k
            layer.linear.weight.fill_(w)
            layer.linear.bias.fill_(-w * float(y_prev))
            y_prev = torch.tensor(0.5, dtype=torch.float64)
    x = torch.full((3, 1), 0.3, dtype=torch.float64)
    t = check_layer_bound(model, x, torch.zeros(3, dtype=torch.long), loss=lambda z, y: (z.squeeze(1) - 2.0) ** 2)
    np.testing.assert_allclose(t["tightness"], 1.0, rtol=1e-12)
    assert t["factor"].iloc[0] == pytest.approx(0.25**5 * np.prod([0.5 + 0.4 * k for k in range(1, 6)]))


def test_bound_on_a_wide_sigmoid_network_is_loose_but_holds():
    model = float64_mlp([50, 200, 200, 200, 10], ["sigmoid"] * 3, seed=0, bias="zeros")
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(100, 50, generator=g, dtype=torch.float64), torch.randint(0, 10, (100,), generator=g)
    t = check_layer_bound(model, x, y)
    assert t["holds"].all()
    assert t["tightness"].iloc[0] < 0.5  # random W: δ is not aligned with the top singular vectors
    # the spectral norm of a Gaussian 200×200 W with σ_w² = 1 is ≈ 2
    assert model_bound_factors(model)["spec_norm_next"].iloc[0] == pytest.approx(2.0, rel=0.15)


def test_batch_norm_models_are_refused():
    model = MLP(4, [3, 3], 2, activation="sigmoid", batch_norm="before")
    with pytest.raises(ValueError, match="plain MLPs"):
        model_bound_factors(model)
