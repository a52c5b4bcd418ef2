"""Adam/AdamW updates without torch.optim's per-step Python: the same fused kernel, called directly.

``torch.optim.Adam(fused=True).step()`` is one kernel, ``torch._fused_adam_``
(Kingma & Ba 2015, Algorithm 1, all parameters in one pass), wrapped in Python
that groups the tensors by device and dtype, runs hooks and profiler labels and
initialises the state — 60–200 µs per call, 3–8% of a training step at batch 32
(docs/performance.md). :func:`direct_step` makes the same call with the
optimizer's own state tensors: the update is bitwise identical
(tests/test_direct_step.py) and ``state_dict()`` / ``load_state_dict()`` keep
working. Whenever it cannot guarantee that — not Adam/AdamW, not fused, a
tensor learning rate, capturable/differentiable, hooks, several groups or
devices, a parameter without gradient, the state not yet created by a first
``step()`` — it does nothing and returns False, and the caller runs
``optimizer.step()``.
"""

from __future__ import annotations

import torch
import torch.optim.optimizer as _optimizer_module


def direct_step(optimizer: torch.optim.Optimizer) -> bool:
    """Apply one Adam/AdamW update through the fused kernel; False (nothing done) when it does not apply."""
    kernel = _kernel(optimizer)
    if kernel is None:
        return False
    group = optimizer.param_groups[0]
    params = group["params"]
    states = [optimizer.state.get(p) for p in params]
    if any(not s for s in states) or any(p.grad is None for p in params):
        return False
    first = params[0]
    if any(p.device != first.device or p.dtype != first.dtype or p.grad.dtype != p.dtype for p in params):
        return False
    steps = [s["step"] for s in states]
    if any(not isinstance(t, torch.Tensor) or t.device != first.device for t in steps):
        return False
    amsgrad = bool(group["amsgrad"])
    beta1, beta2 = group["betas"]
    torch._foreach_add_(steps, 1)
    kernel(
        params,
        [p.grad for p in params],
        [s["exp_avg"] for s in states],
        [s["exp_avg_sq"] for s in states],
        [s["max_exp_avg_sq"] for s in states] if amsgrad else [],
        steps,
        amsgrad=amsgrad,
        lr=group["lr"],
        beta1=float(beta1),
        beta2=float(beta2),
        weight_decay=group["weight_decay"],
        eps=group["eps"],
        maximize=group["maximize"],
        grad_scale=None,
        found_inf=None,
    )
    return True


def _kernel(optimizer: torch.optim.Optimizer):
    """torch._fused_adam_ / _fused_adamw_ when the optimizer's settings are the ones direct_step reproduces."""
    if type(optimizer) not in (torch.optim.Adam, torch.optim.AdamW) or len(optimizer.param_groups) != 1:
        return None
    group = optimizer.param_groups[0]
    if not group.get("fused") or group.get("capturable") or group.get("differentiable"):
        return None
    if isinstance(group["lr"], torch.Tensor) or any(isinstance(b, torch.Tensor) for b in group["betas"]):
        return None
    if not group["params"] or any(torch.is_complex(p) for p in group["params"]):
        return None
    hooks = (
        optimizer._optimizer_step_pre_hooks,
        optimizer._optimizer_step_post_hooks,
        getattr(_optimizer_module, "_global_optimizer_pre_hooks", {}),
        getattr(_optimizer_module, "_global_optimizer_post_hooks", {}),
    )
    if any(hooks):
        return None
    decoupled = type(optimizer) is torch.optim.AdamW or bool(group.get("decoupled_weight_decay", False))
    return getattr(torch, "_fused_adamw_" if decoupled else "_fused_adam_", None)
