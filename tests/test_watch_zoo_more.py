"""Issue 17's zoo, continued: a torch.compile'd model, gradient accumulation, bfloat16 autocast on the CPU — and the
nets built to vanish, explode, die or saturate, each with the verdict it was built for."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import vanishing

from test_watch_zoo import check_sensible


def _data(n=32, d=6, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randint(0, classes, (n,), generator=g)


def _mlp(d=6, width=16, classes=3):
    return nn.Sequential(nn.Linear(d, width), nn.Tanh(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, classes))


def _train(model, w, x, y, *, steps=2, lr=0.05):
    """The user's plain loop, inside the watch."""
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    with w:
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()


def test_torch_compiled_model_is_watched():
    torch.manual_seed(0)
    x, y = _data()
    model = torch.compile(_mlp())  # the default backend (inductor), as a user writes it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = vanishing.watch(model, (x, y), F.cross_entropy, every=1, unknown="skip")
    _train(model, w, x, y)
    d = check_sensible(model, w)
    assert len(d.layers) == 2  # both hidden Linear layers of the compiled module, by their full paths
    assert all(name.startswith("_orig_mod.") for name in w.layers)


def test_gradient_accumulation_counts_optimizer_steps_and_reads_the_accumulated_gradient():
    torch.manual_seed(0)
    x, y = _data(n=64)
    model = _mlp()
    w = vanishing.watch(model, (x[:32], y[:32]), F.cross_entropy, every=1, step_on="call")
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    expected = []
    with w:
        for step in range(3):
            opt.zero_grad()
            for micro in range(4):  # 4 micro-batches of 16 per optimizer step
                sl = slice(16 * micro, 16 * (micro + 1))
                (F.cross_entropy(model(x[sl]), y[sl]) / 4).backward()
            expected.append(float(model[0].weight.grad.norm()))  # the accumulated gradient, by hand
            w.step()
            opt.step()
    assert w.steps == 3 and w.snapshot_steps[0] == 0
    g = w.tables()["grad_norms"]
    got = g[g["layer"] == "0"].sort_values("step")["weight_l2"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    check_sensible(model, w, steps=3)


def test_bfloat16_autocast_on_the_cpu():
    torch.manual_seed(0)
    x, y = _data()
    model = _mlp()
    w = vanishing.watch(model, (x, y), F.cross_entropy, every=1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    by_hand = []
    with w:
        for _ in range(2):
            opt.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = F.cross_entropy(model(x), y)
            loss.backward()
            by_hand.append(float(model[2].weight.grad.norm()))  # the gradient the bf16 forward produced
            opt.step()
    check_sensible(model, w)
    g = w.tables()["grad_norms"]
    np.testing.assert_allclose(g[g["layer"] == "2"].sort_values("step")["weight_l2"].to_numpy(), by_hand, rtol=1e-6)


# --------------------------------------------------------------------------- built to fail, each its own way


def _deep(act, width=32, depth=10, init=None, bias=None):
    layers, d = [], 6
    for _ in range(depth):
        lin = nn.Linear(d, width)
        if init is not None:
            init(lin.weight)
        if bias is not None:
            nn.init.constant_(lin.bias, bias)
        layers += [lin, act()]
        d = width
    return nn.Sequential(*layers, nn.Linear(width, 3))


BUILT = {
    # sigmoid, torch default init: √χ₁ ≈ 0.14 per layer
    "vanishing": lambda: _deep(nn.Sigmoid),
    # linear units with weights of std 3/√fan_in: δ grows ×3 per layer going back
    "exploding": lambda: _deep(nn.Identity, init=lambda w: nn.init.normal_(w, std=3 / w.shape[1] ** 0.5), depth=6),
    # ReLU with a large negative bias: most units never fire
    "dead_units": lambda: _deep(nn.ReLU, bias=-3.0, depth=4),
    # tanh with large weights: pre-activations far in the flat tails
    "saturated": lambda: _deep(nn.Tanh, init=lambda w: nn.init.normal_(w, std=4.0), depth=3),
}


@pytest.mark.parametrize("kind", list(BUILT))
def test_nets_built_to_fail_get_their_verdict(kind):
    torch.manual_seed(0)
    x, y = _data(n=128)
    model = BUILT[kind]()
    w = vanishing.watch(model, (x, y), F.cross_entropy, every=1)
    _train(model, w, x, y, steps=1, lr=1e-4)
    d = w.diagnose()
    assert kind in d.kinds, str(d)
    assert "healthy" not in d.kinds
