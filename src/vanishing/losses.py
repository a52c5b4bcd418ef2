"""Losses, output layers, and which pairs of them are valid.

The MLP returns the pre-activation of its output layer, ``z``; the output
activation is applied here, inside the loss, so that softmax + cross-entropy
can use the numerically stable log-softmax.

==========  =============================  ==========================================
loss        valid outputs                  definition (per example; mean over batch)
==========  =============================  ==========================================
``ce``      softmax, relu, sigmoid         softmax: −log softmax(z)_t.  relu/sigmoid:
                                           Keras semantics, p = y / Σy clipped to
                                           [1e-7, 1 − 1e-7], −log p_t (needed for the
                                           output-activation ablation of Robinson 2024)
``mse``     sigmoid, linear, softmax       ½ Σ_k (d_k − y_k)², d one-hot (Tan & Lim 2019,
                                           the objective "½(D − Y)²")
``bce``     sigmoid                        mean_k −[d_k log y_k + (1 − d_k) log(1 − y_k)],
                                           d one-hot (Keras ``binary_crossentropy``)
==========  =============================  ==========================================

One difference from Keras: for relu outputs whose sum is 0 on an example,
Keras divides 0 by 0 and the loss becomes NaN; here the sum is floored at
1e-7 first, so p is clipped to 1e-7 and the loss is finite (−log 1e-7 ≈ 16.1)
with a zero gradient for that example.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .errors import ConfigError

OUTPUTS = ("softmax", "sigmoid", "relu", "linear")
LOSSES = ("ce", "mse", "bce")
VALID_OUTPUTS: dict[str, tuple[str, ...]] = {
    "ce": ("softmax", "relu", "sigmoid"),
    "mse": ("sigmoid", "linear", "softmax"),
    "bce": ("sigmoid",),
}
DEFAULT_OUTPUT = {"ce": "softmax", "mse": "sigmoid", "bce": "sigmoid"}
KERAS_EPSILON = 1e-7


def check_pair(loss: str, output: str) -> None:
    """Reject an unknown loss or an output layer the loss does not accept."""
    if loss not in VALID_OUTPUTS:
        raise ConfigError(f"optim.loss: unknown loss {loss!r} (valid: {', '.join(LOSSES)})")
    if output not in VALID_OUTPUTS[loss]:
        pairs = "; ".join(f"{name}: {', '.join(outs)}" for name, outs in VALID_OUTPUTS.items())
        raise ConfigError(f"model.output: {output!r} is not valid with loss {loss!r} (valid pairs — {pairs})")


def output_activation(output: str, z: torch.Tensor) -> torch.Tensor:
    """y = φ_out(z) for the output layer."""
    if output == "softmax":
        return torch.softmax(z, dim=1)
    if output == "sigmoid":
        return torch.sigmoid(z)
    if output == "relu":
        return torch.relu(z)
    if output == "linear":
        return z
    raise ConfigError(f"model.output: unknown output {output!r} (valid: {', '.join(OUTPUTS)})")


@dataclass(frozen=True)
class Loss:
    """A loss on output pre-activations ``z`` [N, K] and integer targets [N]."""

    name: str
    output: str
    n_classes: int

    def per_example(self, z: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of each example, shape [N]."""
        if self.name == "ce":
            if self.output == "softmax":
                return F.cross_entropy(z, target, reduction="none")
            y = output_activation(self.output, z)
            p = y / y.sum(dim=1, keepdim=True).clamp_min(KERAS_EPSILON)
            p = p.clamp(KERAS_EPSILON, 1.0 - KERAS_EPSILON)
            return -torch.log(p.gather(1, target[:, None]).squeeze(1))
        d = F.one_hot(target, self.n_classes).to(z.dtype)
        if self.name == "mse":
            y = output_activation(self.output, z)
            return 0.5 * (d - y).square().sum(dim=1)
        if self.name == "bce":
            return F.binary_cross_entropy_with_logits(z, d, reduction="none").mean(dim=1)
        raise ConfigError(f"optim.loss: unknown loss {self.name!r} (valid: {', '.join(LOSSES)})")

    def __call__(self, z: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean of the per-example loss over the batch (a scalar)."""
        if self.name == "ce" and self.output == "softmax":
            return F.cross_entropy(z, target)
        return self.per_example(z, target).mean()

    def predict(self, z: torch.Tensor) -> torch.Tensor:
        """Predicted class: argmax of the output activation (ties → lowest index)."""
        if self.output == "relu":
            return torch.relu(z).argmax(dim=1)
        return z.argmax(dim=1)  # softmax, sigmoid and identity are monotone


def make_loss(name: str, output: str, n_classes: int) -> Loss:
    """Validated :class:`Loss` for a loss name, an output layer and K classes."""
    check_pair(name, output)
    return Loss(name, output, n_classes)
