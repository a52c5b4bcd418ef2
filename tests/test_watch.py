"""``vanishing.watch`` on arbitrary modules: every watched quantity against a brute-force twin, and its behaviour.

The twins recompute each number from scratch — one forward and one autograd
pass per example on a copy of the weights the snapshot saw, then Python loops
over examples, nodes (conv: channels × positions) and classes — and the
per-step gradient norms from the ``.grad`` a spy kept. Float64 models, so
agreement is to rounding.
"""

from __future__ import annotations

import math
import statistics
import warnings

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import vanishing
from vanishing.watch import LayerRule, LossReductionError, UnknownLayerError, Watch, register_layer

N_CLASSES = 3


def loop_l2(t):
    return math.sqrt(sum(float(v) ** 2 for v in t.reshape(-1)))


def loop_mean_abs(t):
    flat = t.reshape(-1)
    return sum(abs(float(v)) for v in flat) / len(flat)


def loop_quantile(values, q):
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (pos - lo) * (s[hi] - s[lo])


def rows(df, **where):
    for key, value in where.items():
        df = df[df[key] == value]
    return df


def blobs(n, shape, seed):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(N_CLASSES, *shape, generator=g) * 1.5
    y = torch.arange(n) % N_CLASSES
    return (centers[y] + torch.randn(n, *shape, generator=g)).double(), y


def small_mlp():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(5, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Dropout(0.3),  # "0": pre = the batch-norm output
        nn.Linear(6, 4), nn.ReLU(),  # "4"
        nn.Linear(4, N_CLASSES),  # "6": the output layer
    ).double()


def small_cnn():
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(),  # "0": node = channel
        nn.Conv2d(3, 3, 3), nn.Sigmoid(),  # "2"
        nn.Flatten(), nn.Linear(3 * 4 * 4, N_CLASSES),  # "5"
    ).double()


def brute_force(model, x, y, loss_one, pairs):
    """Per example alone, eval mode: δ_n at each weight layer's output, and its activation's input and output."""
    model.eval()
    got = {w: {"delta": [], "pre": [], "out": []} for w in pairs}
    for n in range(len(x)):
        store = {}
        hooks = []
        for w, a in pairs.items():
            hooks.append(model.get_submodule(w).register_forward_hook(lambda m, i, o, w=w, store=store: store.__setitem__(w, o)))
            hooks.append(model.get_submodule(a).register_forward_hook(
                lambda m, i, o, w=w, store=store: store.__setitem__("act " + w, (i[0].detach().clone(), o.detach().clone()))))
        loss = loss_one(model(x[n:n + 1]), y[n:n + 1])
        grads = torch.autograd.grad(loss, [store[w] for w in pairs])
        for h in hooks:
            h.remove()
        for (w, _), g in zip(pairs.items(), grads):
            got[w]["delta"].append(g[0])
            got[w]["pre"].append(store["act " + w][0][0])
            got[w]["out"].append(store["act " + w][1][0])
    return got


def node_values(samples, j):
    """Every value of node j over the examples: unit j (vectors) or channel j at every position (images)."""
    return [float(v) for s in samples for v in s[j].reshape(-1)]


def check_snapshot(tables, step, twin, labels, acts):
    for layer, t in twin.items():
        n = len(t["delta"])
        # per-example δ
        bp = rows(tables["backprop_signal"], epoch=step, layer=layer)
        norms = [loop_l2(d) for d in t["delta"]]
        width = t["delta"][0].numel()
        assert bp["rms"].iloc[0] == pytest.approx(math.sqrt(sum(v * v for v in norms) / n), rel=1e-6)
        assert bp["mean_norm"].iloc[0] == pytest.approx(statistics.fmean(norms), rel=1e-6)
        assert bp["median_norm"].iloc[0] == pytest.approx(statistics.median(norms), rel=1e-6)
        assert bp["rms_node"].iloc[0] == pytest.approx(math.sqrt(sum(v * v for v in norms) / (n * width)), rel=1e-6)
        assert bp["n_samples"].iloc[0] == n
        # activation statistics per node (channel) and class
        nodes = t["out"][0].shape[0]
        st = rows(tables["activation_stats"], epoch=step, layer=layer)
        for j in range(nodes):
            for c in [*range(N_CLASSES), -1]:
                vals = node_values([o for o, lab in zip(t["out"], labels) if c == -1 or lab == c], j)
                r = rows(st, node=j, **{"class": c})
                assert r["count"].iloc[0] == len(vals)
                assert r["mean"].iloc[0] == pytest.approx(statistics.fmean(vals), rel=1e-5, abs=1e-6)
                assert r["std"].iloc[0] == pytest.approx(statistics.stdev(vals), rel=1e-5, abs=1e-6)
                for col, q in (("q05", 0.05), ("q25", 0.25), ("median", 0.5), ("q75", 0.75), ("q95", 0.95)):
                    assert r[col].iloc[0] == pytest.approx(loop_quantile(vals, q), rel=1e-5, abs=1e-6)
        hist = rows(tables["activation_hist"], epoch=step, layer=layer)
        assert hist["count"].sum() == sum(o.numel() for o in t["out"])
        # sparsity, dead units, saturation, node by node and pair by pair
        act = acts[layer]
        inactive = [sum(1 for v in node_values(t["out"], j) if v <= 0) for j in range(nodes)]
        per_node = len(node_values(t["out"], 0))
        sp = rows(tables["sparsity"], epoch=step, layer=layer)
        du = rows(tables["dead_units"], epoch=step, layer=layer)
        sat = rows(tables["saturation"], epoch=step, layer=layer)
        if act == "relu":
            assert sp["sparsity"].iloc[0] == pytest.approx(sum(c / per_node for c in inactive) / nodes, rel=1e-9)
            assert du["dead"].iloc[0] == sum(1 for c in inactive if c == per_node) and du["width"].iloc[0] == nodes
            assert not sat["defined"].iloc[0]
        else:
            df = {"tanh": lambda a: 1 - math.tanh(a) ** 2, "sigmoid": lambda a: 1 / (2 + math.exp(a) + math.exp(-a))}[act]
            top = {"tanh": 1.0, "sigmoid": 0.25}[act]
            pre = [float(v) for p in t["pre"] for v in p.reshape(-1)]
            count = sum(1 for a in pre if abs(df(a)) < 0.05 * top)
            assert sat["saturation"].iloc[0] == pytest.approx(count / len(pre), abs=1e-12)
            assert not sp["defined"].iloc[0] and not du["defined"].iloc[0]


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_watched_quantities_equal_brute_force(kind):
    if kind == "mlp":
        model, (x, y) = small_mlp(), blobs(24, (5,), 0)
        pairs, acts, loss_fn = {"0": "2", "4": "5"}, {"0": "tanh", "4": "relu"}, nn.CrossEntropyLoss()
    else:
        model, (x, y) = small_cnn(), blobs(9, (2, 6, 6), 1)
        pairs, acts, loss_fn = {"0": "1", "2": "3"}, {"0": "relu", "2": "sigmoid"}, F.cross_entropy
    xt, yt = blobs(64, tuple(x.shape[1:]), 7)
    opt = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.5)
    states, spied = {0: {k: v.clone() for k, v in model.state_dict().items()}}, {}
    w = vanishing.watch(model, probe_batch=(x, y), loss_fn=loss_fn, every=3)
    with w:
        for step in range(1, 7):
            xb, yb = xt[8 * step:8 * step + 8], yt[8 * step:8 * step + 8]
            opt.zero_grad()
            loss_fn(model(xb), yb).backward()
            spied[step] = [(model.get_submodule(n).weight.grad.clone(), model.get_submodule(n).bias.grad.clone()) for n in w.layers]
            opt.step()
            states[step] = {k: v.clone() for k, v in model.state_dict().items()}
    assert w.hidden == list(pairs) and w.output_layer == w.layers[-1]
    assert w.activations == acts and w.snapshot_steps == [0, 3, 6]
    tables = w.tables()
    # per-step gradient norms = the .grad of that step, by loops
    gn = tables["grad_norms"]
    assert sorted(set(gn["step"])) == list(range(1, 7)) and (gn["epoch"] == gn["step"]).all()
    for step, grads in spied.items():
        r = rows(gn, step=step)
        assert list(r["layer"]) == w.layers
        for i, (gw, gb) in enumerate(grads):
            assert r["weight_l2"].iloc[i] == pytest.approx(loop_l2(gw), rel=1e-6)
            assert r["weight_mean_abs"].iloc[i] == pytest.approx(loop_mean_abs(gw), rel=1e-6)
            assert r["bias_l2"].iloc[i] == pytest.approx(loop_l2(gb), rel=1e-6)
            assert r["bias_mean_abs"].iloc[i] == pytest.approx(loop_mean_abs(gb), rel=1e-6)
    # snapshots: on the weights of that step, per example alone (E_n = the loss on a batch of one)
    twin_model = small_mlp() if kind == "mlp" else small_cnn()
    for step in (0, 3, 6):
        twin_model.load_state_dict(states[step])
        twin = brute_force(twin_model, x, y, loss_fn, pairs)
        check_snapshot(tables, step, twin, y.tolist(), acts)


def test_step_on_call_matches_the_backward_hook_and_training_is_untouched():
    x, y = blobs(30, (5,), 3)
    xt, yt = blobs(80, (5,), 4)

    def train(mode):
        model = small_mlp()  # batch norm and dropout: running statistics and the RNG must not be touched
        opt = torch.optim.SGD(model.parameters(), lr=0.2)
        torch.manual_seed(5)
        w = vanishing.watch(model, (x, y), F.cross_entropy, every=2, step_on=mode) if mode else None
        for step in range(8):
            xb, yb = xt[10 * step % 80:10 * step % 80 + 10], yt[10 * step % 80:10 * step % 80 + 10]
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
            if mode == "call":
                w.step()
        if w is not None:
            w.close()
        return model, w

    plain, _ = train(None)
    hooked, wb = train("backward")
    called, wc = train("call")
    for a, b, c in zip(plain.state_dict().values(), hooked.state_dict().values(), called.state_dict().values()):
        assert torch.equal(a, b) and torch.equal(a, c)
    assert wb.snapshot_steps == wc.snapshot_steps == [0, 2, 4, 6, 8]
    tb, tc = wb.tables(), wc.tables()
    for name in ("grad_norms", "backprop_signal", "saturation", "sparsity", "activation_stats"):
        assert tb[name].equals(tc[name]), name
    assert not hooked._forward_pre_hooks  # close() removed the hooks
    with pytest.raises(RuntimeError, match="step_on='call'"):
        wb.step()


# --------------------------------------------------------------------------- the must-show diagnoses


def deep_mlp(act, he, depth=8, width=48):
    layers, d = [], 16
    for _ in range(depth):
        lin = nn.Linear(d, width)
        if he:
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
            nn.init.zeros_(lin.bias)
        layers += [lin, act()]
        d = width
    return nn.Sequential(*layers, nn.Linear(d, 4))


def deep_cnn(act, he, depth=6, ch=12):
    layers, c = [], 1
    for _ in range(depth):
        conv = nn.Conv2d(c, ch, 3, padding=1)
        if he:
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        layers += [conv, act()]
        c = ch
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(ch, 4))


def train_watched(model, shape, steps=300, lr=0.05, seed=0):
    g = torch.Generator().manual_seed(seed)
    protos = torch.randn(4, *shape, generator=g)

    def draw(n):
        y = torch.randint(0, 4, (n,), generator=g)
        return protos[y] + 0.7 * torch.randn(n, *shape, generator=g), y

    opt = torch.optim.SGD(model.parameters(), lr=lr)
    with vanishing.watch(model, probe_batch=draw(128), loss_fn=F.cross_entropy, every=100) as w:
        for _ in range(steps):  # the user's loop, untouched
            xb, yb = draw(32)
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
    return w


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_deep_sigmoid_net_is_diagnosed_vanishing_and_relu_he_is_not(kind):
    torch.manual_seed(0)
    build, shape = (deep_mlp, (16,)) if kind == "mlp" else (deep_cnn, (1, 8, 8))
    w = train_watched(build(nn.Sigmoid, he=False), shape)
    d = w.diagnose()
    assert w.steps == 300 and w.snapshot_steps == [0, 100, 200, 300] and d.snapshot == 300
    v = d.verdict("vanishing")
    assert v is not None, str(d)
    assert v.layers[:2] == w.hidden[:2]  # it names the first layers
    assert v.evidence["geometric_mean_ratio"] < 0.3  # sigmoid, torch default init: √χ ≈ 0.14
    assert v.remedies and any("ReLU" in r for r in v.remedies) and any("residual" in r for r in v.remedies)
    text = str(d)
    assert "VANISHING" in text and w.hidden[0] in text
    torch.manual_seed(0)
    w = train_watched(build(nn.ReLU, he=True), shape)
    d = w.diagnose()
    assert "vanishing" not in d.kinds, str(d)
    assert 0.5 <= d.geometric_mean_ratio <= 2.0


class Block(nn.Module):
    """A torchvision-style basic block: in-place ReLU, batch norm, ``out += x``."""

    def __init__(self, c):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += x
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self, inplace=True):
        super().__init__()
        self.stem = nn.Conv2d(1, 6, 3, padding=1)
        self.act = nn.ReLU(inplace=inplace)  # in place on the stem's own output
        self.block = Block(6)
        self.block.relu.inplace = inplace
        self.head = nn.Linear(6, 4)

    def forward(self, x):
        return self.head(self.block(self.act(self.stem(x))).mean(dim=(2, 3)))


def test_a_model_with_a_residual_block_is_watched():
    torch.manual_seed(0)
    model = ResNet()
    w = train_watched(model, (1, 8, 8), steps=60, lr=0.05)
    assert w.hidden == ["stem", "block.conv1", "block.conv2"] and w.output_layer == "head"
    assert w.activation_module == {"stem": "act", "block.conv1": "block.relu", "block.conv2": "block.relu"}
    assert set(w.activations.values()) == {"relu"}
    tables = w.tables()
    assert set(tables["backprop_signal"]["layer"]) == set(w.hidden)
    assert (tables["backprop_signal"]["rms"] > 0).all()
    d = w.diagnose()
    assert d.kinds and set(d.kinds) <= {"healthy", "dead_units", "saturated", "exploding", "vanishing"}
    assert list(d.layers["layer"]) == w.hidden
    # in-place ReLUs (on the stem's output, on bn1's, on bn2(conv2) + x) change nothing that is measured:
    # the same weights without in-place operations give the same δ, activations and saturation
    twin = ResNet(inplace=False)
    twin.load_state_dict(model.state_dict())
    t2 = vanishing.watch(twin, (w.x, w.y), F.cross_entropy).tables()
    for name in ("backprop_signal", "activation_stats", "sparsity", "dead_units"):
        a = rows(tables[name], epoch=60).drop(columns="epoch").reset_index(drop=True)
        b = rows(t2[name], epoch=0).drop(columns="epoch").reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-5)


# --------------------------------------------------------------------------- no host sync per step

SYNCING = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__")


class SyncDetector:
    """Counts tensor → host conversions made while ``active`` (patched onto torch.Tensor), as in test_probes_run."""

    def __init__(self, monkeypatch):
        self.active = False
        self.calls: list[str] = []
        for name in SYNCING:
            self._wrap(monkeypatch, name)
        original_to = torch.Tensor.to

        def to(tensor, *args, **kwargs):
            target = [a for a in (*args, kwargs.get("device")) if isinstance(a, (str, torch.device))]
            if self.active and any(torch.device(t).type == "cpu" for t in target):
                self.calls.append("to(cpu)")
            return original_to(tensor, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, "to", to)

    def _wrap(self, monkeypatch, name):
        original = getattr(torch.Tensor, name)

        def wrapper(tensor, *args, **kwargs):
            if self.active:
                self.calls.append(name)
            return original(tensor, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, wrapper)

    def watch(self, obj, method):
        original = getattr(obj, method)
        self.ran = getattr(self, "ran", 0)

        def wrapped(*args, **kwargs):
            self.active = True
            self.ran += 1
            try:
                return original(*args, **kwargs)
            finally:
                self.active = False

        setattr(obj, method, wrapped)


@pytest.mark.parametrize("step_on", ["backward", "call"])
def test_no_host_sync_per_step(monkeypatch, step_on):
    torch.manual_seed(0)
    model = deep_cnn(nn.ReLU, he=True, depth=3, ch=4)
    x, y = torch.randn(16, 1, 8, 8), torch.arange(16) % 4
    w = vanishing.watch(model, (x, y), F.cross_entropy, every=1000, step_on=step_on, chunk=64)
    detector = SyncDetector(monkeypatch)
    for method in ("_on_grads", "_before_forward", "step"):
        detector.watch(w, method)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(30):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        if step_on == "call":
            w.step()
    assert detector.ran >= 30 and w.steps == 30  # the per-step paths did run
    assert detector.calls == []
    w.close()
    assert len(w.tables()["grad_norms"]) == 30 * len(w.layers)  # and their rows reached the host in bulk
    detector.active = True
    torch.ones(2).sum().item()
    detector.active = False
    assert detector.calls == ["item"]


def test_step_rows_move_to_the_host_in_chunks():
    model = deep_mlp(nn.Tanh, he=False, depth=2, width=8)
    x, y = torch.randn(12, 16), torch.arange(12) % 4
    w = vanishing.watch(model, (x, y), F.cross_entropy, every=1000, chunk=4)
    for _ in range(10):
        model.zero_grad()
        F.cross_entropy(model(x), y).backward()
    assert [len(s) for s in w._host_steps] == [4, 4] and len(w._rows) == 2
    w.close()
    assert list(w.tables()["grad_norms"]["step"].unique()) == list(range(1, 11))


# --------------------------------------------------------------------------- layers, losses, policies


class Scaled(nn.Module):
    """A layer type the registry does not know: it owns a parameter."""

    def __init__(self, n):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return x * self.scale


def test_unknown_layer_policy_and_registry():
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), Scaled(5), nn.Linear(5, 5), nn.Tanh(), nn.Linear(5, 2))
    batch = (torch.randn(6, 4), torch.arange(6) % 2)
    with pytest.raises(UnknownLayerError, match=r"2 \(Scaled\)"):
        vanishing.watch(model, batch, F.cross_entropy, unknown="error")
    with pytest.warns(UserWarning, match="Scaled"):
        w = vanishing.watch(model, batch, F.cross_entropy, unknown="warn")
    assert w.layers == ["0", "3", "5"] and w.layout.unknown == [("2", "Scaled")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vanishing.watch(model, batch, F.cross_entropy, unknown="skip").close()
    with pytest.raises(ValueError, match="policy"):
        vanishing.watch(model, batch, F.cross_entropy, unknown="ignore")
    with pytest.raises(ValueError, match="already registered"):
        register_layer(nn.Linear, LayerRule("weight", node_dim=-1))
    with pytest.raises(UnknownLayerError, match="no Linear or convolution"):
        vanishing.watch(nn.Sequential(nn.Tanh()), batch, F.cross_entropy)


def test_functional_activations_and_activation_mapping():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.out = nn.Linear(4, 6), nn.Linear(6, 6), nn.Linear(6, 2)

        def forward(self, x):
            return self.out(torch.relu(self.fc2(torch.relu(self.fc1(x)))))

    batch = (torch.randn(10, 4), torch.arange(10) % 2)
    w = vanishing.watch(Functional(), batch, F.cross_entropy)
    assert w.activations == {"fc1": "unknown", "fc2": "unknown"}
    assert not w.tables()["dead_units"]["defined"].any()  # no hard zero assumed for an unknown f
    w = vanishing.watch(Functional(), batch, F.cross_entropy, activations={"fc1": "relu", "fc2": "relu"})
    assert w.activations == {"fc1": "relu", "fc2": "relu"}
    assert w.tables()["dead_units"]["defined"].all()
    model = nn.Sequential(nn.Linear(4, 6), nn.LeakyReLU(0.2), nn.Linear(6, 6), nn.ELU(), nn.Linear(6, 6), nn.ReLU6(),
                          nn.Linear(6, 6), nn.Hardsigmoid(), nn.Linear(6, 2))
    w = vanishing.watch(model, batch, F.cross_entropy)
    assert list(w.activations.values()) == ["leaky_relu(alpha=0.2)", "elu(alpha=1.0)", "relu6", "unknown"]
    from vanishing.model import MLP

    w = vanishing.watch(MLP(4, [5, 5], 2, activation="tanh"), batch, F.cross_entropy)
    assert w.hidden == ["hidden1.linear", "hidden2.linear"] and set(w.activations.values()) == {"tanh"}


def test_linear_on_sequences_uses_the_last_axis_as_nodes():
    model = nn.Sequential(nn.Linear(3, 5), nn.Sigmoid(), nn.Linear(5, 4), nn.Sigmoid(), nn.Flatten(), nn.Linear(7 * 4, 2))
    batch = (torch.randn(6, 7, 3), torch.arange(6) % 2)
    w = vanishing.watch(model, batch, F.cross_entropy)
    assert w.widths == {"0": 5, "2": 4}
    st = w.tables()["activation_stats"]
    assert sorted(set(rows(st, layer="0")["node"])) == list(range(5))
    assert set(rows(st, layer="0", **{"class": -1})["count"]) == {6 * 7}  # every position is a sample of the node


def test_loss_reductions():
    model = deep_mlp(nn.Tanh, he=False, depth=2, width=6)
    x, y = torch.randn(20, 16), torch.arange(20) % 4

    def rms(**kw):
        return vanishing.watch(model, (x, y), **kw).tables()["backprop_signal"]["rms"].to_numpy()

    ref = rms(loss_fn=F.cross_entropy)
    assert rms(loss_fn=nn.CrossEntropyLoss(reduction="sum")) == pytest.approx(ref, rel=1e-5)
    assert rms(loss_fn=nn.CrossEntropyLoss(reduction="none")) == pytest.approx(ref, rel=1e-5)
    assert rms(loss_fn=lambda z, t: F.cross_entropy(z, t, reduction="sum"), loss_reduction="sum") == pytest.approx(ref, rel=1e-5)
    from vanishing.losses import make_loss

    assert rms(loss_fn=make_loss("ce", "softmax", 4)) == pytest.approx(ref, rel=1e-5)
    with pytest.raises(LossReductionError, match="class-weighted"):
        vanishing.watch(model, (x, y), nn.CrossEntropyLoss(weight=torch.tensor([1.0, 5.0, 1.0, 0.2])))
    with pytest.raises(LossReductionError, match="not a plain mean"):
        vanishing.watch(model, (x, y), lambda z, t: F.cross_entropy(z, t, reduction="sum"))


def test_watch_is_callable_as_package_and_function():
    import vanishing.watch as package

    assert callable(vanishing.watch) and isinstance(package(deep_mlp(nn.Tanh, False, 2, 4), (torch.randn(4, 16), torch.arange(4)),
                                                            F.cross_entropy), Watch)
    with pytest.raises(ValueError, match="every"):
        vanishing.watch(deep_mlp(nn.Tanh, False, 2, 4), (torch.randn(4, 16), torch.arange(4)), F.cross_entropy, every=0)
