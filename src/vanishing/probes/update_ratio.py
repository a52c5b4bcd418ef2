"""``update_ratio``: how far one optimizer step moves each layer's weights, relative to their size.

For layer l, with W the weight before the step and W′ after it::

    update_norm = ‖W′ − W‖₂            (Frobenius)
    weight_norm = ‖W‖₂
    ratio       = ‖W′ − W‖₂ / ‖W‖₂     (dimensionless)

The "update:data ratio" of Karpathy's CS231n notes ("Babysitting the learning
process"): around 1e-3 is the usual healthy scale; much smaller means the
layer barely learns (what a vanishing gradient looks like to plain SGD),
much larger means the step size is too big. Adaptive optimizers (Adam,
SDAGD, Tan & Lim 2019) rescale per parameter, so the ratio shows what the
optimizer did with a vanishing gradient. Weights only (biases start at 0).

Cost on a scheduled step: one copy of the weights before the step, then a
``torch._foreach_sub`` and two ``torch._foreach_norm``. Default (``full``
preset): every 10 steps.
"""

from __future__ import annotations

from typing import Sequence

import torch

from .base import StepProbe, StepView, register

COLUMNS = ("update_norm", "weight_norm", "ratio")


def update_ratio_stats(before: Sequence[torch.Tensor], after: Sequence[torch.Tensor]) -> torch.Tensor:
    """Per layer [‖W′ − W‖₂, ‖W‖₂, ‖W′ − W‖₂/‖W‖₂], shape (L, 3). No host sync."""
    diff = torch._foreach_sub(list(after), list(before))
    update = torch.stack(torch._foreach_norm(diff, 2))
    weight = torch.stack(torch._foreach_norm(list(before), 2))
    return torch.stack([update, weight, update / weight], dim=1)


@register
class UpdateRatio(StepProbe):
    """Per layer with weights and scheduled step: ‖ΔW‖/‖W‖ of the optimizer step."""

    name = "update_ratio"
    columns = COLUMNS
    layer_kind = "weight"
    tables = ("update_ratio",)
    defaults = {"every": 10, "log": 0}

    def before_update(self, view: StepView) -> list[torch.Tensor]:
        return [w.detach().clone() for w in view.weights]

    def after_update(self, view: StepView, stash: list[torch.Tensor]) -> torch.Tensor:
        return update_ratio_stats(stash, [w.detach() for w in view.weights])
