"""Diagonal Gauss–Newton curvature of an MLP: the ``h`` of SDAGD.

Two backends compute a non-negative curvature ``h`` per parameter, with the
same batch reduction as the loss (the mean over the batch)::

    h_θ = (1/N) Σ_n  diag( J_nᵀ H_n J_n )_θ            (the GGN diagonal)

where J_n = ∂z_n/∂θ is the Jacobian of the output pre-activations of
example n and H_n = ∂²E_n/∂z_n² is the Hessian of its loss in z with the
second-derivative terms of the output non-linearity dropped (Gauss–Newton).
H_n = S_n S_nᵀ is factored per loss (C columns, K outputs):

==============  ===========================================  ==========================
loss / output   H_n                                          factor S_n (K × C)
==============  ===========================================  ==========================
ce / softmax    diag(p) − p pᵀ  (exact Hessian)               S[:, c] = √p_c (e_c − p)
mse / sigmoid   diag(σ′(z)²)   (E = ½ Σ_k (d_k − y_k)²,       diag(σ′(z))
                so ∂²E/∂y² = 1, not 2)
mse / linear    I                                             I
mse / softmax   Jₛ Jₛ,  Jₛ = diag(p) − p pᵀ                   Jₛ (symmetric)
bce / sigmoid   diag(σ(1 − σ)) / K  (mean over the K outputs)  diag(√(σ(1 − σ)/K))
==============  ===========================================  ==========================

``ce`` with ``relu``/``sigmoid`` outputs (Keras' y/Σy normalisation) is not
convex in y, so its Gauss–Newton matrix is not positive semi-definite:
:class:`CurvatureError`.

``lecun`` — the stochastic diagonal Levenberg–Marquardt recursion (LeCun,
Bottou, Orr & Müller 1998, "Efficient BackProp", §9.1; the "truncated
Hessian" of Tan & Lim 2019): a diagonal D is propagated from the output
down, and at every node the off-diagonal terms are dropped::

    D_z  = diag(H_n)                         p(1 − p) for softmax + CE, f′(z)² for MSE
    D_y  = D_a @ W²                           through a linear layer  (W² elementwise)
    D_a  = f′(a)² ⊙ D_y                       through the activation
    h_W  = (1/N) Σ_n D_a,n ⊗ x_n²             per weight;   h_b = (1/N) Σ_n D_a,n

In general, for a node u = g(v) with per-example Jacobian J, D_v,i = Σ_j J_ji² D_u,j.

``ggn`` — the exact diagonal of the generalised Gauss–Newton matrix
(Schraudolph 2002; Martens 2014, "New insights and perspectives on the
natural gradient method", §8; BackPACK's ``DiagGGNExact``, Dangel, Kunstner &
Hennig 2020): the C columns of S_n are backpropagated as a batch B [C, N, ·]
of exact vector–Jacobian products, and per weight h_W = (1/N) Σ_n Σ_c
B_c,n ⊗ x_n². It costs about C = K times lecun's backward.

``none`` — h = 0 for every parameter: SDAGD without its Newton phase, i.e.
per-layer normalised gradient descent θ ← θ − lr·R·g_l/‖g_l‖ (μ_l + h = μ_l).
An ablation backend (the tan-lim study asks whether SDAGD's "two-phase
switching" matters where h ≪ μ): no forward trace, any model.

Layers other than Linear + elementwise activation:

* batch norm is treated as a fixed affine map x ↦ γ (x − m) / √(v + ε) + β
  with the statistics (m, v) of the current batch in training mode (the
  running ones in eval mode): the dependence of the statistics on the batch
  — which couples the examples — is dropped. In eval mode this is exact;
  ``ggn`` is then the exact GGN diagonal of the network whose BN statistics
  are frozen at this batch's values. γ and β get h like any elementwise
  scale and shift.
* layer norm acts on each example alone, so ``ggn`` is exact through it
  (its full Jacobian is applied); ``lecun`` applies the rule above to the
  exact LayerNorm Jacobian J = (γ/σ)(I − 11ᵀ/H − x̂x̂ᵀ/H) in closed form.
* residual connections y = x + r(x): ``ggn`` is exact; ``lecun`` adds the two
  paths' diagonals (D_x = D_y + D_x through r), dropping the cross term
  2 D ⊙ diag(J_r) — an off-diagonal term of the fork, like all the others.
* PReLU's slope gets curvature; RReLU's derivative is taken at its mean
  slope (the slopes drawn in a training step are not kept).

The engine calls :func:`from_step` with the intermediates of its forward
pass (no extra forward for plain layers; layers with batch/layer norm
recompute their linear output). For a model of your own use
:func:`diagonal` (a :class:`vanishing.model.MLP` or an ``nn.Sequential`` of
Linear, activation, BatchNorm1d and LayerNorm modules)::

    >>> import torch
    >>> from torch import nn
    >>> from vanishing.optim import curvature
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 3))
    >>> h = curvature.diagonal(net, torch.randn(16, 4), loss="mse", output="sigmoid")
    >>> sorted(h[net[0].weight].shape)
    [4, 8]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..losses import Loss, make_loss

BACKENDS = ("lecun", "ggn", "none")
SUPPORTED_LOSSES = {"ce": ("softmax",), "mse": ("sigmoid", "linear", "softmax"), "bce": ("sigmoid",)}


class CurvatureError(ConfigError):
    """The model or loss has a part the curvature backends do not handle."""


def check_supported(loss: str, output: str) -> None:
    """Raise :class:`CurvatureError` unless (loss, output) has a positive semi-definite Gauss–Newton matrix."""
    if output not in SUPPORTED_LOSSES.get(loss, ()):
        pairs = "; ".join(f"{name}: {', '.join(outs)}" for name, outs in SUPPORTED_LOSSES.items())
        raise CurvatureError(
            f"optim.optimizer: sdagd's curvature is defined for the loss/output pairs {pairs} — not {loss}/{output} "
            "(its loss is not convex in the outputs, so the Gauss–Newton matrix is not positive semi-definite)"
        )


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ConfigError(f"optim.optimizer: sdagd(curvature=...) must be one of {', '.join(BACKENDS)}, got {backend!r}")


# --------------------------------------------------------------------------- the network as blocks


@dataclass
class Block:
    """One affine layer and what follows it: linear → [BN] → [LN] → act → [BN] → [+ x]."""

    name: str
    linear: nn.Linear
    bn_before: nn.BatchNorm1d | None = None
    layer_norm: nn.LayerNorm | None = None
    act: nn.Module | None = None  # None for the output block
    derivative: Callable[[torch.Tensor], torch.Tensor] | None = None  # f′(a)
    forward_act: Callable[[torch.Tensor], torch.Tensor] | None = None  # f(a), without side effects
    slope: torch.Tensor | None = None  # a PReLU slope parameter (gets curvature)
    bn_after: nn.BatchNorm1d | None = None
    residual: bool = False

    @property
    def plain(self) -> bool:
        return self.bn_before is None and self.layer_norm is None and self.bn_after is None


@dataclass
class Trace:
    """What the recursion needs of one block's forward pass (all detached)."""

    x: torch.Tensor  # block input
    dfa: torch.Tensor | None  # f′(a); None for the output block
    a: torch.Tensor | None = None  # pre-activation (for a PReLU slope)
    bn_before: tuple[torch.Tensor, torch.Tensor] | None = None  # (x̂, scale γ·rstd)
    ln: tuple[torch.Tensor, torch.Tensor] | None = None  # (x̂, rstd [N, 1])
    bn_after: tuple[torch.Tensor, torch.Tensor] | None = None


def _module_derivative(module: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """f′(a) of an elementwise activation module via autograd (exact for elementwise maps)."""

    def derivative(a: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            leaf = a.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(module(leaf).sum(), leaf)
        return grad

    return derivative


def _activation_functions(act: nn.Module):
    """(f′, side-effect-free f, PReLU slope or None) of an activation module."""
    from ..activations import ActivationModule, PReLUModule, RReLUModule

    if isinstance(act, ActivationModule):
        if isinstance(act, RReLUModule):  # the training forward draws random slopes; use the mean one
            forward = act.activation.f
        else:
            forward = act
        slope = act.weight if isinstance(act, PReLUModule) else None
        return act.derivative, forward, slope
    if isinstance(act, nn.PReLU):
        return _module_derivative(act), act, act.weight
    return _module_derivative(act), act, None


def blocks_of(model: nn.Module) -> list[Block]:
    """The blocks of a :class:`vanishing.model.MLP` or of an ``nn.Sequential``."""
    from ..model import MLP

    if isinstance(model, MLP):
        blocks = []
        for name, layer in zip(model.layer_names, model.hidden_layers):
            derivative, forward, slope = _activation_functions(layer.act)
            blocks.append(
                Block(
                    name,
                    layer.linear,
                    bn_before=layer.norm if layer.batch_norm == "before" else None,
                    layer_norm=layer.layer_norm,
                    act=layer.act,
                    derivative=derivative,
                    forward_act=forward,
                    slope=slope,
                    bn_after=layer.norm if layer.batch_norm == "after" else None,
                    residual=layer.residual,
                )
            )
        blocks.append(Block("output", model.output))
        return blocks
    if isinstance(model, nn.Sequential):
        return _blocks_of_sequential(model)
    raise CurvatureError(
        f"curvature: cannot read the layers of a {type(model).__name__}; pass a vanishing MLP or an nn.Sequential "
        "of Linear, activation, BatchNorm1d and LayerNorm modules, or compute h yourself and call "
        "SDAGD.set_curvature(h)"
    )


_ELEMENTWISE = (
    nn.Sigmoid, nn.Tanh, nn.ReLU, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Softplus, nn.ReLU6, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.LogSigmoid, nn.Softsign,
    nn.Tanhshrink, nn.PReLU,
)  # fmt: skip


def _blocks_of_sequential(seq: nn.Sequential) -> list[Block]:
    from ..activations import ActivationModule

    blocks: list[Block] = []
    for index, module in enumerate(seq):
        where = f"curvature: module {index} ({type(module).__name__}) of the nn.Sequential"
        if isinstance(module, nn.Identity) or (isinstance(module, nn.Dropout) and module.p == 0):
            continue
        if isinstance(module, nn.Flatten) and not blocks:
            continue
        if isinstance(module, nn.Linear):
            blocks.append(Block(str(index), module))
            continue
        if not blocks:
            raise CurvatureError(f"{where} comes before the first nn.Linear")
        block = blocks[-1]
        if isinstance(module, nn.BatchNorm1d):
            if block.act is None and block.layer_norm is None and block.bn_before is None:
                block.bn_before = module
            elif block.act is not None and block.bn_after is None:
                block.bn_after = module
            else:
                raise CurvatureError(f"{where}: only one batch norm before and one after the activation is supported")
        elif isinstance(module, nn.LayerNorm):
            if block.act is not None or block.layer_norm is not None:
                raise CurvatureError(f"{where}: layer norm is supported only once, before the activation")
            block.layer_norm = module
        elif isinstance(module, (ActivationModule, *_ELEMENTWISE)):
            if block.act is not None:
                raise CurvatureError(f"{where}: two activations after one nn.Linear")
            block.act = module
            block.derivative, block.forward_act, block.slope = _activation_functions(module)
        else:
            raise CurvatureError(
                f"{where} is not supported (supported: Linear, BatchNorm1d, LayerNorm, Identity, Flatten first, "
                "Dropout(p=0) and the elementwise activations "
                + ", ".join(c.__name__ for c in _ELEMENTWISE) + ", vanishing activations)"
            )
    if not blocks:
        raise CurvatureError("curvature: the nn.Sequential has no nn.Linear")
    last = blocks[-1]
    if last.act is not None or not last.plain:
        raise CurvatureError(
            "curvature: the nn.Sequential must end with the nn.Linear that produces the output pre-activations z; "
            "the output activation belongs to the loss (e.g. loss='mse', output='sigmoid')"
        )
    for block in blocks[:-1]:
        if block.act is None:  # a linear followed directly by a linear: the identity activation
            block.derivative = torch.ones_like
            block.forward_act = lambda a: a
    last.name = "output"
    return blocks


# --------------------------------------------------------------------------- forward traces


def _bn_stats(bn: nn.BatchNorm1d, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x̂, scale = γ·rstd, output) of batch norm as a fixed affine map with this batch's (or the running) statistics."""
    if bn.training or bn.running_mean is None:
        mean, var = u.mean(0), u.var(0, unbiased=False)
    else:
        mean, var = bn.running_mean, bn.running_var
    rstd = torch.rsqrt(var + bn.eps)
    xhat = (u - mean) * rstd
    gamma = bn.weight.detach() if bn.weight is not None else torch.ones_like(rstd)
    out = xhat * gamma + (bn.bias.detach() if bn.bias is not None else 0.0)
    return xhat, gamma * rstd, out


def _ln_stats(ln: nn.LayerNorm, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x̂, rstd [N, 1], output) of layer norm over the last dimension."""
    mean = v.mean(-1, keepdim=True)
    rstd = torch.rsqrt(v.var(-1, unbiased=False, keepdim=True) + ln.eps)
    xhat = (v - mean) * rstd
    out = xhat
    if ln.weight is not None:
        out = out * ln.weight.detach()
    if ln.bias is not None:
        out = out + ln.bias.detach()
    return xhat, rstd, out


@torch.no_grad()
def trace(
    blocks: list[Block],
    x: torch.Tensor,
    pre: list[torch.Tensor] | None = None,
    post: list[torch.Tensor] | None = None,
) -> tuple[list[Trace], torch.Tensor]:
    """Per-block forward values and the output z.

    With the engine's intermediates (``pre``: each hidden block's
    pre-activation a, ``post``: its output) plain blocks cost nothing but f′(a);
    blocks with batch/layer norm recompute their linear output. Without them
    the whole forward is recomputed here, without touching BN running
    statistics or the global random generator.
    """
    traces: list[Trace] = []
    h = x.detach().flatten(1) if x.dim() > 2 else x.detach()
    for i, block in enumerate(blocks):
        if block.act is None:  # output block
            traces.append(Trace(h, None))
            z = F.linear(h, block.linear.weight.detach(), _detach(block.linear.bias))
            return traces, z
        t = Trace(h, None)
        given_a = pre[i].detach() if pre is not None else None
        if given_a is not None and block.bn_before is None and block.layer_norm is None:
            a = given_a
        else:
            a = F.linear(h, block.linear.weight.detach(), _detach(block.linear.bias))
            if block.bn_before is not None:
                xhat, scale, a = _bn_stats(block.bn_before, a)
                t.bn_before = (xhat, scale)
            if block.layer_norm is not None:
                xhat, rstd, a = _ln_stats(block.layer_norm, a)
                t.ln = (xhat, rstd)
            if given_a is not None:
                a = given_a  # the engine's values (identical up to rounding)
        t.a = a
        t.dfa = block.derivative(a)
        if post is not None and block.bn_after is None:
            out = post[i].detach()
        else:
            y = block.forward_act(a)
            if block.bn_after is not None:
                xhat, scale, y = _bn_stats(block.bn_after, y)
                t.bn_after = (xhat, scale)
            out = (h + y) if block.residual else y
            if post is not None:
                out = post[i].detach()
        traces.append(t)
        h = out
    raise CurvatureError("curvature: the network has no output block")  # pragma: no cover - blocks_of ensures it


def _detach(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.detach()


# --------------------------------------------------------------------------- the loss


def output_factor(loss: Loss, z: torch.Tensor) -> torch.Tensor:
    """S with H_n = S_n S_nᵀ, shape [N, K, C] (the Gauss–Newton Hessian of the loss in z; see the module table)."""
    check_supported(loss.name, loss.output)
    if loss.output == "softmax":
        p = torch.softmax(z, dim=1)
        if loss.name == "ce":
            eye = torch.eye(z.shape[1], dtype=z.dtype, device=z.device)
            return (eye - p[:, :, None]) * p.sqrt()[:, None, :]  # S[n, k, c] = √p_c (δ_kc − p_k)
        return torch.diag_embed(p) - p[:, :, None] * p[:, None, :]  # mse: Jₛ = diag(p) − ppᵀ
    return torch.diag_embed(output_diagonal(loss, z).sqrt())


def output_diagonal(loss: Loss, z: torch.Tensor) -> torch.Tensor:
    """diag(H_n) per example, shape [N, K]: lecun's starting point D_z."""
    check_supported(loss.name, loss.output)
    if loss.output == "softmax":
        p = torch.softmax(z, dim=1)
        if loss.name == "ce":
            return p * (1 - p)
        jac = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
        return jac.square().sum(-1)
    if loss.output == "linear":
        return torch.ones_like(z)
    s = torch.sigmoid(z)
    if loss.name == "bce":
        return s * (1 - s) / z.shape[1]
    return (s * (1 - s)).square()  # mse: E = ½ Σ (d − σ(z))²  ⇒  GN: σ′(z)²


# --------------------------------------------------------------------------- the two recursions


def _ln_lecun(d: torch.Tensor, xhat: torch.Tensor, rstd: torch.Tensor, gamma: torch.Tensor | None) -> torch.Tensor:
    """D_in,i = Σ_j J_ji² D_j for the LayerNorm Jacobian J_ji = (γ_j/σ)(δ_ji − (1 + x̂_j x̂_i)/H), in O(H)."""
    width = d.shape[-1]
    u = d * rstd.square() * (gamma.square() if gamma is not None else 1.0)
    s0 = u.sum(-1, keepdim=True)
    s1 = (u * xhat).sum(-1, keepdim=True)
    s2 = (u * xhat.square()).sum(-1, keepdim=True)
    return u * (1 - 2 * (1 + xhat.square()) / width) + (s0 + 2 * xhat * s1 + xhat.square() * s2) / width**2


def _ln_vjp(b: torch.Tensor, xhat: torch.Tensor, rstd: torch.Tensor, gamma: torch.Tensor | None) -> torch.Tensor:
    """The exact vector–Jacobian product of layer norm for each row of b."""
    g = b * gamma if gamma is not None else b
    return rstd * (g - g.mean(-1, keepdim=True) - xhat * (g * xhat).mean(-1, keepdim=True))


class _Diag:
    """lecun: the signal is the diagonal D [N, H]."""

    @staticmethod
    def start(loss: Loss, z: torch.Tensor) -> torch.Tensor:
        return output_diagonal(loss, z)

    @staticmethod
    def energy(s: torch.Tensor) -> torch.Tensor:
        return s

    @staticmethod
    def scale(s: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return s * c.square()

    @staticmethod
    def linear(s: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return s @ weight.square()

    @staticmethod
    def layer_norm(s, xhat, rstd, gamma):
        return _ln_lecun(s, xhat, rstd, gamma)

    @staticmethod
    def shared_slope(s: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return (s * r.square()).sum(-1)


class _Factor:
    """ggn: the signal is the batch of backpropagated factor columns B [C, N, H]."""

    @staticmethod
    def start(loss: Loss, z: torch.Tensor) -> torch.Tensor:
        return output_factor(loss, z).permute(2, 0, 1)

    @staticmethod
    def energy(s: torch.Tensor) -> torch.Tensor:
        return s.square().sum(0)

    @staticmethod
    def scale(s: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return s * c

    @staticmethod
    def linear(s: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return s @ weight

    @staticmethod
    def layer_norm(s, xhat, rstd, gamma):
        return _ln_vjp(s, xhat, rstd, gamma)

    @staticmethod
    def shared_slope(s: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return (s * r).sum(-1).square().sum(0)


def _affine_curvature(h: dict, module: nn.Module, d: torch.Tensor, xhat: torch.Tensor) -> None:
    """h of an elementwise affine y = γ x̂ + β: mean_n D x̂² for γ, mean_n D for β."""
    if getattr(module, "weight", None) is not None:
        h[module.weight] = (d * xhat.square()).mean(0)
    if getattr(module, "bias", None) is not None:
        h[module.bias] = d.mean(0)


def backpropagate(
    blocks: list[Block], traces: list[Trace], z: torch.Tensor, loss: Loss, backend: str = "lecun"
) -> dict[torch.nn.Parameter, torch.Tensor]:
    """h for every parameter of ``blocks`` from a forward trace (see the module docstring)."""
    check_backend(backend)
    rule = {"lecun": _Diag, "ggn": _Factor}[backend]  # "none" needs no trace: diagonal() and from_step() answer it
    n = z.shape[0]
    h: dict[torch.nn.Parameter, torch.Tensor] = {}
    with torch.no_grad():
        s = rule.start(loss, z.detach())
        for index in range(len(blocks) - 1, -1, -1):
            block, t = blocks[index], traces[index]
            skip = s if block.residual else None
            if block.act is not None:
                if t.bn_after is not None:
                    xhat, scale = t.bn_after
                    _affine_curvature(h, block.bn_after, rule.energy(s), xhat)
                    s = rule.scale(s, scale)
                if block.slope is not None:  # PReLU: ∂f/∂w = a for a ≤ 0
                    r = torch.where(t.a > 0, torch.zeros_like(t.a), t.a)
                    if block.slope.numel() == 1:
                        h[block.slope] = rule.shared_slope(s, r).mean(0).reshape(block.slope.shape)
                    else:
                        h[block.slope] = (rule.energy(s) * r.square()).mean(0)
                s = rule.scale(s, t.dfa)
                if t.ln is not None:
                    xhat, rstd = t.ln
                    _affine_curvature(h, block.layer_norm, rule.energy(s), xhat)
                    s = rule.layer_norm(s, xhat, rstd, _detach(block.layer_norm.weight))
                if t.bn_before is not None:
                    xhat, scale = t.bn_before
                    _affine_curvature(h, block.bn_before, rule.energy(s), xhat)
                    s = rule.scale(s, scale)
            d = rule.energy(s)
            weight = block.linear.weight
            h[weight] = torch.mm(d.T, t.x.square()).div_(n)
            if block.linear.bias is not None:
                h[block.linear.bias] = d.mean(0)
            if index == 0:
                break
            s = rule.linear(s, weight.detach())
            if skip is not None:
                s = s + skip
    return h


# --------------------------------------------------------------------------- entry points


def _as_loss(loss: Loss | str, output: str | None, n_classes: int) -> Loss:
    if isinstance(loss, Loss):
        return loss
    from ..losses import DEFAULT_OUTPUT

    return make_loss(loss, output or DEFAULT_OUTPUT.get(loss, "softmax"), n_classes)


def diagonal(
    model: nn.Module,
    x: torch.Tensor,
    loss: Loss | str = "ce",
    output: str | None = None,
    backend: str = "lecun",
) -> dict[torch.nn.Parameter, torch.Tensor]:
    """Diagonal Gauss–Newton curvature h of ``model`` on the batch ``x`` (a dict parameter → h, same shapes).

    ``model``: a :class:`vanishing.model.MLP` or an ``nn.Sequential`` of
    Linear / activation / BatchNorm1d / LayerNorm modules ending with the
    Linear that produces z. ``loss``: a :class:`vanishing.losses.Loss` or its
    name (``ce``, ``mse``, ``bce``) with ``output`` (softmax, sigmoid,
    linear). The Gauss–Newton matrix does not depend on the targets, so none
    are needed. BN running statistics and the random generator are not
    touched.
    """
    if backend == "none":
        return zero_curvature(model)
    blocks = blocks_of(model)
    traces, z = trace(blocks, x)
    return backpropagate(blocks, traces, z, _as_loss(loss, output, z.shape[1]), backend)


def from_step(model: nn.Module, info, loss: Loss, backend: str = "lecun") -> dict[torch.nn.Parameter, torch.Tensor]:
    """h from one training step of the engine (``info`` a :class:`vanishing.train.StepInfo` with ``pre``/``post``)."""
    if backend == "none":
        return zero_curvature(model)
    blocks = blocks_of(model)
    traces, z = trace(blocks, info.x, info.pre, info.post)
    return backpropagate(blocks, traces, info.z.detach() if info.z is not None else z, loss, backend)


def zero_curvature(model: nn.Module) -> dict[torch.nn.Parameter, torch.Tensor]:
    """The ``none`` backend: h = 0 for every trainable parameter of ``model`` (any module)."""
    return {p: torch.zeros_like(p) for p in model.parameters() if p.requires_grad}


def layer_groups(model: nn.Module) -> list[tuple[str, list[torch.nn.Parameter]]]:
    """(name, parameters) per module that owns parameters directly — the "layers" of SDAGD's ``layer`` granularity.

    For a vanishing MLP: ``hidden1.linear`` (weight and bias), ``hidden1.norm``,
    ``hidden1.layer_norm``, ``hidden1.act`` (PReLU), …, ``output``.
    """
    groups = []
    for name, module in model.named_modules():
        params = [p for p in module.parameters(recurse=False) if p.requires_grad]
        if params:
            groups.append((name or "model", params))
    return groups
