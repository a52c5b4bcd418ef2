"""Issue 17: fused nn.RNN / nn.GRU / nn.LSTM (one layer, one direction) read through time by the snapshot.

‖∂L/∂h_t‖ per step (RMS over probe examples of the total derivative, through every later step), its decay per
step and the memory horizon, with the same functions as the cell-loop path — checked against retain_grad on a
float64 loop of nn.RNNCell/GRUCell/LSTMCell holding the same weights.
"""

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import vanishing
from vanishing.watch.diagnose import through_time

CELLS = {"RNN": nn.RNNCell, "GRU": nn.GRUCell, "LSTM": nn.LSTMCell}


class Fused(nn.Module):
    def __init__(self, kind, batch_first=True, gain=1.0, mid=False):
        super().__init__()
        self.kind, self.batch_first = kind, batch_first
        self.rnn = getattr(nn, kind)(3, 8, batch_first=batch_first)
        with torch.no_grad():
            self.rnn.weight_hh_l0.mul_(gain)
        self.mid = nn.Sequential(nn.Linear(8, 8), nn.Tanh()) if mid else nn.Identity()
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(self.mid(out[:, -1] if self.batch_first else out[-1]))


def unrolled_rms_by_lag(model, x, y):
    """Independent: a cell with the fused layer's weights stepped in float64, retain_grad on every h_t."""
    cell = CELLS[model.kind](3, 8).double()
    with torch.no_grad():
        for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, p).copy_(getattr(model.rnn, p + "_l0"))
    xs = x  # (N, T, 3)
    state, hs = None, []
    for t in range(xs.shape[1]):
        state = cell(xs[:, t], state)
        h = state[0] if model.kind == "LSTM" else state
        h.retain_grad()
        hs.append(h)
    F.cross_entropy(model.head(model.mid(hs[-1])), y, reduction="sum").backward()
    return [hs[-1 - k].grad.norm(dim=1).square().mean().sqrt().item() for k in range(len(hs))]


def watched(model, x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = vanishing.watch(model, (x, y), F.cross_entropy, every=1)
    w.close()
    return w


@pytest.mark.parametrize("kind,batch_first,mid", [("RNN", True, False), ("GRU", False, True), ("LSTM", True, True)])
def test_fused_through_time_matches_float64_unrolled_cells(kind, batch_first, mid):
    torch.manual_seed(2)
    model = Fused(kind, batch_first, mid=mid).double()
    x, y = torch.randn(16, 9, 3, dtype=torch.float64), torch.randint(0, 2, (16,))
    w = watched(model, x if batch_first else x.transpose(0, 1).contiguous(), y)
    assert w.n == 16  # time-first input (T, N, 3): N is the targets' length, not T
    tt = w.tables()["through_time"]
    rows = tt[tt["epoch"] == 0].sort_values("t")
    assert list(rows["layer"]) == ["rnn"] * 9 and list(rows["t"]) == list(range(1, 10))
    expect = unrolled_rms_by_lag(model, x, y)
    got = through_time([f"rnn@{t}" for t in rows["t"]], rows["rms"].to_numpy())["rnn"]
    assert got["rms_by_lag"] == pytest.approx(expect, rel=1e-9)
    assert expect[-1] > 0  # the early steps get a signal: the total derivative, not only the direct use of out[:, t]
    d = w.diagnose()
    assert d.verdicts


def test_fused_rnn_that_forgets_is_vanishing_through_time_with_the_right_horizon(tmp_path):
    torch.manual_seed(0)
    model = Fused("RNN", gain=0.2).double()
    x, y = torch.randn(32, 12, 3, dtype=torch.float64), torch.randint(0, 2, (32,))
    w = watched(model, x, y)
    d = w.diagnose()
    v = d.verdict("vanishing_through_time")
    assert v is not None and v.layers == ["rnn"] and v.remedies
    expect = unrolled_rms_by_lag(model, x, y)
    assert v.evidence["horizon"] == next(k for k, r in enumerate(expect) if r < 0.1 * expect[0])
    assert v.evidence["decay"] < 0.7
    assert "VANISHING THROUGH TIME: rnn" in str(d)
    run = w.save(tmp_path)
    assert (run / "probes").exists()
    assert vanishing.watch.diagnose_run(run).verdict("vanishing_through_time") is not None


def test_fused_layer_trains_exactly_as_unwatched():
    torch.manual_seed(0)
    a = Fused("GRU", mid=True)
    b = Fused("GRU", mid=True)
    b.load_state_dict(a.state_dict())
    x, y = torch.randn(8, 5, 3), torch.randint(0, 2, (8,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = vanishing.watch(a, (x, y), F.cross_entropy, every=1)
    for m in (a, b):
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(m(x), y).backward()
            opt.step()
    w.close()
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


class Siamese(nn.Module):
    """One fused encoder applied to two sequences per forward pass (shared weights), the two last states joined."""

    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        self.rnn = getattr(nn, kind)(3, 8, batch_first=True)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        a, _ = self.rnn(x[:, :, :3])
        b, _ = self.rnn(x[:, :6, 3:])  # the second call sees a shorter sequence
        return self.head(torch.cat([a[:, -1], b[:, -1]], dim=1))


def _unrolled_pair(model, x, y):
    """Independent: both calls stepped as float64 cells with retain_grad on every h_t → (rms by lag, call 1 and 2)."""
    cell = CELLS[model.kind](3, 8).double()
    with torch.no_grad():
        for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, p).copy_(getattr(model.rnn, p + "_l0"))
    runs = []
    for xs in (x[:, :, :3], x[:, :6, 3:]):
        state, hs = None, []
        for t in range(xs.shape[1]):
            state = cell(xs[:, t], state)
            h = state[0] if model.kind == "LSTM" else state
            h.retain_grad()
            hs.append(h)
        runs.append(hs)
    F.cross_entropy(model.head(torch.cat([runs[0][-1], runs[1][-1]], dim=1)), y, reduction="sum").backward()
    return [[hs[-1 - k].grad.norm(dim=1).square().mean().sqrt().item() for k in range(len(hs))] for hs in runs]


@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
def test_a_fused_module_called_twice_is_read_through_time_per_call(kind):
    torch.manual_seed(4)
    model = Siamese(kind).double()
    x, y = torch.randn(12, 9, 6, dtype=torch.float64), torch.randint(0, 2, (12,))
    w = watched(model, x, y)
    tt = w.tables()["through_time"]
    rows = tt[tt["epoch"] == 0]
    assert sorted(set(rows["layer"])) == ["rnn@1", "rnn@2"]
    expect = _unrolled_pair(model, x, y)
    for call, steps, want in (("rnn@1", 9, expect[0]), ("rnn@2", 6, expect[1])):
        r = rows[rows["layer"] == call].sort_values("t")
        assert list(r["t"]) == list(range(1, steps + 1))
        got = through_time([f"{call}@{t}" for t in r["t"]], r["rms"].to_numpy())[call]
        assert got["rms_by_lag"] == pytest.approx(want, rel=1e-9)
    gates = w.tables()["gate_saturation"]
    assert sorted(set(gates["layer"])) == ["rnn@1", "rnn@2"]
    assert set(gates[gates["layer"] == "rnn@2"]["n"]) == {12 * 6 * 8}  # the second call's own (example, step, unit)s
    d = w.diagnose()
    assert {"rnn@1", "rnn@2"} <= set(d.recurrent["layer"])


def _growing(first_over_last, by_lag=None):
    """A through_time record whose signal grows towards early steps (no horizon), as a reverse read-out gives."""
    by_lag = by_lag or [1.0, 3.0, 9.0, first_over_last]
    return dict(rms_by_lag=by_lag, steps=len(by_lag), decay=3.0, first_over_last=first_over_last, horizon=None)


def test_reverse_direction_of_a_module_called_twice_is_not_called_exploding_for_growth():
    from vanishing.watch.time_verdicts import _time_verdicts, is_reverse

    assert is_reverse("rnn.l0.reverse") and is_reverse("rnn.l0.reverse@2") and is_reverse("enc.rnn.l1.reverse@12")
    assert not is_reverse("rnn.l0@2") and not is_reverse("rnn.reverse_net@2") and not is_reverse("rnn.l0.reverse@x")
    recurrent = {"rnn.l0@2": _growing(50.0), "rnn.l0.reverse@2": _growing(50.0),
                 "rnn.l1.reverse@1": _growing(50.0, [1.0, float("inf"), 2.0, 50.0])}
    flagged = {v.layers[0]: v.kind for v in _time_verdicts(recurrent)}
    assert flagged == {"rnn.l0@2": "exploding_through_time", "rnn.l1.reverse@1": "exploding_through_time"}
