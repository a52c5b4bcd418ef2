"""Issue 17: forget-gate (LSTM) / update-gate (GRU) saturation — share of gate values < 0.05 or > 0.95 per recurrent layer.

Independent reference: the hidden states come from nn.LSTMCell / nn.GRUCell stepped in float64 with the fused
layer's weights; the gate is then computed by hand from the weight rows in torch's documented order
(LSTM i, f, g, o: f = rows H:2H; GRU r, z, n: z = rows H:2H). Half the units get a forget/update bias of −6
(gate ≈ 0.002) and a quarter +6 (≈ 0.998), so a wrong chunk (i or r) would give other shares.
"""

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import vanishing

I, H, C = 3, 8, 2


def _bias_gate(bias_ih, bias_hh):
    with torch.no_grad():
        bias_ih[H: H + H // 2] = -6.0
        bias_ih[H + H // 2: H + 3 * H // 4] = 6.0
        bias_hh[H: 2 * H] = 0.0


class Fused(nn.Module):
    def __init__(self, kind, layers=2, bidirectional=False, packed=False):
        super().__init__()
        self.kind, self.packed = kind, packed
        self.rnn = getattr(nn, kind)(I, H, num_layers=layers, bidirectional=bidirectional, batch_first=True)
        for name, p in self.rnn.named_parameters():
            if name.startswith("bias_ih"):
                _bias_gate(p, getattr(self.rnn, name.replace("bias_ih", "bias_hh")))
        self.head = nn.Linear(H * (2 if bidirectional else 1), C)

    def forward(self, x, lengths):
        inp = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False) if self.packed else x
        _, state = self.rnn(inp)
        h_n = state[0] if self.kind == "LSTM" else state
        return self.head(torch.cat([h_n[-2], h_n[-1]], 1) if self.rnn.bidirectional else h_n[-1])


def gate_of(kind, cell, x, h):
    """The forget (LSTM) / update (GRU) gate by hand from torch's weight rows H:2H."""
    rows = slice(H, 2 * H)
    return torch.sigmoid(x @ cell.weight_ih[rows].T + cell.bias_ih[rows] + h @ cell.weight_hh[rows].T + cell.bias_hh[rows])


def reference_shares(model, x, lengths):
    """{track: (share < 0.05, share > 0.95, mean)} over the valid (example, step, unit) triples, one example at a time."""
    rnn = model.rnn
    dirs = 2 if rnn.bidirectional else 1
    Cell = nn.LSTMCell if model.kind == "LSTM" else nn.GRUCell
    values = {}
    with torch.no_grad():
        per_example = [[x[n, p: p + 1] for p in range(int(lengths[n]))] for n in range(x.shape[0])]
        for l in range(rnn.num_layers):
            nxt = [[None] * len(rows) for rows in per_example]
            for d in range(dirs):
                cell = Cell(I if l == 0 else H * dirs, H).double()
                sfx = f"_l{l}" + ("_reverse" if d else "")
                for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(cell, p).copy_(getattr(rnn, p + sfx))
                name = "rnn" if rnn.num_layers == 1 and dirs == 1 else f"rnn.l{l}" + (".reverse" if d else "")
                got = []
                for n, rows in enumerate(per_example):
                    state = None
                    for p in (range(len(rows) - 1, -1, -1) if d else range(len(rows))):
                        h = torch.zeros(1, H, dtype=torch.float64) if state is None else (
                            state[0] if model.kind == "LSTM" else state)
                        got.append(gate_of(model.kind, cell, rows[p], h))
                        state = cell(rows[p], state)
                        out = state[0] if model.kind == "LSTM" else state
                        nxt[n][p] = out if nxt[n][p] is None else torch.cat([nxt[n][p], out], 1)
                g = torch.cat(got)
                values[name] = ((g < 0.05).double().mean().item(), (g > 0.95).double().mean().item(), g.mean().item())
            per_example = nxt
    return values


def watched(model, x, lengths, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = vanishing.watch(model, ((x, lengths), y), F.cross_entropy, every=1, **kw)
    w.close()
    return w


@pytest.mark.parametrize("kind,layers,bidirectional,packed", [("LSTM", 2, False, False), ("GRU", 3, False, True),
                                                               ("LSTM", 2, True, True), ("GRU", 1, True, False)])
def test_fused_gate_shares_match_a_hand_computed_float64_gate(kind, layers, bidirectional, packed):
    torch.manual_seed(0)
    model = Fused(kind, layers, bidirectional, packed).double()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(9, 6, I, generator=g, dtype=torch.float64)
    lengths = torch.randint(1, 7, (9,), generator=g) if packed else torch.full((9,), 6)
    w = watched(model, x, lengths, torch.randint(0, C, (9,), generator=g))
    gs = w.tables()["gate_saturation"].set_index("layer")
    expect = reference_shares(model, x, lengths)
    assert list(gs.index) == list(expect)
    assert set(gs["gate"]) == {"forget" if kind == "LSTM" else "update"}
    for name, (low, high, mean) in expect.items():
        assert gs.loc[name, "low"] == pytest.approx(low, abs=1e-12)
        assert gs.loc[name, "high"] == pytest.approx(high, abs=1e-12)
        assert gs.loc[name, "mean"] == pytest.approx(mean, rel=1e-9)
        assert gs.loc[name, "n"] == int(lengths.sum()) * H
        assert 0.4 < low < 0.6 and 0.15 < high < 0.35  # the biased units: the gate chunk is the right one
    d = w.diagnose()
    v = d.verdict("gate_saturated")
    assert v is not None and set(v.layers) == set(expect)
    assert any("forget-gate bias to 1" in r for r in v.remedies)
    assert any("stuck at 1" in r for r in v.remedies) == any(high > 0.25 for _, high, _ in expect.values())
    rec = d.recurrent.set_index("layer")
    assert rec.loc[list(expect)[0], "gate_low"] == pytest.approx(expect[list(expect)[0]][0], abs=1e-12)
    assert "<0.05" in str(d) and "GATE SATURATED" in str(d)


def test_gru_update_gate_is_the_keep_gate():
    # z ≈ 1 keeps h_{t−1}: the documented meaning of "update" saturation at 1 (copy) and 0 (overwrite)
    cell = nn.GRUCell(I, H).double()
    with torch.no_grad():
        cell.bias_ih[H: 2 * H] = 30.0
    h = torch.randn(4, H, dtype=torch.float64)
    torch.testing.assert_close(cell(torch.randn(4, I, dtype=torch.float64), h), h)


class CellLoop(nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.lstm = cell == "LSTMCell"
        self.cell = getattr(nn, cell)(I, H)
        _bias_gate(self.cell.bias_ih, self.cell.bias_hh)
        self.head = nn.Linear(H, C)

    def forward(self, x):
        state = None
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
        return self.head(state[0] if self.lstm else state)


@pytest.mark.parametrize("cell", ["LSTMCell", "GRUCell"])
def test_cell_loop_gate_shares_match_the_hand_computed_gate(cell):
    torch.manual_seed(0)
    model = CellLoop(cell).double()
    x, y = torch.randn(10, 5, I, dtype=torch.float64), torch.randint(0, C, (10,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = vanishing.watch(model, (x, y), F.cross_entropy, every=1)
    w.close()
    gates, state = [], None
    with torch.no_grad():
        for t in range(5):
            h = torch.zeros(10, H, dtype=torch.float64) if state is None else (state[0] if model.lstm else state)
            gates.append(gate_of("LSTM" if model.lstm else "GRU", model.cell, x[:, t], h))
            state = model.cell(x[:, t], state)
    g = torch.cat(gates)
    row = w.tables()["gate_saturation"].set_index("layer").loc["cell"]
    assert row["gate"] == ("forget" if model.lstm else "update")
    assert row["low"] == pytest.approx((g < 0.05).double().mean().item(), abs=1e-12)
    assert row["high"] == pytest.approx((g > 0.95).double().mean().item(), abs=1e-12)
    assert row["n"] == g.numel()
    d = w.diagnose()
    assert "cell" in d.verdict("gate_saturated").layers
    assert d.recurrent.set_index("layer").loc["cell", "steps"] == 5  # through time and gates on one row


def test_default_init_lstm_is_not_gate_saturated_and_closed_gates_name_the_forget_bias():
    torch.manual_seed(0)
    model = Fused("LSTM", layers=1).double()
    with torch.no_grad():  # torch's default init, then every forget gate shut
        model.rnn.reset_parameters()
    x, y = torch.randn(16, 10, I, dtype=torch.float64), torch.randint(0, C, (16,))
    lengths = torch.full((16,), 10)
    d = watched(model, x, lengths, y).diagnose()
    assert d.verdict("gate_saturated") is None
    with torch.no_grad():
        model.rnn.bias_ih_l0[H: 2 * H] = -8.0
    d = watched(model, x, lengths, y).diagnose()
    v = d.verdict("gate_saturated")
    assert v is not None and v.evidence["gates"]["rnn"]["low"] > 0.9
    assert "drops the state" in v.summary and v.remedies[0].startswith("Initialise the LSTM forget-gate bias to 1")
    tv = d.verdict("vanishing_through_time")  # a shut forget gate: the signal dies within a few steps
    assert tv is not None and "forget gate is < 0.05" in tv.summary
    assert tv.remedies[0].startswith("Initialise the LSTM forget-gate bias to 1")
