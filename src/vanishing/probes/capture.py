"""Views of the training engine's MLP for the probes: the step view and the probe-set capture.

These adapters are the only place that knows the MLP's structure; probes see
:class:`~vanishing.probes.base.StepView` and
:class:`~vanishing.probes.base.ProbeSetView`. A seed-batched engine builds the
same views from one seed's slices (step) or from an unstacked per-seed MLP
(probe set, :func:`capture_probe_set`); ``watch()`` builds them from hooks.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

from .base import ProbeSetView, StepView

CHUNK = 8192  # probe-set examples per forward pass


class MLPLayers:
    """The layer lists of an MLP, gathered once: names, Linear modules, hidden layers and activations."""

    def __init__(self, model) -> None:
        self.model = model
        linears = model.named_linears()
        self.weight_layers = [name for name, _ in linears]
        self.linears = [lin for _, lin in linears]
        self.hidden_layers = list(model.layer_names)
        self.hidden = model.hidden_layers
        self.activations = [layer.act.activation for layer in self.hidden]

    def step_view(self, step: int, deltas: list[torch.Tensor] | None = None, batch_size: int = 0) -> StepView:
        """The current weights and gradients (no copies, no sync)."""
        lins = self.linears
        return StepView(
            step=step,
            weight_layers=self.weight_layers,
            weights=[lin.weight for lin in lins],
            weight_grads=[lin.weight.grad for lin in lins],
            biases=[lin.bias for lin in lins],
            bias_grads=[lin.bias.grad if lin.bias is not None else None for lin in lins],
            hidden_layers=self.hidden_layers,
            deltas=deltas,
            batch_size=batch_size,
        )

    def hidden_output(self, x: torch.Tensor) -> torch.Tensor:
        """h_L: the last hidden layer's output for inputs x (in the model's current mode)."""
        for layer in self.hidden:
            x = layer(x)
        return x


@contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """Put ``model`` in eval mode (batch norm uses running statistics) and restore its mode after."""
    was = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was)


def capture_probe_set(
    model, x: torch.Tensor, y: torch.Tensor, loss, epoch: int, n_classes: int, need_deltas: bool, layers: MLPLayers | None = None
) -> ProbeSetView:
    """Pre-activations a, outputs f(a) and (optionally) per-example δ of every hidden layer on (x, y).

    Call inside :func:`eval_mode`. Per-example δ: one backward pass of the
    SUM of the per-example losses, Σ_n E_n, with respect to the
    pre-activations (``torch.autograd.grad``, so no parameter ``.grad`` is
    touched). Because no layer couples examples in eval mode,
    ∂(Σ_m E_m)/∂a_n = ∂E_n/∂a_n: row n holds example n's own δ.
    """
    layers = layers or MLPLayers(model)
    pre_parts: list[list[torch.Tensor]] = [[] for _ in layers.hidden]
    out_parts: list[list[torch.Tensor]] = [[] for _ in layers.hidden]
    delta_parts: list[list[torch.Tensor]] = [[] for _ in layers.hidden]
    for start in range(0, len(x), CHUNK):
        xb, yb = x[start : start + CHUNK], y[start : start + CHUNK]
        with torch.set_grad_enabled(need_deltas):
            z, pre, _ = model.forward_with_intermediates(xb)
            if need_deltas:
                total = loss.per_example(z, yb).sum()
                deltas = torch.autograd.grad(total, pre)
        with torch.no_grad():
            for i, (layer, a) in enumerate(zip(layers.hidden, pre)):
                a = a.detach()
                pre_parts[i].append(a)
                out_parts[i].append(layer.act(a))
                if need_deltas:
                    delta_parts[i].append(deltas[i].detach())
    cat = lambda parts: [torch.cat(p) for p in parts]
    return ProbeSetView(
        epoch=epoch,
        layers=layers.hidden_layers,
        activations=layers.activations,
        pre=cat(pre_parts),
        out=cat(out_parts),
        labels=y,
        n_classes=n_classes,
        deltas=cat(delta_parts) if need_deltas else None,
        x=x,
        hidden_fn=layers.hidden_output,
    )
