"""Σ_n E_n from the user's loss function, so that one backward pass gives every per-example δ.

Per-example δ_n = ∂E_n/∂a_n needs the sum of the examples' own losses
Σ_n E_n: in eval mode no layer couples examples (batch norm uses its running
statistics, dropout is off), so ∂(Σ_m E_m)/∂a_n = ∂E_n/∂a_n and one backward
pass gives each example's δ in its own row. E_n is defined as **the user's
loss on a batch holding example n alone**, ``loss_fn(model(x[n:n+1]), y[n:n+1])``.
How Σ_n E_n is obtained from ``loss_fn`` (``loss_reduction``):

``"auto"`` (default)
    a :class:`vanishing.losses.Loss` → its ``per_example``; a loss module
    with a ``reduction`` attribute (``nn.CrossEntropyLoss()``, ``nn.MSELoss()``…)
    → that reduction; anything else (``F.cross_entropy``, a lambda) → ``"mean"``.
``"mean"``
    loss_fn returns the mean over examples: Σ_n E_n = N · loss_fn(output, y).
    True for every torch loss with ``reduction='mean'`` whose mean is over
    examples (cross-entropy, NLL, BCE, and MSE/L1 — their mean over all
    elements is the mean over examples of each example's mean).
    Not true for a class-weighted cross-entropy (a weighted mean).
``"sum"``
    loss_fn returns Σ_n E_n.
``"none"``
    loss_fn returns per-example (or per-element) losses; Σ_n E_n is the sum of
    all entries (for per-element losses E_n is then the sum over the
    example's elements, not their mean: a constant factor that every layer's
    δ shares, so ratios between layers are unchanged).

The assumption is **checked** once when ``watch`` starts: on the first
``m = min(N, 16)`` probe examples, loss_fn on the m-example batch must equal
the mean (``"mean"``) or sum (``"sum"``) of the m single-example calls, within
1e-4 relative; otherwise :class:`LossReductionError` says what to pass.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch.utils._pytree import tree_flatten, tree_map

REDUCTIONS = ("auto", "mean", "sum", "none")
CHECK_EXAMPLES = 16


class LossReductionError(ValueError):
    """The loss function does not reduce over examples the way ``loss_reduction`` says."""


def batch_size(x: Any) -> int:
    """N: the leading dimension of the first tensor in ``x`` (a tensor, tuple, list or dict)."""
    leaves = [t for t in tree_flatten(x)[0] if isinstance(t, torch.Tensor) and t.dim() > 0]
    if not leaves:
        raise ValueError("probe_batch: the inputs hold no tensor with a batch dimension")
    return int(leaves[0].shape[0])


def probe_size(x: Any, y: Any) -> int:
    """N of the probe batch: the targets' leading dimension where the inputs are time-first (an ``nn.RNN`` with
    ``batch_first=False``: x is (T, N, …), y is (N,)), else :func:`batch_size` of the inputs."""
    n = batch_size(x)
    if isinstance(y, torch.Tensor) and y.dim() > 0 and int(y.shape[0]) != n:
        m = int(y.shape[0])
        if any(isinstance(t, torch.Tensor) and m in tuple(t.shape[1:]) for t in tree_flatten(x)[0]):
            return m
    return n


def take(tree: Any, start: int, stop: int, n: int) -> Any:
    """Rows start:stop of every tensor in ``tree`` whose leading dimension is n."""
    return tree_map(lambda t: t[start:stop] if isinstance(t, torch.Tensor) and t.dim() > 0 and t.shape[0] == n else t, tree)


def resolve_reduction(loss_fn: Callable, loss_reduction: str = "auto") -> str:
    """``"per_example"`` (a vanishing Loss), ``"mean"``, ``"sum"`` or ``"none"``."""
    if loss_reduction not in REDUCTIONS:
        raise ValueError(f"loss_reduction={loss_reduction!r}: must be one of {', '.join(REDUCTIONS)}")
    if loss_reduction != "auto":
        return loss_reduction
    if callable(getattr(loss_fn, "per_example", None)):
        return "per_example"
    reduction = getattr(loss_fn, "reduction", None)
    if reduction in ("mean", "sum", "none"):
        return reduction
    return "mean"


def summed_loss(loss_fn: Callable, reduction: str) -> Callable[[Any, Any, int], torch.Tensor]:
    """(output, y, N) → Σ_n E_n, a scalar in the graph."""

    def total(output: Any, y: Any, n: int) -> torch.Tensor:
        if reduction == "per_example":
            return loss_fn.per_example(output, y).sum()
        value = loss_fn(output, y)
        if reduction == "mean":
            return value * n
        return value.sum()  # "sum" (a scalar already) or "none"

    return total


def check_reduction(loss_fn: Callable, reduction: str, output: Any, y: Any, n: int) -> None:
    """Check on the first few examples that loss_fn reduces as ``reduction`` says (see the module docstring)."""
    if reduction in ("per_example",):
        return
    m = min(n, CHECK_EXAMPLES)
    with torch.no_grad():
        batch = loss_fn(take(output, 0, m, n), take(y, 0, m, n))
        if reduction == "none":
            if batch.dim() == 0 or batch.shape[0] != m:
                raise LossReductionError(
                    f"loss_reduction='none': loss_fn returned shape {tuple(batch.shape)} for {m} examples; "
                    "expected one loss per example (leading dimension = batch size)"
                )
            return
        if batch.dim() != 0:
            raise LossReductionError(
                f"loss_fn returned shape {tuple(batch.shape)}, not a scalar: pass loss_reduction='none' for per-example losses"
            )
        singles = torch.stack([loss_fn(take(output, i, i + 1, n), take(y, i, i + 1, n)).reshape(()) for i in range(m)])
        expected = singles.mean() if reduction == "mean" else singles.sum()
    b, e = float(batch), float(expected)
    if abs(b - e) > 1e-4 * max(abs(b), abs(e)) + 1e-6:
        other = "sum" if reduction == "mean" else "mean"
        raise LossReductionError(
            f"loss_fn on {m} examples gives {b:.6g}, but the {reduction} of its value on each example alone is {e:.6g}: "
            f"it is not a plain {reduction} over examples (a class-weighted loss?). Pass loss_reduction='{other}' if that "
            "is what it is, or a loss_fn that returns one loss per example with loss_reduction='none'"
        )
