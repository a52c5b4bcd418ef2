"""K MLPs of one architecture as one module with stacked weights.

Layer ``l`` of seed ``k`` keeps its weight in ``W[k]`` of a tensor of shape
``[K, out, in]``; a mini-batch is ``[K, B, in]`` (each seed its own rows),
and a linear layer is one batched matmul::

    a[k] = x[k] @ W[k]ᵀ + b[k]          torch.baddbmm(b[:, None], x, Wᵀ)

Everything else is elementwise or per seed: activations act on the stacked
tensor as they act on one seed's; batch norm normalises over dim 1 (the
batch) with per-seed γ, β and running statistics ``[K, width]``; layer norm
over the last dim with per-seed γ, β; PReLU with per-seed slopes.

Names, registration order and shapes (after the leading K) mirror
:class:`vanishing.model.MLP`, so ``state_dict()`` has the MLP's keys and
``parameters()`` its order: :func:`stack_states` / :func:`unstack_state` map
between K per-seed state dicts and the stacked one, and an optimizer's state
indices line up with the unbatched optimizer's.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .. import activations
from ..model import MLP, HiddenLayer

SHARED_KEYS = ("num_batches_tracked",)  # per-seed scalars that are equal for every seed (they step together)


def _is_shared(key: str) -> bool:
    return key.rsplit(".", 1)[-1] in SHARED_KEYS


class _StackedAffine(torch.autograd.Function):
    """a = x @ Wᵀ + b per seed, with gradients laid out as the parameters.

    Autograd's own backward of ``baddbmm(b, x, W.transpose(1, 2))`` returns
    ∂E/∂W as a transposed view, which the gradient accumulation then copies
    into W's layout — at width 200 that copy cost more than the matmuls
    saved. Here ∂E/∂W = gᵀ x is computed directly as [K, out, in].
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        x, weight = ctx.saved_tensors
        grad_x = torch.bmm(g, weight) if ctx.needs_input_grad[0] else None
        grad_w = torch.bmm(g.transpose(1, 2), x) if ctx.needs_input_grad[1] else None
        grad_b = g.sum(1) if ctx.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b


class StackedLinear(nn.Module):
    """K linear layers: ``weight`` [K, out, in], ``bias`` [K, out]."""

    def __init__(self, k: int, n_in: int, n_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(k, n_out, n_in))
        self.bias = nn.Parameter(torch.zeros(k, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [K, B, in] → [K, B, out]."""
        return _StackedAffine.apply(x, self.weight, self.bias)

    def forward_shared(self, x: torch.Tensor) -> torch.Tensor:
        """The same inputs x [N, in] for every seed → [K, N, out], as one matmul."""
        k, n_out, n_in = self.weight.shape
        z = x @ self.weight.reshape(k * n_out, n_in).t()  # [N, K·out]
        return z.view(len(x), k, n_out).transpose(0, 1) + self.bias.unsqueeze(1)


class StackedBatchNorm(nn.Module):
    """Per-seed BatchNorm1d (Ioffe & Szegedy 2015) over dim 1 of [K, B, n]; torch's defaults eps 1e-5, momentum 0.1.

    Training: y = (a − μ_B) / √(σ²_B + ε) · γ + β with the biased batch variance;
    running_mean ← (1 − m)·running_mean + m·μ_B, running_var ← (1 − m)·running_var
    + m·σ²_B·B/(B − 1) (unbiased), as ``nn.BatchNorm1d``. Eval: the running statistics.
    """

    def __init__(self, k: int, n: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(k, n))
        self.bias = nn.Parameter(torch.zeros(k, n))
        self.register_buffer("running_mean", torch.zeros(k, n))
        self.register_buffer("running_var", torch.ones(k, n))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        if self.training:
            b = a.shape[1]
            if b < 2:
                raise ValueError(f"Expected more than 1 value per channel when training, got input size {tuple(a.shape)}")
            var, mean = torch.var_mean(a, dim=1, correction=0, keepdim=True)
            with torch.no_grad():
                m = self.momentum
                self.running_mean.mul_(1 - m).add_(mean.squeeze(1), alpha=m)
                self.running_var.mul_(1 - m).add_(var.squeeze(1) * (b / (b - 1)), alpha=m)
                self.num_batches_tracked += 1
        else:
            mean, var = self.running_mean.unsqueeze(1), self.running_var.unsqueeze(1)
        return (a - mean) * torch.rsqrt(var + self.eps) * self.weight.unsqueeze(1) + self.bias.unsqueeze(1)


class StackedLayerNorm(nn.Module):
    """Per-seed LayerNorm (Ba et al. 2016) over the last dim, γ and β [K, n]."""

    def __init__(self, k: int, n: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(k, n))
        self.bias = nn.Parameter(torch.zeros(k, n))

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        n = a.shape[-1]
        return F.layer_norm(a, (n,), eps=self.eps) * self.weight.unsqueeze(1) + self.bias.unsqueeze(1)


class StackedPReLU(nn.Module):
    """Per-seed PReLU slopes ``weight`` [K, 1] (shared by the layer) or [K, width] (per unit)."""

    def __init__(self, activation: activations.Activation, k: int, width: int) -> None:
        super().__init__()
        self.activation = activation
        n = width if activation.params["per_unit"] else 1
        self.weight = nn.Parameter(torch.full((k, n), float(activation.params["init"])))

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return torch.where(a > 0, a, a * self.weight.unsqueeze(1))


class StackedHiddenLayer(nn.Module):
    """linear → [BN] → [LN] → activation → [BN] → [+ skip], as :class:`vanishing.model.HiddenLayer`, per seed."""

    def __init__(self, k: int, n_in: int, n_out: int, activation: str, batch_norm: str, layer_norm: bool, residual: bool) -> None:
        super().__init__()
        self.linear = StackedLinear(k, n_in, n_out)
        self.batch_norm = batch_norm
        self.norm = StackedBatchNorm(k, n_out) if batch_norm != "off" else None
        self.layer_norm = StackedLayerNorm(k, n_out) if layer_norm else None
        act = activations.get(activation)
        # elementwise activations act on [K, B, n] as on [B, n]; only PReLU has (per-seed) parameters
        self.act = StackedPReLU(act, k, n_out) if act.name == "prelu" else act.module(n_out)
        self.residual = residual and n_in == n_out

    # The same code as the unbatched layer (same attribute names), so batched and unbatched runs cannot drift apart.
    finish_pre = HiddenLayer.finish_pre
    post_activation = HiddenLayer.post_activation


class StackedMLP(nn.Module):
    """K seeds of one :class:`~vanishing.model.MLP` architecture, trained as one computation."""

    def __init__(
        self,
        k: int,
        n_in: int,
        hidden: Sequence[int],
        n_out: int,
        activation: str | Sequence[str] = "relu",
        output: str = "softmax",
        batch_norm: str = "off",
        layer_norm: bool = False,
        residual: bool = False,
    ) -> None:
        super().__init__()
        acts = [activation] * len(hidden) if isinstance(activation, str) else list(activation)
        self.k = k
        self.arch = dict(n_in=n_in, hidden=list(hidden), n_out=n_out, activation=activation, output=output,
                         batch_norm=batch_norm, layer_norm=layer_norm, residual=residual)
        self.layer_names: list[str] = []
        width = n_in
        for i, (w, act) in enumerate(zip(hidden, acts), start=1):
            name = f"hidden{i}"
            self.add_module(name, StackedHiddenLayer(k, width, w, act, batch_norm, layer_norm, residual))
            self.layer_names.append(name)
            width = w
        self.output = StackedLinear(k, width, n_out)

    @classmethod
    def from_models(cls, models: Sequence[MLP], arch: dict) -> StackedMLP:
        """Stack K MLPs built with the architecture ``arch`` (the MLP constructor's arguments)."""
        stacked = cls(len(models), **arch)
        stacked.load_state_dict(stack_states([m.state_dict() for m in models]))
        return stacked

    @property
    def hidden_layers(self) -> list[StackedHiddenLayer]:
        return [getattr(self, name) for name in self.layer_names]

    def linears(self) -> list[StackedLinear]:
        return [layer.linear for layer in self.hidden_layers] + [self.output]

    def forward(self, x: torch.Tensor, keep_pre: bool = False) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """x [K, B, in] → (z [K, B, out], the pre-activations [K, B, width] per hidden layer if ``keep_pre``)."""
        pre = [] if keep_pre else None
        for layer in self.hidden_layers:
            a = layer.finish_pre(layer.linear(x))
            if pre is not None:
                pre.append(a)
            x = layer.post_activation(x, a)
        return self.output(x), pre

    def forward_shared(self, x: torch.Tensor) -> torch.Tensor:
        """The same inputs x [N, in] for every seed (evaluation) → z [K, N, out]."""
        h = None
        for i, layer in enumerate(self.hidden_layers):
            if i == 0:
                a = layer.linear.forward_shared(x)
                skip = x.unsqueeze(0)
            else:
                a = layer.linear(h)
                skip = h
            h = layer.post_activation(skip, layer.finish_pre(a))
        return self.output(h)

    @torch.no_grad()
    def select_(self, keep: Sequence[int]) -> None:
        """Keep only the seeds at positions ``keep`` (in that order): new Parameters, so rebuild the optimizer."""
        index = torch.as_tensor(list(keep), dtype=torch.long, device=self.output.weight.device)
        for module in self.modules():
            for name, p in list(module._parameters.items()):
                if p is not None:
                    module._parameters[name] = nn.Parameter(p.detach().index_select(0, index), requires_grad=p.requires_grad)
            for name, b in list(module._buffers.items()):
                if b is not None and not _is_shared(name):
                    module._buffers[name] = b.index_select(0, index)
        self.k = len(index)


# --------------------------------------------------------------------------- state dicts


def stack_states(states: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """K per-seed MLP state dicts → one stacked state dict (shared scalars taken from the first)."""
    out = {}
    for key in states[0]:
        values = [s[key] for s in states]
        out[key] = values[0].clone() if _is_shared(key) else torch.stack(values)
    return out


def unstack_state(stacked: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
    """Seed ``k``'s MLP state dict out of a stacked one (copies)."""
    return {key: (v.clone() if _is_shared(key) else v[k].clone()) for key, v in stacked.items()}


def stack_optimizer_states(states: Sequence[dict]) -> dict:
    """K per-seed optimizer state dicts of elementwise optimizers → the stacked optimizer's.

    Per-element tensors (exp_avg, momentum_buffer, …) are stacked; scalars
    (Adam's ``step``), equal for every seed, are taken from the first.
    """
    first = states[0]
    state = {}
    for idx, entry in first["state"].items():
        state[idx] = {
            key: (torch.stack([s["state"][idx][key] for s in states]) if torch.is_tensor(v) and v.dim() > 0 else v)
            for key, v in entry.items()
        }
    return {"state": state, "param_groups": first["param_groups"]}


def unstack_optimizer_state(stacked: dict, k: int) -> dict:
    """Seed ``k``'s optimizer state dict, as the unbatched optimizer over its MLP would hold it."""
    state = {}
    for idx, entry in stacked["state"].items():
        state[idx] = {
            key: (v[k].clone() if torch.is_tensor(v) and v.dim() > 0 else (v.clone() if torch.is_tensor(v) else v))
            for key, v in entry.items()
        }
    return {"state": state, "param_groups": stacked["param_groups"]}


def select_optimizer_state(state: dict, keep: Sequence[int]) -> dict:
    """An optimizer state dict with only the seeds at positions ``keep`` in every per-element tensor."""
    out = {}
    for idx, entry in state["state"].items():
        out[idx] = {
            key: (v.index_select(0, torch.as_tensor(list(keep), dtype=torch.long, device=v.device))
                  if torch.is_tensor(v) and v.dim() > 0 else v)
            for key, v in entry.items()
        }
    return {"state": out, "param_groups": state["param_groups"]}
