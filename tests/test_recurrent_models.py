"""Recurrent models: the written-out step equations agree with torch's fused modules; init by gate block."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vanishing.recurrent import CELLS, RecurrentConfig, build, recurrent_blocks, unroll
from vanishing.recurrent.models import SigmoidRNN, parameters_of


def _model(cell: str, task: str = "adding", hidden: int = 6, seed: int = 0, **kw):
    cfg = RecurrentConfig(task=task, length=12, cell=cell, hidden=hidden, seed=seed, **kw)
    return build(cfg).double()


@pytest.mark.parametrize("cell", CELLS)
def test_unroll_matches_the_fused_module(cell):
    torch.manual_seed(0)
    model = _model(cell, bias_init="normal(std=0.5)", recurrent_init="orthogonal(gain=1.5)")
    x = torch.randn(4, 12, 2, dtype=torch.float64)
    out, last = model.rnn(x)
    states, _ = unroll(cell, parameters_of(model, torch.float64), x)
    hs = torch.stack([s[0] for s in states], dim=1)
    torch.testing.assert_close(hs, out, rtol=1e-12, atol=1e-12)
    if cell == "lstm":
        torch.testing.assert_close(states[-1][1], last[1][0], rtol=1e-12, atol=1e-12)


def test_sigmoid_rnn_by_hand():
    """SigmoidRNN against a loop written from the equation h_t = σ(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)."""
    torch.manual_seed(1)
    m = SigmoidRNN(3, 5).double()
    with torch.no_grad():
        for p in m.parameters():
            p.normal_()
    x = torch.randn(2, 7, 3, dtype=torch.float64)
    out, last = m(x)
    W, U, b, c = (t.detach().numpy() for t in (m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0))
    h = np.zeros((2, 5))
    for t in range(7):
        h = 1 / (1 + np.exp(-(x[:, t].numpy() @ W.T + b + h @ U.T + c)))
        np.testing.assert_allclose(out[:, t].detach().numpy(), h, rtol=1e-12)
    np.testing.assert_allclose(last[0].detach().numpy(), h, rtol=1e-12)


def test_readout_shapes():
    x = torch.zeros(3, 12, 2, dtype=torch.float64)
    assert _model("gru")(x).shape == (3,)
    xc = torch.zeros(3, 12, 10, dtype=torch.float64)
    assert _model("lstm", task="copy")(xc).shape == (3, 3, 8)


@pytest.mark.parametrize("cell", CELLS)
def test_orthogonal_recurrent_blocks(cell):
    model = _model(cell, hidden=8, recurrent_init="orthogonal(gain=2.0)")
    for name, W in recurrent_blocks(model).items():
        torch.testing.assert_close(W @ W.T, 4.0 * torch.eye(8, dtype=W.dtype), rtol=0, atol=1e-5)  # float32 draw


def test_forget_bias_and_zero_biases():
    model = _model("lstm", hidden=5, forget_bias=2.5)
    b_ih, b_hh = model.rnn.bias_ih_l0.detach(), model.rnn.bias_hh_l0.detach()
    assert torch.all(b_ih[5:10] == 2.5) and torch.all(b_hh[5:10] == 0)
    assert torch.all(b_ih[:5] == 0) and torch.all(b_ih[10:] == 0) and torch.all(b_hh == 0)


def test_torch_default_init_bounds_and_determinism():
    cfg = dict(init="torch_default", recurrent_init="torch_default", bias_init="torch_default")
    m = _model("rnn_tanh", hidden=64, **cfg)
    bound = 1 / np.sqrt(64)
    W = m.rnn.weight_hh_l0.detach()
    assert W.abs().max() <= bound and W.abs().max() > 0.9 * bound
    assert W.var().item() == pytest.approx(bound**2 / 3, rel=0.1)  # U(±b) has variance b²/3
    same = _model("rnn_tanh", hidden=64, **cfg)
    other = _model("rnn_tanh", hidden=64, seed=1, **cfg)
    assert torch.equal(same.rnn.weight_hh_l0, m.rnn.weight_hh_l0)
    assert not torch.equal(other.rnn.weight_hh_l0, m.rnn.weight_hh_l0)
