"""``jacobian_spectrum``: singular values of the input → last-hidden-layer Jacobian.

For a probe example x, J(x) = ∂h_L/∂x (width_L × n_in), with h_L the output of
the last hidden layer in eval mode; for the plain MLP
J = D_L W_L · … · D_1 W_1 with D_l = diag f′(a_l) (batch norm in eval mode
and residual skips add their own factors). Its singular values
σ_1 ≥ σ_2 ≥ … describe how the network stretches input perturbations — and,
transposed, how it passes error signals back: dynamical isometry
(Saxe et al. 2014; Pennington, Schoenholz & Ganguli 2017) means all σ_k ≈ 1;
a spectrum collapsing towards 0 with depth is the vanishing gradient seen as
a linear map.

Recorded per example, not averaged: on ``examples`` probe examples (default
10, chosen class by class — the first example of each class, then the second,
… — so 10 examples on MNIST are one per class) the full spectrum
(min(width_L, n_in) values, descending). Average at analysis time, e.g.
``df.groupby(['epoch', 'index']).singular_value.mean()`` for the mean
spectrum, or pool all values for the empirical spectral density.

Cost: per example one forward/backward pass of a batch of width_L copies of
x (the rows of J by reverse mode) and one SVD — ≈ 0.17 s per example for
784 → 700×5 on one CPU thread, so the default schedule is at init only
(``full`` preset).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .base import Columns, ProbeSetView, SnapshotProbe, register, to_numpy


def input_jacobian(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """J(x) = ∂fn(x)/∂x at a single input ``x`` (shape (d,) or (1, d)), as (out, d).

    Reverse mode on m copies of x with the identity as output gradient: row k
    of the gradient is ∇_x fn(x)_k. ``fn`` must treat examples independently
    (eval mode).
    """
    x = x.reshape(1, -1).detach()
    with torch.no_grad():
        m = fn(x).reshape(1, -1).shape[1]
    xs = x.expand(m, -1).clone().requires_grad_(True)
    with torch.enable_grad():
        h = fn(xs).reshape(m, m)
        (grad,) = torch.autograd.grad(h, xs, grad_outputs=torch.eye(m, dtype=h.dtype, device=h.device))
    return grad


def jacobian_singular_values(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Singular values (descending) of J at each row of ``x``: shape (N, min(out, d))."""
    return torch.stack([torch.linalg.svdvals(input_jacobian(fn, xi)) for xi in x])


def interleaved_by_class(labels: torch.Tensor, count: int) -> torch.Tensor:
    """Indices of ``count`` examples: the first of each class, then the second of each class, …"""
    keys, seen = [], {}
    for i, c in enumerate(labels.cpu().tolist()):
        r = seen.get(c, 0)
        seen[c] = r + 1
        keys.append((r, c, i))
    order = [i for _, _, i in sorted(keys)]
    return torch.tensor(order[:count], dtype=torch.long)


@register
class JacobianSpectrum(SnapshotProbe):
    """Singular values of ∂h_L/∂x on a few probe examples (per example, descending)."""

    name = "jacobian_spectrum"
    tables = ("jacobian_spectrum",)
    defaults = {"epochs": "init", "k": 5, "examples": 10}
    needs_hidden_fn = True

    @classmethod
    def check_options(cls, options, field_name):
        super().check_options(options, field_name)
        from ..errors import ConfigError

        if not isinstance(options["examples"], int) or options["examples"] < 1:
            raise ConfigError(f"{field_name}: jacobian_spectrum(examples=...) must be an integer >= 1, got {options['examples']!r}")

    def compute(self, view: ProbeSetView) -> dict[str, Columns]:
        assert view.x is not None and view.hidden_fn is not None, "jacobian_spectrum needs the inputs and hidden_fn"
        chosen = interleaved_by_class(view.labels, self.options["examples"])
        sv = to_numpy(jacobian_singular_values(view.hidden_fn, view.x[chosen.to(view.x.device)]))
        n, r = sv.shape
        labels = to_numpy(view.labels.cpu()[chosen], np.int64)
        return {
            "jacobian_spectrum": {
                "example": np.repeat(chosen.numpy(), r),
                "class": np.repeat(labels, r),
                "index": np.tile(np.arange(r), n),
                "singular_value": sv.reshape(-1),
            }
        }
