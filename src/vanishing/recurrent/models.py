"""Recurrent nets from torch modules: Elman RNN (tanh, sigmoid, ReLU), LSTM and GRU, plus a linear readout.

Cells (all with the parameter layout of ``torch.nn.RNN`` / ``LSTM`` / ``GRU``:
``weight_ih_l0`` (G·H × I), ``weight_hh_l0`` (G·H × H), ``bias_ih_l0``,
``bias_hh_l0``, G gate blocks stacked in torch's order)::

    rnn_tanh, rnn_relu   h_t = f(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)            nn.RNN (Elman 1990)
    rnn_sigmoid          the same with f = σ; nn.RNN has no sigmoid, so          SigmoidRNN below
                         SigmoidRNN loops over time with the same parameters
    lstm                 i, f, g, o = σ, σ, tanh, σ of W_ih x_t + b_ih + W_hh h_{t−1} + b_hh
                         c_t = f ⊙ c_{t−1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)           nn.LSTM (Hochreiter &
                                                                                 Schmidhuber 1997; Gers 2000)
    gru                  r, z = σ(…), n = tanh(W_in x_t + b_in + r ⊙ (W_hn h_{t−1} + b_hn))
                         h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}                           nn.GRU (Cho et al. 2014)

Training uses the fused torch modules (fast); the probes re-run the same
equations step by step with :func:`unroll` (any dtype, every hidden state a
node of the autograd graph), which ``tests/test_recurrent_models.py`` checks
against the fused modules.

Initialisation (:func:`init_recurrent_`): every gate block separately with the
schemes of :mod:`vanishing.init` — ``init`` for the H × I input block,
``recurrent_init`` for the H × H recurrent block (``orthogonal(gain=g)``:
W_hh W_hhᵀ = g²·I, Saxe et al. 2014; ``torch_default`` = U(±1/√H), what
``nn.RNN`` draws), ``bias_init`` for both biases — then the LSTM's forget-gate
bias b_f = ``forget_bias`` (on ``bias_ih``; ``bias_hh``'s forget block is 0).
The readout is Xavier-uniform with zero bias. All draws come from one
``torch.Generator`` seeded by the run seed.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import init as inits
from .config import RecurrentConfig
from .tasks import Task

GATES = {"rnn_tanh": 1, "rnn_sigmoid": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}
ELMAN = {"rnn_tanh": "tanh", "rnn_sigmoid": "sigmoid", "rnn_relu": "relu"}  # cell → activation of the registry
BLOCKS = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}  # torch's gate order


class SigmoidRNN(nn.Module):
    """Elman RNN with the logistic sigmoid, h_t = σ(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh).

    Same parameter names and call convention as ``nn.RNN(batch_first=True)``
    (which offers tanh and ReLU only): ``forward(x)`` with x (B, T, I) returns
    (outputs (B, T, H), h_T (1, B, H)).
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih_l0 = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.bias_ih_l0 = nn.Parameter(torch.zeros(hidden_size))
        self.bias_hh_l0 = nn.Parameter(torch.zeros(hidden_size))

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None):
        drive = x @ self.weight_ih_l0.T + (self.bias_ih_l0 + self.bias_hh_l0)  # (B, T, H), all steps at once
        h = x.new_zeros(x.shape[0], self.hidden_size) if h0 is None else h0[0]
        outs = []
        for t in range(x.shape[1]):
            h = torch.sigmoid(torch.addmm(drive[:, t], h, self.weight_hh_l0.T))
            outs.append(h)
        return torch.stack(outs, dim=1), h.unsqueeze(0)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, nonlinearity=sigmoid, batch_first=True"


class RecurrentNet(nn.Module):
    """A recurrent cell over the sequence and a linear readout at the last ``readout_steps`` steps.

    ``forward(x)`` → (B,) for one scalar output (adding), else (B, S, K) logits (copy).
    """

    def __init__(self, cell: str, input_size: int, hidden: int, output_size: int, readout_steps: int) -> None:
        super().__init__()
        if cell not in GATES:
            raise ValueError(f"unknown cell {cell!r} (valid: {', '.join(GATES)})")
        self.cell, self.hidden, self.output_size, self.readout_steps = cell, hidden, output_size, readout_steps
        if cell == "rnn_sigmoid":
            self.rnn = SigmoidRNN(input_size, hidden)
        elif cell in ELMAN:
            self.rnn = nn.RNN(input_size, hidden, nonlinearity=ELMAN[cell], batch_first=True)
        elif cell == "lstm":
            self.rnn = nn.LSTM(input_size, hidden, batch_first=True)
        else:
            self.rnn = nn.GRU(input_size, hidden, batch_first=True)
        self.head = nn.Linear(hidden, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.readout(out[:, x.shape[1] - self.readout_steps:])

    def readout(self, states: torch.Tensor, weight: torch.Tensor | None = None,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        """Outputs from the hidden states of the answered steps, ``states`` (B, S, H).

        ``weight``/``bias`` replace the readout's own (the float64 probes pass copies).
        """
        if weight is None:
            weight, bias = self.head.weight, self.head.bias
        o = torch.nn.functional.linear(states, weight, bias)
        if self.output_size == 1 and self.readout_steps == 1:
            return o[:, -1, 0]
        return o

    def extra_repr(self) -> str:
        return f"cell={self.cell}, readout_steps={self.readout_steps}"


def parameters_of(model: RecurrentNet, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """The cell's four tensors (W_ih, W_hh, b_ih, b_hh) and the readout's, detached copies in ``dtype``."""
    r = model.rnn
    names = {"W_ih": r.weight_ih_l0, "W_hh": r.weight_hh_l0, "b_ih": r.bias_ih_l0, "b_hh": r.bias_hh_l0,
             "W_o": model.head.weight, "b_o": model.head.bias}
    return {k: v.detach().to(dtype or v.dtype).clone() for k, v in names.items()}


def recurrent_blocks(model: RecurrentNet) -> dict[str, torch.Tensor]:
    """The H × H recurrent matrices, one per gate block: ``W_hh`` (Elman), ``i f g o`` (LSTM), ``r z n`` (GRU)."""
    W = model.rnn.weight_hh_l0.detach()
    if model.cell in ELMAN:
        return {"W_hh": W}
    return dict(zip(BLOCKS[model.cell], W.chunk(GATES[model.cell], dim=0)))


def step(cell: str, P: dict[str, torch.Tensor], x_t: torch.Tensor, state: tuple[torch.Tensor, ...]):
    """One time step written out (the equations of the module docstring).

    Returns (new state, extras): the state is (h,) or (h, c) for the LSTM;
    extras hold what the theory lines need — the pre-activation ``a`` (Elman),
    the forget gate ``f`` (LSTM), the update gate ``z`` (GRU).
    """
    gi = x_t @ P["W_ih"].T + P["b_ih"]
    gh = state[0] @ P["W_hh"].T + P["b_hh"]
    if cell in ELMAN:
        a = gi + gh
        h = torch.tanh(a) if cell == "rnn_tanh" else torch.sigmoid(a) if cell == "rnn_sigmoid" else torch.relu(a)
        return (h,), {"a": a}
    if cell == "lstm":
        i, f, g, o = (gi + gh).chunk(4, dim=1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * state[1] + i * g
        return (o * torch.tanh(c), c), {"f": f}
    ir, iz, in_ = gi.chunk(3, dim=1)
    hr, hz, hn = gh.chunk(3, dim=1)
    r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
    n = torch.tanh(in_ + r * hn)
    return ((1 - z) * n + z * state[0],), {"z": z}


def unroll(cell: str, P: dict[str, torch.Tensor], x: torch.Tensor, *, track: bool = False):
    """Run the cell step by step over x (B, T, I) from a zero state.

    Returns (states, extras): ``states[t]`` is the state tuple after step
    t + 1, ``extras[t]`` the :func:`step` extras of that step. With
    ``track`` the zero initial state requires grad, so every state is a node
    of the autograd graph even when neither P nor x does.
    """
    B, T, _ = x.shape
    H = P["W_hh"].shape[1]
    state = tuple(x.new_zeros(B, H).requires_grad_(track) for _ in range(2 if cell == "lstm" else 1))
    states, extras = [], []
    for t in range(T):
        state, extra = step(cell, P, x[:, t], state)
        states.append(state)
        extras.append(extra)
    return states, extras


def _block_activation(cell: str) -> str:
    return ELMAN.get(cell, "tanh")


def init_recurrent_(model: RecurrentNet, cfg: RecurrentConfig, generator: torch.Generator) -> None:
    """Initialise ``model`` in place by gate block (see the module docstring)."""
    r = model.rnn
    H, G = model.hidden, GATES[model.cell]
    act = _block_activation(model.cell)
    with torch.no_grad():
        for b in range(G):
            rows = slice(b * H, (b + 1) * H)
            for weight, bias, fan_in, scheme in ((r.weight_ih_l0, r.bias_ih_l0, r.weight_ih_l0.shape[1], cfg.init),
                                                 (r.weight_hh_l0, r.bias_hh_l0, H, cfg.recurrent_init)):
                tmp = nn.Linear(fan_in, H)
                inits.init_linear_(tmp, scheme, cfg.bias_init, act, generator=generator)
                weight[rows].copy_(tmp.weight)
                bias[rows].copy_(tmp.bias)
        if model.cell == "lstm":
            r.bias_ih_l0[H:2 * H].fill_(cfg.forget_bias)
            r.bias_hh_l0[H:2 * H].zero_()
    inits.init_linear_(model.head, "xavier_uniform", "zeros", "linear", generator=generator)


def build(cfg: RecurrentConfig, task: Task | None = None) -> RecurrentNet:
    """The model of ``cfg``, initialised from a generator seeded by ``cfg.seed``."""
    task = task or Task(cfg.task, cfg.length, cfg.symbols, cfg.categories)
    model = RecurrentNet(cfg.cell, task.input_size, cfg.hidden, task.output_size, task.readout_steps)
    init_recurrent_(model, cfg, torch.Generator().manual_seed(cfg.seed))
    return model
