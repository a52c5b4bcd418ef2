"""Recurrent layers at a snapshot: fused ``nn.RNN``/``nn.GRU``/``nn.LSTM`` stepped in Python, and gate saturation.

**Unrolling.** A fused kernel's output sequence carries ∂L/∂h_t only through the direct use of ``out[t]``; the
total derivative (through every later step) needs each h_t to be a tensor of the graph. :func:`unroll` recomputes
the module's output with the same weights, one cell step at a time, every (layer l, direction d) in turn — the
equations of the ``nn.RNN``/``nn.LSTM``/``nn.GRU`` docstrings, gate order as in torch's weights
(LSTM i, f, g, o; GRU r, z, n)::

    RNN   h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)             (relu for nonlinearity="relu")
    LSTM  i, f, g, o = σ, σ, tanh, σ of (W_ih x_t + b_ih + W_hh h_{t−1} + b_hh), in four chunks
          c_t = f ⊙ c_{t−1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)   (then h_t = W_hr h_t with proj_size > 0)
    GRU   r, z = σ of the first two chunks of (W_ih x_t + b_ih) + (W_hh h_{t−1} + b_hh)
          n = tanh(W_in x_t + b_in + r ⊙ (W_hn h_{t−1} + b_hn)),   h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}

Layer l > 0 reads the concatenated outputs of layer l − 1's directions; inter-layer dropout is not applied (a
snapshot runs in eval mode, where it is off; :func:`unroll` declines a module in training mode with dropout).
The reverse direction steps t = T … 1. A ``PackedSequence`` is unpacked; sequence n of length L_n is stepped at
its own positions only (the state is held where t ≥ L_n, so the reverse direction starts at its own last
position), and the output is packed again with the input's ``batch_sizes`` and sort order.

**Tracks.** Each (layer, direction) is one recurrent "layer" to the watcher: a :class:`Track` with its h_t (and
c_t for an LSTM), the per-example lengths and the gate values. Its name is the module's name for a one-layer
one-direction module, else ``name.l{l}`` and ``name.l{l}.reverse`` — torch's parameter suffixes ``_l{l}`` and
``_l{l}_reverse``.

**Gates.** The gate that decides how much state is kept: the LSTM forget gate f and the GRU update gate z. Both
keep the state when ≈ 1 and drop it when ≈ 0. :func:`gate_counts` gives the share of values below ``LOW`` = 0.05
and above ``HIGH`` = 0.95 (within 5 % of 0 or 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

LOW, HIGH = 0.05, 0.95  # a gate value below LOW or above HIGH is saturated (within 5 % of 0 or 1)
GATE_OF = {"LSTM": "forget", "GRU": "update"}  # the gate that keeps (≈ 1) or drops (≈ 0) the state


@dataclass
class Track:
    """One (layer, direction) of a fused recurrent module, stepped: what the snapshot reads through time.

    ``hs[p]``/``cs[p]``: h and c computed at sequence position p (0-based, (N, H), in the graph; ``cs`` None for
    RNN/GRU). Rows of examples whose sequence is shorter than p + 1 are unused (packed input). ``lengths``: (N,)
    per-example lengths (all T when not packed). ``reverse``: stepped T … 1. ``gate``: "forget", "update" or None;
    ``gates``: summed counts (values, < LOW, > HIGH, sum) over the valid (example, position, unit) triples.
    """

    name: str
    hs: list[torch.Tensor]
    lengths: torch.Tensor
    reverse: bool = False
    cs: list[torch.Tensor] | None = None
    gate: str | None = None
    gates: torch.Tensor | None = None
    steps: int = field(init=False)

    def __post_init__(self) -> None:
        self.steps = len(self.hs)

    def positions(self, lag: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(position p_n, valid_n) of lag k: forward p = L_n − 1 − k (steps before its last one); reverse p = k."""
        lengths = self.lengths
        p = torch.full_like(lengths, lag) if self.reverse else lengths - 1 - lag
        return p.clamp(min=0), (p >= 0) & (p < lengths)


def fused_through_time(module: nn.Module) -> bool:
    """A fused ``nn.RNN``/``nn.GRU``/``nn.LSTM`` (any number of layers, either direction, proj_size) read through time."""
    return isinstance(module, (nn.RNN, nn.GRU, nn.LSTM))


def track_names(name: str, module: nn.Module) -> list[tuple[int, int, str]]:
    """(layer, direction, track name) of every (layer, direction), in torch's order (l0, l0.reverse, l1, …)."""
    dirs = 2 if module.bidirectional else 1
    if module.num_layers == 1 and dirs == 1:
        return [(0, 0, name)]
    return [(l, d, f"{name}.l{l}" + (".reverse" if d else "")) for l in range(module.num_layers) for d in range(dirs)]


def gate_counts(gate: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """(count, # < LOW, # > HIGH, sum) of gate values (N, H) as a float64 tensor; ``valid`` (N,) keeps rows."""
    g = gate.detach().double()
    if valid is not None:
        g = g[valid]
    return torch.stack([g.new_tensor(float(g.numel())), (g < LOW).sum().double(), (g > HIGH).sum().double(), g.sum()])


def _weights(module: nn.Module, layer: int, direction: int) -> dict[str, torch.Tensor | None]:
    sfx = f"_l{layer}" + ("_reverse" if direction else "")
    return {k: getattr(module, k + sfx, None) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")}


def rnn_step(kind: str, x, h, c, w):
    """One cell step (the equations of the module docstring): (h_t, c_t or None, gate or None)."""
    gi = F.linear(x, w["weight_ih"], w["bias_ih"])
    gh = F.linear(h, w["weight_hh"], w["bias_hh"])
    if kind == "LSTM":
        i, f, g, o = (gi + gh).chunk(4, 1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        c = f * c + i * g
        h = o * c.tanh()
        return (F.linear(h, w["weight_hr"]) if w["weight_hr"] is not None else h), c, f
    if kind == "GRU":
        ir, iz, in_ = gi.chunk(3, 1)
        hr, hz, hn = gh.chunk(3, 1)
        r, z = (ir + hr).sigmoid(), (iz + hz).sigmoid()
        n = (in_ + r * hn).tanh()
        return (1 - z) * n + z * h, None, z
    pre = gi + gh
    return (pre.tanh() if kind == "tanh" else pre.relu()), None, None


def with_state(module: nn.Module, inputs: tuple, kwargs: dict) -> tuple:
    """The positional inputs of one ``nn.RNNCellBase`` call with ``input=`` / ``hx=`` passed by keyword folded in.

    Forward hooks see keyword arguments only when registered ``with_kwargs=True``; a loop that calls
    ``cell(x, hx=state)`` would otherwise be read as if it started every step from a zero state.
    """
    if not isinstance(module, nn.RNNCellBase) or not kwargs:
        return inputs
    if not inputs and "input" in kwargs:
        inputs = (kwargs["input"],)
    if len(inputs) == 1 and kwargs.get("hx") is not None:
        inputs = (inputs[0], kwargs["hx"])
    return inputs


# The recomputed step must agree with the module's own output this closely (float32 across devices, TF32 included),
# else the module is not the stock cell (a subclass with its own forward) and its output stands.
_SAME_STEP = {"rtol": 1e-3, "atol": 1e-4}


def lstm_cell_step(module: nn.LSTMCell, inputs: tuple, output=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """One ``nn.LSTMCell`` call recomputed in the graph (:func:`rnn_step`): (h_t, c_t, forget gate f), or None.

    Why: the cell's own c output carries ∂L/∂c_t through its later uses only where torch runs a fused kernel (CUDA:
    ``_thnn_fused_lstm_cell`` returns h_t and c_t side by side), but also through h_t = o ⊙ tanh(c_t) where it runs
    the composite (CPU). Stepping the equations makes h_t a function of the c_t tensor on every device, so the
    gradient at c_t is the total ∂L/∂c_t (a frozen cell fed a state without grad steps from a leaf copy of
    that state, so its first call is read too). None (the call stands as is) for unbatched (1-d) input, without grad, or
    when ``output`` (the module's own (h, c)) is given and the recomputed step does not match it — a subclass
    with its own ``forward`` is never replaced by the stock equations.
    """
    if not torch.is_grad_enabled() or not inputs or not isinstance(inputs[0], torch.Tensor) or inputs[0].dim() != 2:
        return None
    x = inputs[0]
    state = inputs[1] if len(inputs) > 1 else None
    if state is None:
        h = c = x.new_zeros(x.shape[0], module.hidden_size)
    else:
        h, c = state
    w = {"weight_ih": module.weight_ih, "weight_hh": module.weight_hh, "bias_ih": module.bias_ih,
         "bias_hh": module.bias_hh, "weight_hr": None}
    if not any(t is not None and t.requires_grad for t in (x, h, c, *w.values())):
        h, c = h.detach().requires_grad_(True), c.detach().requires_grad_(True)  # a frozen first cell: c_1 still in a graph
    stepped = rnn_step("LSTM", x, h, c, w)
    if output is not None:
        if not (isinstance(output, tuple) and len(output) == 2 and all(isinstance(o, torch.Tensor) for o in output)):
            return None
        with torch.no_grad():
            same = all(a.shape == b.shape and torch.allclose(a, b, **_SAME_STEP) for a, b in zip(stepped[:2], output))
        if not same:
            return None
    return stepped


def cell_gate(module: nn.Module, inputs: tuple) -> torch.Tensor | None:
    """Gate counts (:func:`gate_counts`) of one ``nn.LSTMCell`` (forget gate) or ``nn.GRUCell`` (update gate) call."""
    if not isinstance(module, (nn.LSTMCell, nn.GRUCell)) or not inputs or not isinstance(inputs[0], torch.Tensor):
        return None
    if type(module).forward not in (nn.LSTMCell.forward, nn.GRUCell.forward):
        return None  # a subclass with its own forward: its gates are not the stock equations'
    x = inputs[0] if inputs[0].dim() == 2 else inputs[0].unsqueeze(0)
    state = inputs[1] if len(inputs) > 1 else None
    if isinstance(module, nn.LSTMCell):
        state = state[0] if state is not None else None
    h = x.new_zeros(x.shape[0], module.hidden_size) if state is None else (state if state.dim() == 2 else state.unsqueeze(0))
    w = {"weight_ih": module.weight_ih, "weight_hh": module.weight_hh, "bias_ih": module.bias_ih,
         "bias_hh": module.bias_hh, "weight_hr": None}
    kind = "LSTM" if isinstance(module, nn.LSTMCell) else "GRU"
    with torch.no_grad():
        _, _, gate = rnn_step(kind, x, h, torch.zeros_like(h) if kind == "LSTM" else None, w)
    return gate_counts(gate)


def _kind(module: nn.Module) -> str:
    if isinstance(module, nn.LSTM):
        return "LSTM"
    if isinstance(module, nn.GRU):
        return "GRU"
    return module.nonlinearity  # nn.RNN: "tanh" or "relu"


def _direction(kind, xs, h, c, w, lengths, reverse, name):
    """Step one direction over xs (T, N, I): (outputs (T, N, H_out), h_last, c_last, Track)."""
    T = xs.shape[0]
    outs: list[torch.Tensor | None] = [None] * T
    hs: list[torch.Tensor | None] = [None] * T
    cs: list[torch.Tensor | None] = [None] * T
    counts = None
    order = range(T - 1, -1, -1) if reverse else range(T)
    for p in order:
        hn, cn, gate = rnn_step(kind, xs[p], h, c, w)
        hs[p], cs[p] = hn, cn
        valid = lengths > p
        if gate is not None:
            part = gate_counts(gate, valid)
            counts = part if counts is None else counts + part
        m = valid.unsqueeze(1)
        h = torch.where(m, hn, h)
        c = torch.where(m, cn, c) if cn is not None else None
        outs[p] = torch.where(m, hn, torch.zeros_like(hn))
    track = Track(name, hs, lengths, reverse, cs if kind == "LSTM" else None, GATE_OF.get(kind), counts)
    return torch.stack(outs), h, c, track


def _initial(module: nn.Module, hx: Any, n: int, ref: torch.Tensor):
    """(h0, c0 or None) of shape (L·D, N, ·): the given hx, or zeros."""
    lstm = isinstance(module, nn.LSTM)
    dirs = 2 if module.bidirectional else 1
    h_out = module.proj_size if lstm and module.proj_size > 0 else module.hidden_size
    if hx is None:
        h0 = ref.new_zeros(module.num_layers * dirs, n, h_out)
        return h0, (ref.new_zeros(module.num_layers * dirs, n, module.hidden_size) if lstm else None)
    return (hx[0], hx[1]) if lstm else (hx, None)


def unroll(module: nn.Module, inputs: tuple, name: str = "") -> tuple[Any, list[Track]] | None:
    """The module's output recomputed by stepping its cells (same weights; equal to rounding): (output, tracks).

    ``output`` has the structure of the module's own ((out, h_n) or (out, (h_n, c_n)); out a PackedSequence for
    packed input). None where it does not apply: unbatched (2-d) input, or training mode with dropout between
    layers (the snapshot runs in eval mode, so this does not happen there).
    """
    x = inputs[0] if inputs else None
    if module.training and module.dropout > 0 and module.num_layers > 1:
        return None
    packed = isinstance(x, PackedSequence)
    if packed:
        xs, lengths = pad_packed_sequence(x)  # (T, N, I), original order
    elif isinstance(x, torch.Tensor) and x.dim() == 3:
        xs = x.transpose(0, 1) if module.batch_first else x
        lengths = None
    else:
        return None
    T, n = xs.shape[0], xs.shape[1]
    lengths = torch.full((n,), T, dtype=torch.long) if lengths is None else lengths
    lengths = lengths.to(xs.device)
    h0, c0 = _initial(module, inputs[1] if len(inputs) > 1 else None, n, xs)
    kind, tracks, h_last, c_last = _kind(module), [], [], []
    dirs = 2 if module.bidirectional else 1
    layer_in = xs
    for (l, d, track_name) in track_names(name, module):
        if d == 0:
            outs = []
        i = l * dirs + d
        out, h, c, track = _direction(kind, layer_in, h0[i], c0[i] if c0 is not None else None,
                                      _weights(module, l, d), lengths, bool(d), track_name)
        outs.append(out)
        h_last.append(h)
        c_last.append(c)
        tracks.append(track)
        if d == dirs - 1:
            layer_in = torch.cat(outs, 2) if dirs == 2 else outs[0]
    h_n = torch.stack(h_last)
    state = (h_n, torch.stack(c_last)) if c0 is not None else h_n
    if packed:
        return (_repack(layer_in, x), state), tracks
    return ((layer_in.transpose(0, 1) if module.batch_first else layer_in), state), tracks


def _repack(out: torch.Tensor, like: PackedSequence) -> PackedSequence:
    """(T, N, H) outputs in original example order → a PackedSequence with ``like``'s batch sizes and sort order."""
    order = like.sorted_indices if like.sorted_indices is not None else torch.arange(out.shape[1], device=out.device)
    sizes = like.batch_sizes.tolist()
    data = torch.cat([out[p, order[:b]] for p, b in enumerate(sizes)])
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


def _norms(grads: list[torch.Tensor | None], like: list[torch.Tensor]) -> torch.Tensor:
    """(T, N) per-example ‖g_p,n‖ (float32 or float64); a missing gradient is zero."""
    rows = []
    for g, h in zip(grads, like):
        g = torch.zeros_like(h) if g is None else g.detach()
        g = g if g.dtype == torch.float64 else g.float()
        rows.append(torch.linalg.vector_norm(g.reshape(g.shape[0], -1), dim=1))
    return torch.stack(rows)


def lag_rows(track: Track, grads_h: list, grads_c: list | None = None) -> list[tuple[int, int, int, float, float]]:
    """(lag k, t = T − k, n_k, RMS_k ‖∂L/∂h‖, RMS_k ‖∂L/∂c‖ or NaN) for k = 0 … T − 1.

    RMS_k = ((1/n_k) Σ_n ‖∂(Σ_m E_m)/∂h_{p_n(k), n}‖²)^½ over the n_k examples that have a step at lag k, with
    p_n(k) of :meth:`Track.positions` (forward: L_n − 1 − k; reverse: k). Unpacked, every n_k = N and t is the
    position for the forward direction, T + 1 − position for the reverse one: t counts the direction's own steps.
    """
    norms_h = _norms(grads_h, track.hs)
    norms_c = _norms(grads_c, track.cs) if grads_c is not None and track.cs is not None else None
    cols = torch.arange(norms_h.shape[1], device=norms_h.device)
    rows = []
    for k in range(track.steps):
        p, valid = track.positions(k)
        count = int(valid.sum())
        if count == 0:
            continue
        rms = float(norms_h[p, cols][valid].square().mean().sqrt())
        rms_c = float(norms_c[p, cols][valid].square().mean().sqrt()) if norms_c is not None else float("nan")
        rows.append((k, track.steps - k, count, rms, rms_c))
    return rows


def gate_summary(counts: torch.Tensor) -> tuple[int, float, float, float]:
    """(values counted, share < LOW, share > HIGH, mean) from summed :func:`gate_counts`."""
    n, low, high, total = (float(v) for v in counts.cpu())
    if n == 0:
        return 0, float("nan"), float("nan"), float("nan")
    return int(n), low / n, high / n, total / n
