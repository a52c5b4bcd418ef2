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

Results equal the autograd step up to floating-point rounding (the same
operations in the same order for the GEMMs; tests/test_fused_step.py checks
20 steps against autograd in float64 for every activation and loss/output
pair). Why it exists: the benchmark of docs/performance.md.
"""

from __future__ import annotations

import torch

from .activations import ActivationModule
from .losses import Loss
from .model import MLP

#: Activations whose f′ is computed from the layer output h, by the kernels torch's own backward runs.
FROM_OUTPUT = ("sigmoid", "tanh", "relu", "linear")
_aten = torch.ops.aten


def unsupported_reason(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> str | None:
    """Why the fused step cannot train this model with this optimizer, or None when it can."""
    if not isinstance(model, MLP):
        return "the model is not a vanishing MLP"
    for name, layer in zip(model.layer_names, model.hidden_layers):
        if layer.norm is not None or layer.layer_norm is not None or layer.residual:
            return f"{name} has batch norm, layer norm or a skip connection"
        if type(layer.act) is not ActivationModule:
            return f"{name}'s activation {layer.act.activation.spec} has parameters or noise"
    linears = [lin for _, lin in model.named_linears()]
    if len(list(model.parameters())) != 2 * len(linears) or any(lin.bias is None for lin in linears):
        return "the model has parameters besides the linear layers' weights and biases"
    if not all(p.requires_grad for p in model.parameters()):
        return "some parameters are frozen"
    if len(optimizer.param_groups) != 1:
        return "the optimizer has more than one parameter group"
    return None


def inline_sgd_applies(optimizer: torch.optim.Optimizer) -> bool:
    """True for ``torch.optim.SGD`` without momentum, weight decay or maximize (W ← W − η g)."""
    if type(optimizer) is not torch.optim.SGD or len(optimizer.param_groups) != 1:
        return False
    g = optimizer.param_groups[0]
    return g["momentum"] == 0 and g["weight_decay"] == 0 and not g.get("maximize", False) and not g["nesterov"]


class FusedMLPStep:
    """Forward, backward and (optionally) the SGD update of an :class:`MLP` in preallocated buffers.

    Build it once per run with the largest batch size; call :meth:`step` per
    mini-batch. Check :func:`unsupported_reason` first.
    """

    def __init__(self, model: MLP, loss: Loss, batch_size: int) -> None:
        linears = [lin for _, lin in model.named_linears()]
        self.weights = [lin.weight for lin in linears]
        self.biases = [lin.bias for lin in linears]
        self.activations = [layer.act.activation for layer in model.hidden_layers]
        self.loss = loss
        w = self.weights[0]
        widths = [lin.out_features for lin in linears]
        new = dict(device=w.device, dtype=w.dtype)
        self.pre = [torch.empty(batch_size, n, **new) for n in widths]  # a_l; the last one is z
        self.post = [torch.empty(batch_size, n, **new) for n in widths[:-1]]  # h_l
        self.delta = [torch.empty(batch_size, n, **new) for n in widths]  # δ_l = ∂E/∂a_l
        self._minus_one = torch.full((batch_size, 1), -1.0, **new)
        self._output_rule = (loss.name, loss.output) if (loss.name, loss.output) in (("ce", "softmax"), ("mse", "sigmoid")) else None

    # -- the step
    @torch.no_grad()
    def step(self, x: torch.Tensor, y: torch.Tensor, inline_lr: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One step on the batch (x, y): returns (mean loss, z), both detached.

        ``inline_lr=None`` leaves ∂E/∂θ in every ``.grad``; a float applies
        ``θ ← θ − inline_lr · ∂E/∂θ`` inside the backward pass instead.
        """
        b = x.shape[0]
        inputs = [x]  # h_0 … h_L: the input of each linear layer
        n = len(self.weights)
        for i in range(n):
            a = self.pre[i][:b]
            torch.addmm(self.biases[i], inputs[-1], self.weights[i].t(), out=a)
            if i < n - 1:
                inputs.append(self._activate(i, a, self.post[i][:b]))
        z = self.pre[-1][:b]
        loss = self._output_delta(z, y, self.delta[-1][:b])
        for i in range(n - 1, -1, -1):
            d = self.delta[i][:b]
            h_in = inputs[i]
            if i > 0:  # δ_{i-1} from the old W_i, before W_i changes
                below = self.delta[i - 1][:b]
                torch.mm(d, self.weights[i], out=below)
                self._times_derivative(i - 1, below, b)
            if inline_lr is None:
                torch.mm(d.t(), h_in, out=_grad(self.weights[i]))
                torch.sum(d, 0, out=_grad(self.biases[i]))
            else:
                self.weights[i].addmm_(d.t(), h_in, alpha=-inline_lr)
                self.biases[i].sub_(d.sum(0), alpha=inline_lr)
        return loss, z

    def _activate(self, i: int, a: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """h = f(a) into ``out`` (the activations of FROM_OUTPUT) or a new tensor (the others)."""
        name = self.activations[i].name
        if name == "sigmoid":
            return torch.sigmoid(a, out=out)
        if name == "tanh":
            return torch.tanh(a, out=out)
        if name == "relu":
            return torch.clamp(a, min=0, out=out)
        if name == "linear":
            return a
        h = self.activations[i].fast(a)
        self.post[i][: a.shape[0]] = h
        return self.post[i][: a.shape[0]]

    def _times_derivative(self, i: int, g: torch.Tensor, b: int) -> None:
        """g ← g ⊙ f_i′(a_i), in place."""
        act = self.activations[i]
        if act.name == "linear":
            return
        h = self.post[i][:b]
        if act.name == "sigmoid":
            _aten.sigmoid_backward.grad_input(g, h, grad_input=g)
        elif act.name == "tanh":
            _aten.tanh_backward.grad_input(g, h, grad_input=g)
        elif act.name == "relu":
            _aten.threshold_backward.grad_input(g, h, 0.0, grad_input=g)
        else:
            g.mul_(act.df(self.pre[i][:b]))

    def _output_delta(self, z: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """Write ∂E/∂z into ``out``; return the mean loss E."""
        b = z.shape[0]
        if self._output_rule == ("ce", "softmax"):
            log_p = torch.log_softmax(z, dim=1)
            loss = torch.nn.functional.nll_loss(log_p, y)
            torch.exp(log_p, out=out)
            out.scatter_add_(1, y[:, None], self._minus_one[:b])
            out.mul_(1.0 / b)
            return loss
        if self._output_rule == ("mse", "sigmoid"):
            p = torch.sigmoid(z)
            r = p.scatter_add(1, y[:, None], self._minus_one[:b])  # y − d
            loss = 0.5 * r.square().sum() / b
            torch.mul(r, p, out=out)
            out.mul_(1.0 - p).mul_(1.0 / b)
            return loss
        with torch.enable_grad():
            leaf = z.detach().requires_grad_(True)
            loss = self.loss(leaf, y)
            (grad,) = torch.autograd.grad(loss, leaf)
        out.copy_(grad)
        return loss.detach()


def _grad(p: torch.Tensor) -> torch.Tensor:
    """p.grad, allocated on first use (zero_grad(set_to_none=True) may have dropped it)."""
    if p.grad is None:
        p.grad = torch.zeros_like(p)
    return p.grad
