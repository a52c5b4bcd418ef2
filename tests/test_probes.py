"""Every probe against a brute-force twin (Python loops over samples and nodes, per-example autograd).

The fast probes run as they do in training — through ProbeCallback inside
``fit`` — and a spy callback keeps what the twin needs (the batch, the
gradients, the weights before and after the step, the trained model); the
twin recomputes each number from scratch with loops and one autograd pass
per example. Probe-set probes are checked with batch norm (eval mode) too.
"""

from __future__ import annotations

import copy
import math
import statistics

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vanishing import activations
from vanishing.config import RunConfig, resolve, with_overrides
from vanishing.data import Dataset
from vanishing.losses import make_loss
from vanishing.model import build_model
from vanishing.probes import (
    ProbeCallback,
    at,
    dead_mask,
    every,
    inactive_fraction,
    layer_sparsity,
    log_spaced,
    node_stats,
    samples_by_node,
)
from vanishing.probes.schedules import epoch_schedule
from vanishing.train import Callback, MemorySink, fit

N_CLASSES = 3


def blobs(n_train=120, n_test=60, dim=6, seed=0) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(N_CLASSES, dim, generator=g) * 2

    def draw(n):
        y = torch.arange(n) % N_CLASSES
        return centers[y] + torch.randn(n, dim, generator=g), y

    xtr, ytr = draw(n_train)
    xte, yte = draw(n_test)
    return Dataset("blobs", xtr, ytr, xte, yte, xte, yte, tuple("abc"), True, "synthetic blobs")


def config(**overrides):
    base = {
        "model.hidden": [5, 4],
        "train.epochs": 2,
        "train.batch_size": 16,
        "optim.optimizer": "sgd(momentum=0.9)",
        "optim.lr": 0.1,
        "probes.enabled": ["none"],
    }
    base.update(overrides)
    return resolve(with_overrides(RunConfig(), base))


class Spy(Callback):
    """Keeps, at the chosen steps, the batch, a copy of the model before the step, grads and weights."""

    def __init__(self, steps):
        self.steps = set(steps)
        self.seen = {}

    def wants_intermediates(self, step):
        return step in self.steps

    def on_after_backward(self, ctx, info):
        if info.step in self.steps:
            lins = [lin for _, lin in ctx.model.named_linears()]
            self.seen[info.step] = {
                "x": info.x.clone(),
                "y": info.y.clone(),
                "model": copy.deepcopy(ctx.model),
                "wgrad": [lin.weight.grad.clone() for lin in lins],
                "bgrad": [lin.bias.grad.clone() for lin in lins],
                "before": [lin.weight.detach().clone() for lin in lins],
            }

    def on_step_end(self, ctx, info):
        if info.step in self.steps:
            self.seen[info.step]["after"] = [lin.weight.detach().clone() for _, lin in ctx.model.named_linears()]


def table_rows(table, **where):
    keep = np.ones(len(next(iter(table.values()))), dtype=bool)
    for key, value in where.items():
        keep &= table[key] == value
    return {k: v[keep] for k, v in table.items()}


def loop_l2(t):
    return math.sqrt(sum(float(v) ** 2 for v in t.reshape(-1)))


def loop_mean_abs(t):
    flat = t.reshape(-1)
    return sum(abs(float(v)) for v in flat) / len(flat)


# --------------------------------------------------------------------------- per-step probes


def test_step_probes_equal_brute_force():
    data, cfg = blobs(), config()
    steps = [1, 4, 9, 12]  # 8 steps per epoch: both epochs
    probes = ["grad_norms(every=1)", "backprop_signal_batch(every=1)", "update_ratio(every=1)"]
    sink, spy = MemorySink(), Spy(steps)
    fit(cfg, data, sink, callbacks=[ProbeCallback(probes, sink), spy])
    assert len(sink.probes["grad_norms"]["step"]) == 2 * 8 * 3  # every step, 3 layers with weights
    loss = make_loss("ce", "softmax", N_CLASSES)
    names = ["hidden1", "hidden2", "output"]
    for step, seen in spy.seen.items():
        gn = table_rows(sink.probes["grad_norms"], step=step)
        assert list(gn["layer"]) == names and set(gn["epoch"]) == {(step - 1) // 8 + 1}
        for i in range(3):
            assert gn["weight_l2"][i] == pytest.approx(loop_l2(seen["wgrad"][i]), rel=1e-5)
            assert gn["weight_mean_abs"][i] == pytest.approx(loop_mean_abs(seen["wgrad"][i]), rel=1e-5)
            assert gn["bias_l2"][i] == pytest.approx(loop_l2(seen["bgrad"][i]), rel=1e-5)
            assert gn["bias_mean_abs"][i] == pytest.approx(loop_mean_abs(seen["bgrad"][i]), rel=1e-5)

        ur = table_rows(sink.probes["update_ratio"], step=step)
        for i in range(3):
            diff = seen["after"][i] - seen["before"][i]
            assert ur["update_norm"][i] == pytest.approx(loop_l2(diff), rel=1e-4)
            assert ur["weight_norm"][i] == pytest.approx(loop_l2(seen["before"][i]), rel=1e-5)
            assert ur["ratio"][i] == pytest.approx(loop_l2(diff) / loop_l2(seen["before"][i]), rel=1e-4)

        # mini-batch δ: per-example autograd, one example at a time, on the model before the step
        model = seen["model"]
        per_example = [[] for _ in names[:2]]
        for xn, yn in zip(seen["x"], seen["y"]):
            z, pre, _ = model.forward_with_intermediates(xn[None])
            grads = torch.autograd.grad(loss(z, yn[None]), pre)
            for i, g in enumerate(grads):
                per_example[i].append(g[0])
        bs = table_rows(sink.probes["backprop_signal_batch"], step=step)
        assert list(bs["layer"]) == names[:2]
        for i, deltas in enumerate(per_example):
            rms = math.sqrt(sum(loop_l2(d) ** 2 for d in deltas) / len(deltas))
            mean_vec = [sum(float(d[j]) for d in deltas) / len(deltas) for j in range(len(deltas[0]))]
            assert bs["delta_rms"][i] == pytest.approx(rms, rel=1e-4)
            assert bs["delta_mean_norm"][i] == pytest.approx(math.sqrt(sum(v * v for v in mean_vec)), rel=1e-4, abs=1e-7)


# --------------------------------------------------------------------------- probe-set probes


def brute_force_probe_set(model, x, y, loss):
    """Per example, alone, in eval mode: a, f(a) and δ_n = ∂E_n/∂a_n of each hidden layer (one backward each)."""
    model.eval()
    layers = model.hidden_layers
    pre = [[] for _ in layers]
    out = [[] for _ in layers]
    delta = [[] for _ in layers]
    for xn, yn in zip(x, y):
        z, a_list, _ = model.forward_with_intermediates(xn[None])
        grads = torch.autograd.grad(loss.per_example(z, yn[None]).sum(), a_list)
        for i, (layer, a, g) in enumerate(zip(layers, a_list, grads)):
            pre[i].append(a[0].detach())
            out[i].append(layer.act(a.detach())[0])
            delta[i].append(g[0])
    return pre, out, delta


def loop_quantile(values, q):
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (pos - lo) * (s[hi] - s[lo])


@pytest.mark.parametrize(
    "activation,batch_norm",
    [("relu", "off"), ("relu", "before"), ("sigmoid", "after"), ("tanh", "off"), ("relu6", "off")],
)
def test_probe_set_probes_equal_brute_force(activation, batch_norm):
    data = blobs()
    cfg = config(**{"model.activation": activation, "model.batch_norm": batch_norm, "train.epochs": 2})
    sink = MemorySink()
    probes = [
        "activation_stats(epochs='init,last', bins=7)",
        "sparsity(epochs='init,last')",
        "dead_units(epochs='init,last')",
        "saturation(epochs='init,last', threshold=0.2)",
        "backprop_signal(epochs='init,last')",
        "jacobian_spectrum(epochs='init,last', examples=4)",
    ]
    cb = ProbeCallback(probes, sink, per_class=5, split="train", seed=3)
    out = fit(cfg, data, sink, callbacks=[cb])
    ps = cb.probe_set
    assert len(ps) == 5 * N_CLASSES and ps.y.tolist() == sorted(ps.y.tolist())
    assert torch.equal(ps.x, data.x_train[ps.indices])
    loss = make_loss("ce", "softmax", N_CLASSES)
    init_model = build_model(cfg.model, data.n_features, N_CLASSES, cfg.seed)
    act = activations.get(activation)
    for epoch, model in ((0, init_model), (2, out.model)):
        pre, outs, deltas = brute_force_probe_set(model, ps.x, ps.y, loss)
        labels = ps.y.tolist()
        for li, layer in enumerate(model.layer_names):
            width = len(outs[li][0])
            n = len(labels)
            # activation_stats: per node and class, from the list of that class's values
            st_rows = table_rows(sink.probes["activation_stats"], epoch=epoch, layer=layer)
            for j in range(width):
                for c in [*range(N_CLASSES), -1]:
                    vals = [float(outs[li][k][j]) for k in range(n) if c == -1 or labels[k] == c]
                    row = {k: v[(st_rows["node"] == j) & (st_rows["class"] == c)] for k, v in st_rows.items()}
                    assert row["count"][0] == len(vals)
                    assert row["mean"][0] == pytest.approx(statistics.fmean(vals), rel=1e-4, abs=1e-6)
                    assert row["std"][0] == pytest.approx(statistics.stdev(vals), rel=1e-3, abs=1e-6)
                    for col, q in (("q05", 0.05), ("q25", 0.25), ("median", 0.5), ("q75", 0.75), ("q95", 0.95)):
                        assert row[col][0] == pytest.approx(loop_quantile(vals, q), rel=1e-4, abs=1e-6), (col, j, c)
            # histogram over the layer
            hist = table_rows(sink.probes["activation_hist"], epoch=epoch, layer=layer)
            all_vals = [float(outs[li][k][j]) for k in range(n) for j in range(width)]
            assert hist["count"].sum() == len(all_vals)
            lo, hi = hist["lo"][0], hist["hi"][-1]
            if math.isfinite(act.lo) and math.isfinite(act.hi):
                assert (lo, hi) == (act.lo, act.hi)
            for b in range(7):
                inside = sum(1 for v in all_vals if hist["lo"][b] <= v < hist["hi"][b] or (b == 6 and v == hi))
                assert abs(int(hist["count"][b]) - inside) <= 1  # float edge rounding may move one value
            # sparsity and dead units: count inactive samples node by node
            inactive = [sum(1 for k in range(n) if float(outs[li][k][j]) <= 0) for j in range(width)]
            sp = table_rows(sink.probes["sparsity"], epoch=epoch, layer=layer)
            du = table_rows(sink.probes["dead_units"], epoch=epoch, layer=layer)
            if act.hard_zero:
                assert sp["sparsity"][0] == pytest.approx(sum(c / n for c in inactive) / width, rel=1e-6)
                assert du["dead"][0] == sum(1 for c in inactive if c == n)
                assert du["fraction"][0] == pytest.approx(du["dead"][0] / width)
            else:
                assert math.isnan(sp["sparsity"][0]) and not sp["defined"][0] and math.isnan(du["dead"][0])
            # saturation: pair by pair, with the activation's own f′
            sat = table_rows(sink.probes["saturation"], epoch=epoch, layer=layer)
            if act.saturates:
                count = sum(
                    1 for k in range(n) for j in range(width)
                    if abs(float(act.df(pre[li][k][j]))) < 0.2 * act.max_abs_df
                )
                assert sat["saturation"][0] == pytest.approx(count / (n * width), abs=1e-9)
            else:
                assert math.isnan(sat["saturation"][0]) and not sat["defined"][0]
            # per-example δ, one backward per example
            bp = table_rows(sink.probes["backprop_signal"], epoch=epoch, layer=layer)
            norms = [loop_l2(d) for d in deltas[li]]
            assert bp["rms"][0] == pytest.approx(math.sqrt(sum(v * v for v in norms) / n), rel=1e-4)
            assert bp["mean_norm"][0] == pytest.approx(statistics.fmean(norms), rel=1e-4)
            assert bp["median_norm"][0] == pytest.approx(statistics.median(norms), rel=1e-4)
            assert bp["rms_node"][0] == pytest.approx(math.sqrt(sum(v * v for v in norms) / (n * width)), rel=1e-4)
        # Jacobian spectrum: per-example autograd Jacobian of x → h_L, then its singular values
        js = table_rows(sink.probes["jacobian_spectrum"], epoch=epoch)
        chosen = sorted(set(js["example"].tolist()), key=js["example"].tolist().index)
        assert len(chosen) == 4 and [labels[i] for i in chosen] == [0, 1, 2, 0]  # class by class
        model.eval()

        def hidden(v):
            for layer in model.hidden_layers:
                v = layer(v)
            return v

        for ex in chosen:
            jac = torch.autograd.functional.jacobian(lambda v: hidden(v[None])[0], ps.x[ex])
            expected = torch.linalg.svdvals(jac.double()).tolist()
            got = table_rows(js, example=ex)["singular_value"].tolist()
            assert got == pytest.approx(expected, rel=1e-4, abs=1e-6)


def test_snapshots_follow_the_schedule_and_leave_training_untouched():
    data = blobs()
    cfg = config(**{"train.epochs": 5, "model.batch_norm": "before"})
    plain = fit(cfg, data, MemorySink())
    sink = MemorySink()
    probed = fit(cfg, data, sink, callbacks=[ProbeCallback(["full"], sink, per_class=4)])
    strip = lambda hs: [{k: v for k, v in h.items() if not k.endswith("time_s")} for h in hs]
    assert strip(plain.history) == strip(probed.history)  # probes never change the numbers
    assert all(torch.equal(a, b) for a, b in zip(plain.model.state_dict().values(), probed.model.state_dict().values()))
    assert sorted(set(sink.probes["sparsity"]["epoch"])) == [0, 1, 2, 3, 5]  # 'log' with k = 5 over 5 epochs
    assert sorted(set(sink.probes["jacobian_spectrum"]["epoch"])) == [0]
    assert sorted(set(sink.probes["update_ratio"]["step"])) == list(range(10, 41, 10))


# --------------------------------------------------------------------------- schedules and invariants


def test_schedules():
    assert every(3).select(1, 10) == [3, 6, 9] and every(1)(7)
    assert sorted(log_spaced(1, 10, 5).indices) == [1, 2, 3, 6, 10]
    assert sorted(log_spaced(1, 1000, 4).indices) == [1, 10, 100, 1000]
    assert (at(0) | every(5)).select(0, 12) == [0, 5, 10]
    assert epoch_schedule("log", 10).select(0, 10) == [0, 1, 2, 3, 6, 10]
    assert epoch_schedule("init,last,4", 10).select(0, 10) == [0, 4, 10]
    assert epoch_schedule("all", 3).select(0, 3) == [0, 1, 2, 3]


@settings(max_examples=40, deadline=None)
@given(a=st.integers(1, 500), span=st.integers(0, 5000), k=st.integers(1, 30))
def test_log_spaced_holds_its_ends_and_at_most_k_points(a, span, k):
    points = sorted(log_spaced(a, a + span, k).indices)
    assert points[-1] == a + span and len(points) <= max(k, 2)
    assert k == 1 or span == 0 or points[0] == a


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 12),
    width=st.integers(1, 5),
    seed=st.integers(0, 10_000),
    zero_share=st.floats(0.0, 1.0),
)
def test_node_statistics_invariants(n, width, seed, zero_share):
    g = torch.Generator().manual_seed(seed)
    values = torch.randn(n, width, generator=g)
    values[torch.rand(n, width, generator=g) < zero_share] = 0.0
    labels = torch.randint(0, 3, (n,), generator=g)
    stats, counts = node_stats(values, labels, 3)
    assert counts.tolist()[:3] == torch.bincount(labels, minlength=3).tolist() and counts[3] == n
    pooled = stats[3]
    assert torch.all(pooled[2] <= pooled[3] + 1e-6) and torch.all(pooled[3] <= pooled[4] + 1e-6)
    assert torch.all(pooled[4] <= pooled[5] + 1e-6) and torch.all(pooled[5] <= pooled[6] + 1e-6)
    assert torch.all(values.min(0).values <= pooled[0] + 1e-6) and torch.all(pooled[0] <= values.max(0).values + 1e-6)
    frac = inactive_fraction(values)
    assert torch.all((0 <= frac) & (frac <= 1)) and 0 <= float(layer_sparsity(values)) <= 1
    assert torch.equal(dead_mask(values), frac == 1.0)


def test_conv_channels_are_nodes():
    x = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)  # N=2, C=3, 2×2
    flat, labels = samples_by_node(x, torch.tensor([0, 1]))
    assert flat.shape == (8, 3) and labels.tolist() == [0] * 4 + [1] * 4
    assert flat[:, 1].tolist() == x[:, 1].reshape(-1).tolist()
