"""Issue 17 (part): watch() on models holding torch's nn.RNN / nn.LSTM / nn.GRU never crashes, and long layer names are printed in full."""

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import vanishing
from vanishing.watch import diagnose_run


class Recurrent(nn.Module):
    def __init__(self, kind, batch_first=True, bidirectional=False, layers=1, hidden_head=False):
        super().__init__()
        self.rnn = getattr(nn, kind)(4, 8, num_layers=layers, batch_first=batch_first, bidirectional=bidirectional)
        d = 16 if bidirectional else 8
        self.batch_first = batch_first
        self.mid = nn.Sequential(nn.Linear(d, d), nn.Tanh()) if hidden_head else nn.Identity()
        self.head = nn.Linear(d, 3)

    def forward(self, x):
        out, _ = self.rnn(x)
        last = out[:, -1] if self.batch_first else out[-1]
        return self.head(self.mid(last))


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch_first,bidirectional,layers", [(True, False, 1), (False, True, 2)])
def test_recurrent_layer_with_linear_head_watches_trains_and_saves(tmp_path, kind, batch_first, bidirectional, layers):
    torch.manual_seed(0)
    model = Recurrent(kind, batch_first, bidirectional, layers)
    x = torch.randn(12, 5, 4) if batch_first else torch.randn(5, 12, 4)
    y = torch.randint(0, 3, (12,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        w = vanishing.watch(model, (x, y), F.cross_entropy, every=1)
    assert any(f"rnn ({kind})" in str(c.message) for c in caught)  # the unknown= policy says what it leaves out
    with w:
        for _ in range(2):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    d = w.diagnose()
    assert d.kinds[0] == "not_judged"  # no hidden weight layer: said so, not "healthy", not a crash
    # every (layer, direction) of the fused layer is still read through time (tests/test_watch_stacked_time.py)
    assert set(d.kinds[1:]) <= {"vanishing_through_time", "exploding_through_time", "gate_saturated"}
    tracks = ["rnn"] if layers == 1 and not bidirectional else ["rnn.l0", "rnn.l0.reverse", "rnn.l1", "rnn.l1.reverse"]
    assert list(dict.fromkeys(w.tables()["through_time"]["layer"])) == tracks
    assert list(d.recurrent["layer"]) == tracks
    assert f"rnn ({kind})" in str(d)
    run = w.save(tmp_path)
    assert (run / "summary.json").exists()
    assert w.steps == 2


def test_unknown_error_policy_is_one_clear_error():
    with pytest.raises(vanishing.watch.UnknownLayerError, match=r"rnn \(LSTM\)"):
        vanishing.watch(Recurrent("LSTM"), (torch.randn(4, 5, 4), torch.zeros(4, dtype=torch.long)), F.cross_entropy,
                        unknown="error")


def test_recurrent_with_hidden_linear_is_judged_with_full_names():
    torch.manual_seed(0)

    class Long(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer_h_0_attn_c_attn = nn.Linear(4, 8)
            self.transformer_h_0_attn_c_proj = nn.Linear(8, 8)
            self.head = nn.Linear(8, 3)

        def forward(self, x):
            return self.head(torch.tanh(self.transformer_h_0_attn_c_proj(torch.tanh(self.transformer_h_0_attn_c_attn(x)))))

    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    w = vanishing.watch(Long(), (x, y), F.cross_entropy, activations={"transformer_h_0_attn_c_attn": "tanh",
                                                                     "transformer_h_0_attn_c_proj": "tanh"})
    w.close()
    text = str(w.diagnose())
    assert "transformer_h_0_attn_c_attn " in text and "transformer_h_0_attn_c_proj " in text  # not cut at 22 characters
    m = Recurrent("GRU", hidden_head=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = vanishing.watch(m, (torch.randn(16, 5, 4), torch.randint(0, 3, (16,))), F.cross_entropy)
    w.close()
    assert list(w.diagnose().layers["layer"]) == ["mid.0"]


def test_shared_module_called_twice_is_two_applications_with_their_own_delta():
    torch.manual_seed(0)

    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = nn.Linear(4, 8)
            self.block = nn.Linear(8, 8)
            self.out = nn.Linear(8, 3)

        def forward(self, x):
            h = torch.tanh(self.inp(x))
            h = torch.tanh(self.block(h))
            h = torch.tanh(self.block(h))
            return self.out(h)

    model = Shared()
    x, y = torch.randn(20, 4), torch.randint(0, 3, (20,))
    w = vanishing.watch(model, (x, y), F.cross_entropy, activations={"inp": "tanh", "block": "tanh"})
    w.close()
    d = w.diagnose()
    assert list(d.layers["layer"]) == ["inp", "block@1", "block@2"]
    assert w.layers.count("block") == 1  # the shared weight's gradient norm is one row
    # independent: per-example δ at each call's pre-activation by autograd with retain_grad
    a1 = torch.tanh(model.inp(x))
    z1 = model.block(a1)
    z1.retain_grad()
    z2 = model.block(torch.tanh(z1))
    z2.retain_grad()
    F.cross_entropy(model.out(torch.tanh(z2)), y, reduction="sum").backward()
    rms = d.layers.set_index("layer")["rms"]
    for name, z in (("block@1", z1), ("block@2", z2)):
        expect = z.grad.norm(dim=1).square().mean().sqrt().item()
        assert rms[name] == pytest.approx(expect, rel=1e-4)
    assert rms["block@1"] != pytest.approx(rms["block@2"], rel=1e-3)


class CellLoop(nn.Module):
    def __init__(self, cell="RNNCell", hidden=16, gain=1.0):
        super().__init__()
        self.cell = getattr(nn, cell)(3, hidden)
        self.head = nn.Linear(hidden, 2)
        with torch.no_grad():
            self.cell.weight_hh.mul_(gain)
        self.lstm = cell == "LSTMCell"

    def forward(self, x):  # x: (N, T, 3)
        h = None
        for t in range(x.shape[1]):
            h = self.cell(x[:, t], h)
        return self.head(h[0] if self.lstm else h)


def _unrolled_rms(model, x, y):
    """Independent: retain_grad on every h_t of the unrolled float64 loop, per-example RMS of ∂(Σ_n E_n)/∂h_t, by lag."""
    h, hs = None, []
    for t in range(x.shape[1]):
        h = model.cell(x[:, t], h)
        ht = h[0] if model.lstm else h
        ht.retain_grad()
        hs.append(ht)
    F.cross_entropy(model.head(hs[-1]), y, reduction="sum").backward()
    return [hs[-1 - k].grad.norm(dim=1).square().mean().sqrt().item() for k in range(len(hs))]


@pytest.mark.parametrize("cell", ["RNNCell", "GRUCell", "LSTMCell"])
def test_cell_loop_through_time_matches_float64_autograd(cell):
    torch.manual_seed(1)
    model = CellLoop(cell).double()
    x, y = torch.randn(24, 7, 3, dtype=torch.float64), torch.randint(0, 2, (24,))
    w = vanishing.watch(model, (x, y), F.cross_entropy, unknown="error")
    w.close()
    d = w.diagnose()
    assert [f"cell@{k}" for k in range(1, 8)] == list(d.layers["layer"])
    from vanishing.watch.diagnose import through_time

    tt = through_time(list(d.layers["layer"]), d.layers["rms"].to_numpy())["cell"]
    expect = _unrolled_rms(model, x, y)
    assert tt["rms_by_lag"] == pytest.approx(expect, rel=1e-9)


def test_tanh_rnn_that_forgets_is_vanishing_through_time_and_horizon_is_right():
    torch.manual_seed(0)
    model = CellLoop("RNNCell", gain=0.2).double()
    x, y = torch.randn(32, 12, 3, dtype=torch.float64), torch.randint(0, 2, (32,))
    w = vanishing.watch(model, (x, y), F.cross_entropy)
    w.close()
    d = w.diagnose()
    v = d.verdict("vanishing_through_time")
    assert v is not None and v.layers == ["cell"] and v.remedies
    expect = _unrolled_rms(model, x, y)
    horizon = next(k for k, r in enumerate(expect) if r < 0.1 * expect[0])
    assert v.evidence["horizon"] == horizon
    assert v.evidence["decay"] < 0.7


def _unrolled_cell_rms(model, x, y):
    """Independent: nn.LSTMCell stepped in float64 with retain_grad on every c_t (on the CPU the cell is torch's
    composite, so h_t = o ⊙ tanh(c_t) is computed from that tensor and c_t.grad is the total ∂L/∂c_t), by lag."""
    state, cs = None, []
    for t in range(x.shape[1]):
        state = model.cell(x[:, t], state)
        state[1].retain_grad()
        cs.append(state[1])
    F.cross_entropy(model.head(state[0]), y, reduction="sum").backward()
    return [cs[-1 - k].grad.norm(dim=1).square().mean().sqrt().item() for k in range(len(cs))]


def test_lstm_cell_loop_reads_the_cell_state_path_against_float64_autograd():
    torch.manual_seed(3)
    model = CellLoop("LSTMCell").double()
    x, y = torch.randn(24, 9, 3, dtype=torch.float64), torch.randint(0, 2, (24,))
    w = vanishing.watch(model, (x, y), F.cross_entropy, unknown="error")
    w.close()
    rows = w.tables()["cell_state"].sort_values("lag")
    assert list(rows["layer"].unique()) == ["cell"] and list(rows["lag"]) == list(range(9))
    assert list(rows["t"]) == list(range(9, 0, -1)) and (rows["n"] == 24).all()
    expect = _unrolled_cell_rms(model, x, y)
    assert rows["rms_cell"].tolist() == pytest.approx(expect, rel=1e-9)
    # the h path is unchanged by the recomputed step, and the diagnosis shows the c path's decay per step
    d = w.diagnose()
    from vanishing.watch.diagnose import through_time

    assert through_time(list(d.layers["layer"]), d.layers["rms"].to_numpy())["cell"]["rms_by_lag"] == pytest.approx(
        _unrolled_rms(model, x, y), rel=1e-9)
    c_decay = d.recurrent.set_index("layer").loc["cell", "decay_cell"]
    slope = np.polyfit(np.arange(9), np.log(expect), 1)[0]
    assert c_decay == pytest.approx(math.exp(slope), rel=1e-9)


def test_rnn_and_gru_cell_loops_have_no_cell_state_table():
    for cell in ("RNNCell", "GRUCell"):
        model = CellLoop(cell).double()
        x, y = torch.randn(8, 5, 3, dtype=torch.float64), torch.randint(0, 2, (8,))
        w = vanishing.watch(model, (x, y), F.cross_entropy)
        w.close()
        assert "cell_state" not in w.tables()


class KeywordStateLoop(CellLoop):
    """The loop of CellLoop, with the state passed as ``hx=`` (forward hooks see it only when registered with kwargs)."""

    def forward(self, x):
        h = None
        for t in range(x.shape[1]):
            h = self.cell(x[:, t], hx=h)
        return self.head(h[0] if self.lstm else h)


def test_lstm_cell_state_passed_by_keyword_is_read_from_the_real_state():
    torch.manual_seed(5)
    model = KeywordStateLoop("LSTMCell").double()
    x, y = torch.randn(16, 8, 3, dtype=torch.float64), torch.randint(0, 2, (16,))
    with torch.no_grad():
        unwatched = model(x)
    w = vanishing.watch(model, (x, y), F.cross_entropy, unknown="error")
    w.close()
    rows = w.tables()["cell_state"].sort_values("lag")
    assert rows["rms_cell"].tolist() == pytest.approx(_unrolled_cell_rms(model, x, y), rel=1e-9)
    gates = w.tables()["gate_saturation"]
    assert len(gates) and (gates["layer"] == "cell").all()
    with torch.no_grad():
        assert torch.equal(model(x), unwatched)


class DampedCell(nn.LSTMCell):
    """A subclass with its own forward (the cell state halved each step): not the stock equations."""

    def forward(self, x, hx=None):
        h, c = super().forward(x, hx)
        return h, 0.5 * c


def test_an_lstm_cell_subclass_with_its_own_forward_keeps_its_output():
    torch.manual_seed(6)
    model = CellLoop("LSTMCell").double()
    model.cell = DampedCell(3, 16).double()
    x, y = torch.randn(16, 8, 3, dtype=torch.float64), torch.randint(0, 2, (16,))
    w = vanishing.watch(model, (x, y), F.cross_entropy)
    w.close()
    # the h path is read on the module's own (damped) output: the stock recompute (undamped c) did not replace it
    assert "cell_state" not in w.tables()
    from vanishing.watch.diagnose import through_time

    d = w.diagnose()
    assert through_time(list(d.layers["layer"]), d.layers["rms"].to_numpy())["cell"]["rms_by_lag"] == pytest.approx(
        _unrolled_rms(model, x, y), rel=1e-9)


def test_a_frozen_lstm_cell_is_read_from_its_first_call():
    torch.manual_seed(7)
    model = CellLoop("LSTMCell").double()
    model.cell.requires_grad_(False)
    x, y = torch.randn(16, 6, 3, dtype=torch.float64), torch.randint(0, 2, (16,))
    w = vanishing.watch(model, (x, y), F.cross_entropy)
    w.close()
    rows = w.tables()["cell_state"].sort_values("lag")
    assert list(rows["t"]) == list(range(6, 0, -1))
    # independent: the same loop from a zero state that requires grad, retain_grad on every c_t
    zero = torch.zeros(16, 16, dtype=torch.float64)
    state, cs = (zero.clone().requires_grad_(True), zero.clone().requires_grad_(True)), []
    for t in range(6):
        state = model.cell(x[:, t], state)
        state[1].retain_grad()
        cs.append(state[1])
    F.cross_entropy(model.head(state[0]), y, reduction="sum").backward()
    expect = [cs[-1 - k].grad.norm(dim=1).square().mean().sqrt().item() for k in range(6)]
    assert rows["rms_cell"].tolist() == pytest.approx(expect, rel=1e-9)
