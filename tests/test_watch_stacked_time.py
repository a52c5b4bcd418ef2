"""Issue 17: stacked, bidirectional and packed fused nn.RNN / nn.GRU / nn.LSTM read through time, per (layer, direction).

The independent reference steps each example alone (batch of one, its own length, no masking) through
nn.RNNCell / GRUCell / LSTMCell holding the fused layer's weights for every (layer, direction), in float64, with
retain_grad on every h_t and c_t; the lag of a step is counted from its direction's last step (forward: L_n − 1 − p,
reverse: p, for 0-based position p).
"""

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import vanishing
from vanishing.watch.recurrent import unroll

CELLS = {"RNN": nn.RNNCell, "GRU": nn.GRUCell, "LSTM": nn.LSTMCell}
I, H, C = 3, 5, 2


class Stacked(nn.Module):
    """A fused layer read at every valid position (sum) and through its last state h_n[-1]."""

    def __init__(self, kind, layers, bidirectional, batch_first, packed):
        super().__init__()
        self.kind, self.batch_first, self.packed = kind, batch_first, packed
        self.rnn = getattr(nn, kind)(I, H, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)
        self.head = nn.Linear((2 if bidirectional else 1) * H + H, C)

    def forward(self, x, lengths):
        if self.packed:
            out, state = self.rnn(pack_padded_sequence(x, lengths, batch_first=self.batch_first, enforce_sorted=False))
            out, _ = pad_packed_sequence(out, batch_first=self.batch_first)
        else:
            out, state = self.rnn(x)
        h_n = state[0] if self.kind == "LSTM" else state
        return self.head(torch.cat([out.sum(1 if self.batch_first else 0), h_n[-1]], 1))


def _cell(model, layer, direction):
    rnn = model.rnn
    size = rnn.input_size if layer == 0 else rnn.hidden_size * (2 if rnn.bidirectional else 1)
    cell = CELLS[model.kind](size, H).double()
    sfx = f"_l{layer}" + ("_reverse" if direction else "")
    with torch.no_grad():
        for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, p).copy_(getattr(rnn, p + sfx))
    return cell


def reference(model, x, lengths, y):
    """{track: (RMS ‖∂L/∂h‖ by lag, RMS ‖∂L/∂c‖ by lag or None)} from one example at a time (x: (N, T, I))."""
    rnn = model.rnn
    dirs = 2 if rnn.bidirectional else 1
    names = ["rnn"] if rnn.num_layers == 1 and dirs == 1 else [
        f"rnn.l{l}" + (".reverse" if d else "") for l in range(rnn.num_layers) for d in range(dirs)]
    cells = {(l, d): _cell(model, l, d) for l in range(rnn.num_layers) for d in range(dirs)}
    kept = []  # per example: {(l, d): [(h_p, c_p) by position]}
    losses = []
    for n in range(x.shape[0]):
        L = int(lengths[n])
        rows = [x[n, p: p + 1] for p in range(L)]
        mine, finals = {}, []
        for l in range(rnn.num_layers):
            outs = []
            for d in range(dirs):
                state, seq = None, [None] * L
                for p in (range(L - 1, -1, -1) if d else range(L)):
                    state = cells[(l, d)](rows[p], state)
                    for t in (state if model.kind == "LSTM" else (state,)):
                        t.retain_grad()
                    seq[p] = state if model.kind == "LSTM" else (state, None)
                mine[(l, d)] = seq
                finals.append(seq[0][0] if d else seq[L - 1][0])
                outs.append([s[0] for s in seq])
            rows = [torch.cat([o[p] for o in outs], 1) for p in range(L)]
        feat = torch.cat([sum(rows), finals[-1]], 1)
        losses.append(F.cross_entropy(model.head(feat), y[n: n + 1], reduction="sum"))
        kept.append(mine)
    torch.stack(losses).sum().backward()
    out = {}
    for i, key in enumerate(cells):
        by_lag_h, by_lag_c = [], []
        for k in range(int(lengths.max())):
            gh, gc = [], []
            for n, mine in enumerate(kept):
                L = int(lengths[n])
                if k < L:
                    h, c = mine[key][k if key[1] else L - 1 - k]
                    gh.append(h.grad.norm() ** 2)
                    gc.append(c.grad.norm() ** 2 if c is not None else torch.zeros(()))
            by_lag_h.append(torch.stack(gh).mean().sqrt().item())
            by_lag_c.append(torch.stack(gc).mean().sqrt().item())
        out[names[i]] = (by_lag_h, by_lag_c if model.kind == "LSTM" else None)
    return out


def _data(packed, seed=0, n=7, T=6):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, T, I, generator=g, dtype=torch.float64)
    lengths = torch.randint(1, T + 1, (n,), generator=g) if packed else torch.full((n,), T)
    lengths[1] = T
    return x, lengths, torch.randint(0, C, (n,), generator=g)


def watched(model, x, lengths, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = vanishing.watch(model, ((x if model.batch_first else x.transpose(0, 1).contiguous(), lengths), y),
                            F.cross_entropy, every=1)
    w.close()
    return w


CASES = [  # kind, layers, bidirectional, batch_first, packed
    ("LSTM", 2, False, True, False), ("GRU", 3, False, False, False), ("RNN", 2, True, True, False),
    ("LSTM", 1, True, False, False), ("LSTM", 2, True, True, True), ("GRU", 2, True, False, True),
    ("RNN", 3, False, False, True), ("LSTM", 1, False, True, True),
]


@pytest.mark.parametrize("kind,layers,bidirectional,batch_first,packed", CASES)
def test_every_layer_and_direction_matches_float64_cells_stepped_per_example(kind, layers, bidirectional, batch_first, packed):
    torch.manual_seed(3)
    model = Stacked(kind, layers, bidirectional, batch_first, packed).double()
    x, lengths, y = _data(packed)
    w = watched(model, x, lengths, y)
    tt = w.tables()["through_time"]
    tt = tt[tt["epoch"] == 0]
    expect = reference(model, x, lengths, y)
    assert list(dict.fromkeys(tt["layer"])) == list(expect)
    for name, (by_lag_h, by_lag_c) in expect.items():
        rows = tt[tt["layer"] == name].sort_values("lag")
        assert list(rows["lag"]) == list(range(len(by_lag_h)))
        assert list(rows["t"]) == [len(by_lag_h) - k for k in rows["lag"]]  # t counts the direction's own steps
        assert list(rows["n"]) == [int((lengths > k).sum()) for k in rows["lag"]]
        assert rows["rms"].tolist() == pytest.approx(by_lag_h, rel=1e-9, abs=1e-15), name
        if by_lag_c is not None:
            assert rows["rms_cell"].tolist() == pytest.approx(by_lag_c, rel=1e-9, abs=1e-15), name
        else:
            assert rows["rms_cell"].isna().all()
    assert max(v for h, _ in expect.values() for v in h[1:]) > 0  # the test can fail: the early steps get a signal
    d = w.diagnose()
    assert list(d.recurrent["layer"]) == list(expect)
    assert "recurrent layers" in str(d)


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("kind,kw", [("LSTM", {"proj_size": 3}), ("LSTM", {}), ("GRU", {}), ("RNN", {"nonlinearity": "relu"})])
def test_recomputed_output_equals_the_fused_kernel(batch_first, packed, kind, kw):
    torch.manual_seed(1)
    rnn = getattr(nn, kind)(I, H, num_layers=3, bidirectional=True, batch_first=batch_first, dropout=0.5, **kw)
    rnn = rnn.double().eval()  # eval: no inter-layer dropout, as at a snapshot
    x, lengths, _ = _data(packed, n=6, T=5)
    x = x if batch_first else x.transpose(0, 1)
    dirs, h_out = 2, kw.get("proj_size", H)
    h0 = torch.randn(3 * dirs, 6, h_out, dtype=torch.float64)
    hx = (h0, torch.randn(3 * dirs, 6, H, dtype=torch.float64)) if kind == "LSTM" else h0
    inp = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False) if packed else x
    (out, state), tracks = unroll(rnn, (inp, hx), "rnn")
    ref_out, ref_state = rnn(inp, hx)
    if packed:
        assert torch.equal(out.batch_sizes, ref_out.batch_sizes) and torch.equal(out.sorted_indices, ref_out.sorted_indices)
        out, ref_out = out.data, ref_out.data
    torch.testing.assert_close(out, ref_out, rtol=0, atol=1e-12)
    for a, b in zip(state if kind == "LSTM" else (state,), ref_state if kind == "LSTM" else (ref_state,)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    assert [t.name for t in tracks] == [f"rnn.l{l}" + (".reverse" if d else "") for l in range(3) for d in range(2)]


def test_training_mode_with_dropout_and_unbatched_input_are_declined_not_crashed():
    rnn = nn.GRU(I, H, num_layers=2, dropout=0.3)
    assert unroll(rnn, (torch.randn(4, 2, I),)) is None  # training mode: dropout between layers cannot be replayed
    rnn.eval()
    assert unroll(rnn, (torch.randn(4, I),)) is None  # unbatched (T, I)
    assert unroll(rnn, (torch.randn(4, 2, I),)) is not None


def test_stacked_lstm_trains_exactly_as_unwatched_and_saves(tmp_path):
    torch.manual_seed(0)
    a = Stacked("LSTM", 2, True, True, True)
    b = Stacked("LSTM", 2, True, True, True)
    b.load_state_dict(a.state_dict())
    x, lengths, y = _data(True)
    x = x.float()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = vanishing.watch(a, ((x, lengths), y), F.cross_entropy, every=1)
    for m in (a, b):
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        for _ in range(2):
            opt.zero_grad()
            F.cross_entropy(m(x, lengths), y).backward()
            opt.step()
    w.close()
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    assert sorted(set(w.tables()["through_time"]["epoch"])) == [0, 1, 2]
    run = w.save(tmp_path)
    d = vanishing.watch.diagnose_run(run)
    assert list(d.recurrent["layer"]) == ["rnn.l0", "rnn.l0.reverse", "rnn.l1", "rnn.l1.reverse"]
