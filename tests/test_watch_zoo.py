"""Issue 17: an architecture zoo — watch() on each for a few optimizer steps never crashes and says something sensible.

Each case builds a tiny model on random tensors, watches it (snapshot every step), takes 2 SGD steps in a plain
loop, then checks: at least one recorded weight layer, full module paths as names (``name@k`` for the k-th call
of a shared module), finite per-step gradient norms for every recorded layer whose weight trains, a diagnosis
with at least one verdict that prints, and a saved run.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import vanishing

N, T, D, C = 8, 5, 4, 3


def _xy(*shape, classes=C, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g), torch.randint(0, classes, (shape[0],), generator=g)


# --------------------------------------------------------------------------- the zoo


def mlp():
    return nn.Sequential(nn.Linear(D, 8), nn.Tanh(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, C)), *_xy(N, D)


def cnn_bn():
    m = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4),
                      nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, C))
    return m, *_xy(N, 2, 6, 6)


class Basic(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += x
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(2, 4, 3, padding=1)
        self.layer1 = nn.Sequential(Basic(4), Basic(4))
        self.fc = nn.Linear(4, C)

    def forward(self, x):
        return self.fc(self.layer1(torch.relu(self.stem(x))).mean((2, 3)))


def resnet():
    return ResNet(), *_xy(N, 2, 6, 6)


def layernorm_mlp():
    m = nn.Sequential(nn.Linear(D, 8), nn.LayerNorm(8), nn.GELU(), nn.Linear(8, 8), nn.LayerNorm(8), nn.GELU(),
                      nn.Linear(8, C))
    return m, *_xy(N, D)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(D, 8)
        layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(8, C)

    def forward(self, x):
        return self.head(self.encoder(self.inp(x)).mean(1))


def transformer_encoder():
    return Encoder(), *_xy(N, T, D)


class GPTBlock(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, 2, batch_first=True)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        t = x.shape[1]
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool, device=x.device), 1)
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab=11, d=8, block=T):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(block, d)
        self.h = nn.ModuleList([GPTBlock(d), GPTBlock(d)])
        self.ln_f = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.lm_head.weight = self.wte.weight  # tied input/output embedding

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))[:, -1]  # next-token logits at the last position


def gpt():
    g = torch.Generator().manual_seed(0)
    return GPT(), torch.randint(0, 11, (N, T), generator=g), torch.randint(0, 11, (N,), generator=g)


class Bag(nn.Module):
    def __init__(self):
        super().__init__()
        self.bag = nn.EmbeddingBag(20, 8, mode="mean")
        self.fc = nn.Linear(8, 8)
        self.act = nn.ReLU()
        self.out = nn.Linear(8, C)

    def forward(self, idx):
        return self.out(self.act(self.fc(self.bag(idx))))


def embedding_bag():
    g = torch.Generator().manual_seed(0)
    return Bag(), torch.randint(0, 20, (N, 6), generator=g), torch.randint(0, C, (N,), generator=g)


class Recurrent(nn.Module):
    def __init__(self, kind, batch_first=True, **kw):
        super().__init__()
        self.batch_first = batch_first
        self.rnn = getattr(nn, kind)(D, 8, batch_first=batch_first, **kw)
        d = 16 if kw.get("bidirectional") else 8
        self.mid = nn.Linear(d, 8)
        self.act = nn.Tanh()
        self.head = nn.Linear(8, C)

    def forward(self, x):
        out, _ = self.rnn(x)
        last = out[:, -1] if self.batch_first else out[-1]
        return self.head(self.act(self.mid(last)))


def rnn_batch_first():
    return Recurrent("RNN", nonlinearity="tanh"), *_xy(N, T, D)


def rnn_time_first():
    m = Recurrent("RNN", batch_first=False)
    x, y = _xy(N, T, D)
    return m, x.transpose(0, 1).contiguous(), y


def lstm_bidirectional_2layer():
    return Recurrent("LSTM", num_layers=2, bidirectional=True), *_xy(N, T, D)


def gru():
    return Recurrent("GRU"), *_xy(N, T, D)


class Packed(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, D)
        self.lstm = nn.LSTM(D, 8, batch_first=True)
        self.head = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, C))

    def forward(self, idx, lengths):
        packed = pack_padded_sequence(self.emb(idx), lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, (h, c) = self.lstm(packed)
        padded, _ = pad_packed_sequence(out, batch_first=True)
        return self.head(h[-1] + 0 * padded.sum(1))


def packed_lstm():
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, 10, (N, T), generator=g)
    lengths = torch.randint(1, T + 1, (N,), generator=g)
    lengths[0] = T
    return Packed(), (idx, lengths), torch.randint(0, C, (N,), generator=g)


class CellLoop(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.LSTMCell(D, 8)
        self.head = nn.Linear(8, C)

    def forward(self, x):
        state = None
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
        return self.head(state[0])


def lstm_cell_loop():
    return CellLoop(), *_xy(N, T, D)


class Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(D, 8)
        self.block = nn.Sequential(nn.Linear(8, 8), nn.Tanh())
        self.out = nn.Linear(8, C)

    def forward(self, x):
        return self.out(self.block(self.block(torch.tanh(self.inp(x)))))


def shared_twice():
    return Shared(), *_xy(N, D)


def frozen():
    m = nn.Sequential(nn.Linear(D, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, C))
    for p in m[0].parameters():
        p.requires_grad_(False)
    return m, *_xy(N, D)


class DictOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(D, 8), nn.ReLU())
        self.cls = nn.Linear(8, C)
        self.aux = nn.Linear(8, 2)

    def forward(self, x):
        h = self.body(x)
        return {"logits": self.cls(h), "aux": self.aux(h), "features": h}


def dict_output():
    return DictOut(), *_xy(N, D)


class TupleOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(D, 8)
        self.act = nn.Sigmoid()
        self.fc2 = nn.Linear(8, C)

    def forward(self, x):
        h = self.act(self.fc1(x))
        return self.fc2(h), h


def tuple_output():
    return TupleOut(), *_xy(N, D)


class Scale(nn.Module):  # a custom module with its own parameter: unknown to the layer registry
    def __init__(self, d):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * self.gamma


class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(D, 8)
        self.scale = Scale(8)
        self.act = nn.Tanh()
        self.fc2 = nn.Linear(8, 8)
        self.act2 = nn.ReLU()
        self.fc3 = nn.Linear(8, C)

    def forward(self, x):
        return self.fc3(self.act2(self.fc2(self.act(self.scale(self.fc1(x))))))


def custom_unknown():
    return Custom(), *_xy(N, D)


def float64_mlp():
    m, x, y = mlp()
    return m.double(), x.double(), y


LOSSES = {
    "dict_output": lambda out, y: F.cross_entropy(out["logits"], y),
    "tuple_output": lambda out, y: F.cross_entropy(out[0], y),
}

ZOO = {
    "mlp": mlp, "cnn_bn": cnn_bn, "resnet": resnet, "layernorm_mlp": layernorm_mlp,
    "transformer_encoder": transformer_encoder, "gpt": gpt, "embedding_bag": embedding_bag,
    "rnn_batch_first": rnn_batch_first, "rnn_time_first": rnn_time_first,
    "lstm_bidirectional_2layer": lstm_bidirectional_2layer, "gru": gru, "packed_lstm": packed_lstm,
    "lstm_cell_loop": lstm_cell_loop, "shared_twice": shared_twice, "frozen": frozen, "dict_output": dict_output,
    "tuple_output": tuple_output, "custom_unknown": custom_unknown, "float64_mlp": float64_mlp,
}


def _forward(model, x):
    if isinstance(x, tuple):
        return model(*x)
    return model(x)


def watch_and_train(name, unknown="skip", steps=2):
    torch.manual_seed(0)
    model, x, y = ZOO[name]()
    loss_fn = LOSSES.get(name, F.cross_entropy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = vanishing.watch(model, (x, y), loss_fn, every=1, unknown=unknown)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05)
    with w:
        for _ in range(steps):
            opt.zero_grad()
            loss_fn(_forward(model, x), y).backward()
            opt.step()
    return model, w


def check_sensible(model, w, steps=2):
    modules = dict(model.named_modules())
    assert w.steps == steps
    assert len(w.layers) >= 1
    assert all(n in modules for n in w.layers), w.layers  # full module paths
    for app in w.hidden:
        base, at, k = app.rpartition("@")
        assert (base in modules and k.isdigit()) if at else app in modules, app
    g = w.tables()["grad_norms"]
    trained = 0
    assert sorted(set(g["step"])) == list(range(1, steps + 1))
    for layer in w.layers:
        weight, _ = w.layout.params[layer]
        rows = g[g["layer"] == layer]
        if weight.requires_grad and weight.grad is not None:  # NaN only means "no gradient this step" (unused head)
            assert np.all(np.isfinite(rows["weight_l2"].to_numpy())), (layer, rows)
            trained += 1
    assert trained >= 1
    d = w.diagnose()
    assert d.verdicts and all(v.kind in vanishing.watch.KINDS for v in d.verdicts)
    text = str(d)
    assert text.startswith("diagnosis of")
    for app in d.layers["layer"]:
        assert str(app) in text
    rms = d.layers["rms"].to_numpy(dtype=float)
    assert np.all(np.isfinite(rms)) and np.all(rms >= 0)
    return d


@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_watches_trains_and_diagnoses(name, tmp_path):
    model, w = watch_and_train(name)
    d = check_sensible(model, w)
    run = w.save(tmp_path)
    assert (run / "summary.json").exists()
    if name == "shared_twice":
        assert list(d.layers["layer"]) == ["inp", "block.0@1", "block.0@2"]
        assert w.layers.count("block.0") == 1
    if name == "lstm_cell_loop":
        assert [f"cell@{k}" for k in range(1, T + 1)] == list(d.layers["layer"])
    if name in ("rnn_batch_first", "rnn_time_first", "gru"):  # one-layer fused layers are read through time
        tt = w.tables()["through_time"]
        assert set(tt["layer"]) == {"rnn"} and sorted(set(tt["t"])) == list(range(1, T + 1))
        assert np.all(np.isfinite(tt["rms"])) and np.all(tt["rms"] > 0)
    if name == "lstm_bidirectional_2layer":  # every (layer, direction) is its own through-time layer
        tt = w.tables()["through_time"]
        assert list(dict.fromkeys(tt["layer"])) == ["rnn.l0", "rnn.l0.reverse", "rnn.l1", "rnn.l1.reverse"]
        assert set(w.tables()["gate_saturation"]["gate"]) == {"forget"}
    if name == "packed_lstm":  # packed input: lags relative to each sequence; n counts the sequences long enough
        tt = w.tables()["through_time"]
        assert set(tt["layer"]) == {"lstm"} and tt["n"].max() == N and tt["n"].min() >= 1
        assert np.all(np.isfinite(tt["rms"])) and np.all(np.isfinite(tt["rms_cell"]))
    if name == "rnn_time_first":
        assert w.n == N  # x is (T, N, D): N from the targets
    if name == "dict_output":  # the aux head runs but gets no gradient: NaN rows, not an "exploding" verdict
        assert "exploding" not in d.kinds
    if name == "frozen":
        assert "0" in w.layers and "0" in w.hidden  # a frozen layer's δ is still read


def test_unknown_policy_ignore_is_a_clear_error_not_a_crash():
    # "ignore" is not a policy (tests/test_watch.py keeps the option strict); the error names the ones there are
    model, x, y = custom_unknown()
    with pytest.raises(ValueError, match="error, warn, skip"):
        vanishing.watch(model, (x, y), F.cross_entropy, unknown="ignore")


@pytest.mark.parametrize("unknown", ["warn", "skip"])
def test_custom_unknown_module_never_crashes(unknown):
    torch.manual_seed(0)
    model, x, y = custom_unknown()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        w = vanishing.watch(model, (x, y), F.cross_entropy, every=1, unknown=unknown)
    said = [str(c.message) for c in caught if "scale (Scale)" in str(c.message)]
    assert bool(said) == (unknown == "warn")
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with w:
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    d = check_sensible(model, w, steps=3)
    assert "scale" not in w.layers
    assert list(d.layers["layer"]) == ["fc1", "fc2"]
    assert "not watched (layer types the registry does not know): scale (Scale)" in str(d)  # said, also when judged
    assert d.to_dict()["unwatched"] == ["scale (Scale)"]
