"""The multilayer perceptron under study.

``MLP(n_in, hidden, n_out, ...)`` stacks hidden layers named ``hidden1``,
``hidden2``, … and a linear layer named ``output``. Each hidden layer
computes, in this order::

    a = W x + b                      (linear)
    a = BN(a)        if batch_norm == "before"    (Ioffe & Szegedy 2015)
    a = LN(a)        if layer_norm                (Ba et al. 2016)
    y = f(a)                                      (the layer's activation)
    y = BN(y)        if batch_norm == "after"
    y = x + y        if residual and width(x) == width(y)   (He et al. 2016)

``a`` — the input of the activation function — is what the probes call the
pre-activation, and δ = ∂E/∂a is the backpropagated signal. The output layer
returns z = W x + b; the output activation (softmax, sigmoid, relu, linear)
is applied by the loss (:mod:`vanishing.losses`), so ``forward`` returns z.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import torch
from torch import nn

from . import activations, init

if TYPE_CHECKING:  # type-only: model sits below config (no import circle)
    from .config import ModelConfig


class HiddenLayer(nn.Module):
    """One hidden layer: linear → [BN] → [LN] → activation → [BN] → [+ skip]."""

    def __init__(
        self,
        n_in: int,
        n_out: int,
        activation: str,
        batch_norm: str = "off",
        layer_norm: bool = False,
        residual: bool = False,
    ) -> None:
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.batch_norm = batch_norm
        self.norm = nn.BatchNorm1d(n_out) if batch_norm != "off" else None
        self.layer_norm = nn.LayerNorm(n_out) if layer_norm else None
        self.act = activations.get(activation).module(n_out)
        self.residual = residual and n_in == n_out

    def pre_activation(self, x: torch.Tensor) -> torch.Tensor:
        """a: the input of the activation function."""
        return self.finish_pre(self.linear(x))

    def finish_pre(self, a: torch.Tensor) -> torch.Tensor:
        """The affine output a → the activation's input: batch norm "before", then layer norm."""
        if self.batch_norm == "before":
            a = self.norm(a)
        if self.layer_norm is not None:
            a = self.layer_norm(a)
        return a

    def post_activation(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """The layer output given its input x and pre-activation a."""
        y = self.act(a)
        if self.batch_norm == "after":
            y = self.norm(y)
        if self.residual:
            y = x + y
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.post_activation(x, self.pre_activation(x))


class MLP(nn.Module):
    """A fully connected network with named layers ``hidden1..hiddenL`` and ``output``."""

    def __init__(
        self,
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
        if len(acts) != len(hidden):
            raise ValueError(f"got {len(acts)} activations for {len(hidden)} hidden layers")
        self.output_activation = output
        self.layer_names: list[str] = []
        width = n_in
        for i, (w, act) in enumerate(zip(hidden, acts), start=1):
            name = f"hidden{i}"
            self.add_module(name, HiddenLayer(width, w, act, batch_norm, layer_norm, residual))
            self.layer_names.append(name)
            width = w
        self.output = nn.Linear(width, n_out)

    @property
    def hidden_layers(self) -> list[HiddenLayer]:
        return [getattr(self, name) for name in self.layer_names]

    def named_linears(self) -> list[tuple[str, nn.Linear]]:
        """(layer name, its nn.Linear) for every layer, input side first, ``output`` last."""
        return [(name, getattr(self, name).linear) for name in self.layer_names] + [("output", self.output)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.hidden_layers:
            x = layer(x)
        return self.output(x)

    def forward_with_intermediates(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """z plus, per hidden layer, its pre-activation a and its output y."""
        pre, post = [], []
        for layer in self.hidden_layers:
            a = layer.pre_activation(x)
            x = layer.post_activation(x, a)
            pre.append(a)
            post.append(x)
        return self.output(x), pre, post


def build_model(config: ModelConfig, n_in: int, n_out: int, seed: int) -> MLP:
    """Build the MLP of a resolved :class:`ModelConfig` and initialise it from ``seed``.

    Weights of every layer follow ``config.init`` (``auto`` picks per layer
    from its activation; the output layer from the output activation), biases
    ``config.bias_init``. Batch/layer norm start at γ = 1, β = 0.
    """
    model = MLP(
        n_in,
        config.hidden,
        n_out,
        activation=config.activation,
        output=config.output,
        batch_norm=config.batch_norm,
        layer_norm=config.layer_norm,
        residual=config.residual,
    )
    generator = torch.Generator().manual_seed(seed)
    acts = [config.activation] * len(config.hidden) if isinstance(config.activation, str) else list(config.activation)
    act_names = [activations.get(a).name for a in acts] + [config.output]
    for (_, linear), act_name in zip(model.named_linears(), act_names):
        init.init_linear_(linear, config.init, config.bias_init, act_name, generator=generator)
    return model
