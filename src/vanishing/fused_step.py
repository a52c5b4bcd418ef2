"""The fused training step: explicit layer-wise backpropagation of a plain MLP in preallocated buffers.

For a network without normalisation, skips or learned activation parameters
(the networks of the seed papers) the engine runs the backpropagation
equations directly instead of recording an autograd graph (Rumelhart, Hinton
& Williams 1986; the notation of :mod:`vanishing.model`)::

    forward    a_l = h_{l-1} W_lᵀ + b_l,   h_l = f_l(a_l),   h_0 = x,   z = a_{L+1}
    output     δ_{L+1} = ∂E/∂z            E = mean loss over the batch
    backward   δ_l = (δ_{l+1} W_{l+1}) ⊙ f_l′(a_l)
    gradients  ∂E/∂W_l = δ_lᵀ h_{l-1},   ∂E/∂b_l = Σ_batch δ_l

Every a_l, h_l and δ_l lives in a buffer allocated once per run, and every
GEMM writes into its destination (``out=``), so a step allocates almost
nothing. f′ comes from the activation registry (:mod:`vanishing.activations`,
checked against autograd there), except for sigmoid, tanh and relu, whose
g ⊙ f′ is computed from the layer output h by the kernels torch's own
backward runs, in place: σ′ = h(1 − h) (``sigmoid_backward``), tanh′ = 1 − h²
(``tanh_backward``), relu′ = [h > 0] (``threshold_backward``; = [a > 0],
torch's value 0 at a = 0) — a masked fill was 14× slower. ∂E/∂z is written out for
cross-entropy on softmax, softmax(z) − onehot(y), and for ½Σ(d − y)² on a
sigmoid output, (y − d)·y(1 − y), both divided by the batch size; any other
loss/output pair takes ∂E/∂z from autograd on the B × K output alone.

Two ways to finish the step:

* **gradients** — ∂E/∂W_l and ∂E/∂b_l go into each parameter's ``.grad``
  (allocated once), and the caller runs callbacks, clipping and
  ``optimizer.step()`` exactly as after ``loss.backward()``;
* **inline SGD** — for plain SGD (no momentum, no weight decay) when nothing
  looks at the gradients, the update is folded into the weight-gradient GEMM,
  ``W_l ← W_l − η δ_lᵀ h_{l-1}`` (one in-place ``addmm_``: no gradient tensor
  is written and no separate update pass runs), done for layer l right after
  δ_{l-1} has been computed from the old W_l. torch's SGD keeps no state
  without momentum, so the optimizer's state is what ``SGD.step`` would leave.

Results equal the autograd step up to floating-point rounding
(tests/test_fused_step.py, against autograd in float64: 20 Adam steps for
every activation, the gradients of one step for every loss/output pair,
20 inline-SGD steps, a short last batch, and stacked weights). Why it exists:
the benchmarks of docs/performance.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .activations import ActivationModule
from .losses import Loss
from .model import MLP

_aten = torch.ops.aten


def unsupported_reason(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> str | None:
    """Why the fused step cannot train this model with this optimizer, or None when it can.

    ``model`` is an :class:`MLP` or a seed-batched
    :class:`~vanishing.seedbatch.stacked.StackedMLP` (same layer structure,
    weights with a leading seed dimension).
    """
    if not (isinstance(model, MLP) or type(model).__name__ == "StackedMLP"):
        return "the model is not a vanishing MLP"
    for name, layer in zip(model.layer_names, model.hidden_layers):
        if layer.norm is not None or layer.layer_norm is not None or layer.residual:
            return f"{name} has batch norm, layer norm or a skip connection"
        if type(layer.act) is not ActivationModule:
            return f"{name}'s activation {layer.act.activation.spec} has parameters or noise"
    linears = _linears(model)
    if len(list(model.parameters())) != 2 * len(linears) or any(lin.bias is None for lin in linears):
        return "the model has parameters besides the linear layers' weights and biases"
    if not all(p.requires_grad for p in model.parameters()):
        return "some parameters are frozen"
    if getattr(optimizer, "needs_intermediates", False):
        return "the optimizer needs the layers' intermediates (SDAGD's curvature)"
    return None


def applies_to(config, engine: str = "auto") -> bool:
    """Whether runs of a resolved RunConfig take the fused step — :func:`unsupported_reason` read off the config.

    For planning before any model exists (the seed-batching rule); a test
    checks it agrees with :func:`unsupported_reason` on built models.
    """
    from .activations import get as get_activation
    from .optim import canonical

    m = config.model
    acts = [m.activation] if isinstance(m.activation, str) else list(m.activation)
    return (
        engine == "auto"
        and m.batch_norm == "off"
        and not m.layer_norm
        and not m.residual
        and not any(get_activation(a).name in ("prelu", "rrelu") for a in acts)
        and canonical(config.optim.optimizer)[0] != "sdagd"
    )


def for_run(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss: Loss, batch_size: int,
            engine: str = "auto") -> FusedMLPStep | None:
    """The fused step a training engine uses for this model and optimizer, or None for autograd."""
    if engine != "auto" or unsupported_reason(model, optimizer) is not None:
        return None
    return FusedMLPStep(model, loss, batch_size)


def _linears(model: torch.nn.Module) -> list:
    return [layer.linear for layer in model.hidden_layers] + [model.output]


def inline_sgd_applies(optimizer: torch.optim.Optimizer) -> bool:
    """True for ``torch.optim.SGD`` without momentum, weight decay or maximize (W ← W − η g)."""
    if type(optimizer) is not torch.optim.SGD or len(optimizer.param_groups) != 1:
        return False
    g = optimizer.param_groups[0]
    return g["momentum"] == 0 and g["weight_decay"] == 0 and not g.get("maximize", False) and not g["nesterov"]


class FusedMLPStep:
    """Forward, backward and (optionally) the SGD update of an MLP in preallocated buffers.

    Build it once per run with the largest batch size; call :meth:`step` per
    mini-batch. Check :func:`unsupported_reason` first. For a seed-batched
    :class:`~vanishing.seedbatch.stacked.StackedMLP` (weights [K, out, in])
    every tensor gains a leading seed dimension — x [K, B, in], y [K, B] —
    the GEMMs become batched (``baddbmm``/``bmm``), E is the sum over seeds
    of each seed's mean loss (so slice k of every gradient is seed k's), and
    :meth:`step` returns the K per-seed losses.
    """

    def __init__(self, model: torch.nn.Module, loss: Loss, batch_size: int) -> None:
        linears = _linears(model)
        self.weights = [lin.weight for lin in linears]
        self.biases = [lin.bias for lin in linears]
        self.activations = [layer.act.activation for layer in model.hidden_layers]
        self.loss = loss
        self.stacked = self.weights[0].dim() == 3
        self._widths = [w.shape[-2] for w in self.weights]
        self._sets: dict[int, _Buffers] = {}
        self._buffers(batch_size)
        pair = (loss.name, loss.output)
        self._output_rule = pair if pair in (("ce", "softmax"), ("mse", "sigmoid")) else None

    def _buffers(self, b: int) -> _Buffers:
        """The buffers for batches of b examples (the run's batch size, and its last, smaller batch)."""
        if b not in self._sets:
            w = self.weights[0]
            lead = (w.shape[0], b) if self.stacked else (b,)
            new = dict(device=w.device, dtype=w.dtype)
            self._sets[b] = _Buffers(
                pre=[torch.empty(*lead, n, **new) for n in self._widths],  # a_l; the last one is z
                post=[torch.empty(*lead, n, **new) for n in self._widths[:-1]],  # h_l
                delta=[torch.empty(*lead, n, **new) for n in self._widths],  # δ_l = ∂E/∂a_l
                minus_one=torch.full((*lead, 1), -1.0, **new),
            )
        return self._sets[b]

    # -- the step
    @torch.no_grad()
    def step(self, x: torch.Tensor, y: torch.Tensor, inline_lr: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One step on the batch (x, y): returns (mean loss — per seed when stacked —, z), both detached.

        ``inline_lr=None`` leaves ∂E/∂θ in every ``.grad``; a float applies
        ``θ ← θ − inline_lr · ∂E/∂θ`` inside the backward pass instead.
        """
        buf = self._buffers(x.shape[-2])
        inputs = [x]  # h_0 … h_L: the input of each linear layer
        n = len(self.weights)
        for i in range(n):
            a = buf.pre[i]
            _affine(inputs[-1], self.weights[i], self.biases[i], a)
            if i < n - 1:
                inputs.append(self._activate(i, a, buf.post[i]))
        z = buf.pre[-1]
        loss = self._output_delta(z, y, buf.delta[-1], buf.minus_one)
        for i in range(n - 1, -1, -1):
            d = buf.delta[i]
            h_in = inputs[i]
            if i > 0:  # δ_{i-1} from the old W_i, before W_i changes
                below = buf.delta[i - 1]
                torch.matmul(d, self.weights[i], out=below)
                self._times_derivative(i - 1, below, buf)
            if inline_lr is None:
                torch.matmul(d.transpose(-1, -2), h_in, out=_grad(self.weights[i]))
                torch.sum(d, -2, out=_grad(self.biases[i]))
            else:
                _add_outer(self.weights[i], d, h_in, -inline_lr)
                self.biases[i].sub_(d.sum(-2), alpha=inline_lr)
        return loss, z

    def _activate(self, i: int, a: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """h = f(a) into ``out`` (``linear``: a itself)."""
        name = self.activations[i].name
        if name == "sigmoid":
            return torch.sigmoid(a, out=out)
        if name == "tanh":
            return torch.tanh(a, out=out)
        if name == "relu":
            return torch.clamp(a, min=0, out=out)
        if name == "linear":
            return a
        return out.copy_(self.activations[i].fast(a))

    def _times_derivative(self, i: int, g: torch.Tensor, buf: _Buffers) -> None:
        """g ← g ⊙ f_i′(a_i), in place."""
        act = self.activations[i]
        if act.name == "linear":
            return
        h = buf.post[i]
        if act.name == "sigmoid":
            _aten.sigmoid_backward.grad_input(g, h, grad_input=g)
        elif act.name == "tanh":
            _aten.tanh_backward.grad_input(g, h, grad_input=g)
        elif act.name == "relu":
            _aten.threshold_backward.grad_input(g, h, 0.0, grad_input=g)
        else:
            g.mul_(act.df(buf.pre[i]))

    def _output_delta(self, z: torch.Tensor, y: torch.Tensor, out: torch.Tensor, minus_one: torch.Tensor) -> torch.Tensor:
        """Write ∂E/∂z into ``out``; return the mean loss (per seed when stacked)."""
        b = z.shape[-2]
        target = y.view(z.shape[:-1]).unsqueeze(-1)
        if self._output_rule == ("ce", "softmax"):
            log_p = torch.log_softmax(z, dim=-1)
            loss = -log_p.gather(-1, target).squeeze(-1).mean(-1)
            torch.exp(log_p, out=out)
            out.scatter_add_(-1, target, minus_one)
            out.mul_(1.0 / b)
            return loss
        if self._output_rule == ("mse", "sigmoid"):
            p = torch.sigmoid(z)
            r = p.scatter_add(-1, target, minus_one)  # y − d
            loss = 0.5 * r.square().sum((-1, -2)) / b
            torch.mul(r, p, out=out)
            out.mul_(1.0 - p).mul_(1.0 / b)
            return loss
        with torch.enable_grad():
            leaf = z.detach().requires_grad_(True)
            per_example = self.loss.per_example(leaf.reshape(-1, z.shape[-1]), y.reshape(-1))
            loss = per_example.view(z.shape[:-1]).mean(-1)
            (grad,) = torch.autograd.grad(loss.sum(), leaf)
        out.copy_(grad)
        return loss.detach()


@dataclass
class _Buffers:
    pre: list[torch.Tensor]
    post: list[torch.Tensor]
    delta: list[torch.Tensor]
    minus_one: torch.Tensor


def _affine(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> None:
    """out = h Wᵀ + b (per seed when stacked: ``baddbmm``)."""
    if w.dim() == 2:
        torch.addmm(b, h, w.t(), out=out)
    else:
        torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2), out=out)


def _add_outer(w: torch.Tensor, d: torch.Tensor, h: torch.Tensor, alpha: float) -> None:
    """W ← W + α dᵀ h in place (per seed when stacked)."""
    if w.dim() == 2:
        w.addmm_(d.t(), h, alpha=alpha)
    else:
        w.baddbmm_(d.transpose(1, 2), h, alpha=alpha)


def _grad(p: torch.Tensor) -> torch.Tensor:
    """p.grad, allocated on first use (zero_grad(set_to_none=True) may have dropped it)."""
    if p.grad is None:
        p.grad = torch.zeros_like(p)
    return p.grad
