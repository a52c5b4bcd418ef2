"""The time-step gradient probe against per-step autograd on tiny nets; its theory lines; the spectrum."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vanishing.recurrent import CELLS, RecurrentConfig, Task, build, decay_rate, generate, spectral_stats, time_gradients


def _setup(cell: str, task_name: str, T: int = 9, hidden: int = 5, seed: int = 0, **kw):
    cfg = RecurrentConfig(task=task_name, length=T, cell=cell, hidden=hidden, symbols=2, categories=4, seed=seed,
                          bias_init="normal(std=0.3)", recurrent_init="orthogonal(gain=1.3)", **kw)
    task = Task(task_name, T, 2, 4)
    model = build(cfg, task).double()
    x, y = generate(task, 6, "probe", seed)
    return model, task, x.double(), (y.double() if y.is_floating_point() else y)


def per_step_autograd(model, task, x, y) -> tuple[np.ndarray, np.ndarray | None]:
    """RMS_n ‖∂L_n/∂h_t‖ for every t by cutting the *fused* torch module at t.

    For each t: run ``model.rnn`` over the first t steps without a graph, make
    the state after step t a new leaf, run the module over the remaining
    steps from it, read out, and differentiate the summed loss with respect
    to the leaf. Independent of :func:`vanishing.recurrent.unroll`.
    """
    T, S = x.shape[1], task.readout_steps
    lstm = model.cell == "lstm"
    gh, gc = np.zeros(T), np.zeros(T)
    for t in range(1, T + 1):
        with torch.no_grad():
            before, state = model.rnn(x[:, :t])
        if lstm:
            # ∂L/∂h_t: cut at h_t (c_t held); ∂L/∂c_t: cut at c_t and recompute h_t = o_t ⊙ tanh(c_t),
            # o_t = σ(W_io x_t + b_io + W_ho h_{t−1} + b_ho), since c_t reaches the loss through h_t too
            h = state[0].clone().requires_grad_(True)
            c = state[1].clone().requires_grad_(True)
            H = h.shape[-1]
            r = model.rnn
            h_prev = before[:, t - 2] if t > 1 else torch.zeros_like(h[0])
            o = torch.sigmoid(x[:, t - 1] @ r.weight_ih_l0[3 * H:].T + r.bias_ih_l0[3 * H:]
                              + h_prev @ r.weight_hh_l0[3 * H:].T + r.bias_hh_l0[3 * H:]).detach()
            torch.testing.assert_close(o * torch.tanh(state[1][0]), state[0][0])
            gc[T - t] = _cut_grad(model, task, x, y, before, t, (o * torch.tanh(c[0])).unsqueeze(0), c, leaf=c)
            start = (h, state[1])
        else:
            h = state.clone().requires_grad_(True)
            start = h
        seq = [before[:, s] for s in range(t - 1)] + [h[0]]
        if t < T:
            after, _ = model.rnn(x[:, t:], start)
            seq += [after[:, s] for s in range(T - t)]
        answered = torch.stack(seq[T - S:], dim=1)
        loss = task.loss(model.readout(answered), y, reduction="sum")
        (g,) = torch.autograd.grad(loss, [h])
        gh[T - t] = float(g[0].pow(2).sum(dim=1).mean().sqrt())
    return gh, (gc if lstm else None)


def _cut_grad(model, task, x, y, before, t, h, c, leaf) -> float:
    """RMS_n ‖∂L_n/∂leaf‖ for an LSTM restarted at step t from the state (h, c)."""
    T, S = x.shape[1], task.readout_steps
    seq = [before[:, s] for s in range(t - 1)] + [h[0]]
    if t < T:
        after, _ = model.rnn(x[:, t:], (h, c))
        seq += [after[:, s] for s in range(T - t)]
    loss = task.loss(model.readout(torch.stack(seq[T - S:], dim=1)), y, reduction="sum")
    (g,) = torch.autograd.grad(loss, [leaf])
    return float(g[0].pow(2).sum(dim=1).mean().sqrt())


@pytest.mark.parametrize("task_name", ["adding", "copy"])
@pytest.mark.parametrize("cell", CELLS)
def test_probe_equals_per_step_autograd(cell, task_name):
    model, task, x, y = _setup(cell, task_name)
    col = time_gradients(model, task, x, y)
    gh, gc = per_step_autograd(model, task, x, y)
    np.testing.assert_allclose(col["grad_rms"], gh, rtol=1e-10, atol=1e-300)
    if gc is not None:
        np.testing.assert_allclose(col["cell_rms"], gc, rtol=1e-10)
    else:
        assert np.isnan(col["cell_rms"]).all()
    assert list(col["k"]) == list(range(task.length))


def test_per_step_autograd_tells_models_apart():
    """The comparison is able to fail: another seed's model gives other gradients."""
    model, task, x, y = _setup("rnn_tanh", "adding")
    other, *_ = _setup("rnn_tanh", "adding", seed=1)
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(time_gradients(model, task, x, y)["grad_rms"],
                                   per_step_autograd(other, task, x, y)[0], rtol=1e-6)


@pytest.mark.parametrize("task_name", ["adding", "copy"])
@pytest.mark.parametrize("cell", ["rnn_tanh", "rnn_sigmoid", "rnn_relu"])
def test_linearised_rnn_equals_autograd_and_bound_holds(cell, task_name):
    model, task, x, y = _setup(cell, task_name, T=30, hidden=7)
    col = time_gradients(model, task, x, y)
    np.testing.assert_allclose(col["linear"], col["grad_rms"], rtol=1e-9)
    k0 = task.readout_steps - 1
    ok = np.isfinite(col["bound"])
    assert ok[k0:].all() and not ok[:k0].any()
    assert np.all(col["grad_rms"][ok] <= col["bound"][ok] * (1 + 1e-12))
    assert col["meanfield"][k0] == col["grad_rms"][k0]


def test_meanfield_and_bound_first_factor_by_hand():
    """One step back from the answer: factor √(σ_w²·mean f′(a_T)²) and max|f′(a_T)|·‖W_hh‖₂, with a_T from a forward pass."""
    model, task, x, y = _setup("rnn_tanh", "adding", T=6, hidden=4)
    col = time_gradients(model, task, x, y)
    W = model.rnn.weight_hh_l0.detach()
    out, _ = model.rnn(x)
    h_prev = out[:, -2].detach()
    a_T = x[:, -1] @ model.rnn.weight_ih_l0.detach().T + model.rnn.bias_ih_l0.detach() \
        + h_prev @ W.T + model.rnn.bias_hh_l0.detach()
    d = 1 - torch.tanh(a_T) ** 2
    sigma2 = W.shape[0] * float((W**2).mean())
    assert col["meanfield"][1] == pytest.approx(col["grad_rms"][0] * math.sqrt(sigma2 * float((d**2).mean())), rel=1e-12)
    norm2 = float(torch.linalg.svdvals(W)[0])
    assert col["bound"][1] == pytest.approx(col["grad_rms"][0] * float(d.max()) * norm2, rel=1e-12)


def test_gate_path_lines_start_at_the_measurement():
    for cell in ("lstm", "gru"):
        model, task, x, y = _setup(cell, "adding", T=20)
        col = time_gradients(model, task, x, y)
        anchor = col["cell_rms"][0] if cell == "lstm" else col["grad_rms"][0]
        assert col["linear"][0] == pytest.approx(anchor)
        assert np.all(np.diff(col["linear"]) <= 1e-15)  # a product of gates in (0, 1) only shrinks
        assert np.isnan(col["meanfield"]).all() and np.isnan(col["bound"]).all()


def test_probe_resolves_gradients_below_float32():
    """200 sigmoid steps shrink the gradient far below float32's smallest normal; the float64 probe still sees it."""
    cfg = RecurrentConfig(task="adding", length=200, cell="rnn_sigmoid", hidden=8)
    task = Task("adding", 200)
    x, y = generate(task, 4, "probe", 0)
    col = time_gradients(build(cfg, task), task, x, y)
    assert 0 < col["grad_rms"][-1] < 1e-45
    assert decay_rate(col["grad_rms"]) < 0.25


def test_spectral_stats_against_numpy():
    model, *_ = _setup("lstm", "adding", hidden=6)
    s = spectral_stats(model)
    assert list(s["block"]) == ["i", "f", "g", "o"]
    W = model.rnn.weight_hh_l0.detach().numpy()
    for b in range(4):
        block = W[6 * b:6 * (b + 1)]
        assert s["radius"][b] == pytest.approx(np.abs(np.linalg.eigvals(block)).max(), rel=1e-10)
        assert s["norm2"][b] == pytest.approx(np.linalg.svd(block, compute_uv=False)[0], rel=1e-10)
        assert s["norm2"][b] == pytest.approx(1.3)  # orthogonal(gain=1.3)


def test_decay_rate():
    g = 3.0 * 0.5 ** np.arange(11)
    assert decay_rate(g) == pytest.approx(0.5)
    assert decay_rate(g, 2, 6) == pytest.approx(0.5)
    assert decay_rate(np.array([1.0, 0.0])) == 0.0
    assert math.isnan(decay_rate(np.array([0.0, 1.0])))
