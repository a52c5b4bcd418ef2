"""When runs may train as one seed batch, and when it pays.

**May** (:func:`unbatchable_reason`): the runs differ only in the seed
(the sweep groups them by config hash) and

* the optimizer is elementwise — sgd (momentum, nesterov), adagrad,
  adadelta, rmsprop, adam, adamw update each weight from its own gradient
  and state, so one optimizer over stacked weights is K independent ones.
  ``sdagd`` is not: its step length μ = ‖g‖/R comes from the norm of a
  whole layer (``layer``) or of all gradients (``global``) and its curvature
  from the engine's per-model recursion, so it runs unbatched;
* no activation draws from the global RNG — ``rrelu`` samples its slopes
  from torch's global generator, whose stream an unbatched run owns alone,
  so a batched rrelu run could not reproduce it.

Batch norm, layer norm, residual connections, PReLU, every other
activation, gradient clipping (per seed), early stopping, schedules and the
probes are supported.

**Pays** (:func:`should_batch`): batching trades K small matrix products
for one batched product of the same size. It saves the per-step overhead
(Python, dispatch, the optimizer's bookkeeping) K − 1 times, but its working
set is K times larger: once K × (weights, gradients, Adam state) no longer
fits in the CPU's last-level cache, every step streams it from memory, and
the memory-bound parts (the optimizer, the gather of the mini-batch,
elementwise ops) get slower per element; and on this CPU a batched matmul
runs no faster than the same products one by one. With the fused explicit
step (:mod:`vanishing.fused_step`) a sequential run at width 200 already
does ~83 GFLOP/s on one thread, so there is little overhead left to save:
batching pays (×1.14–1.21) only for narrow nets. Measured with
``benchmarks/seed_batching.py`` (one thread, 784 → width×4 → 10, batch 128,
Adam; K sequential runs / one K-batch, median of interleaved pairs) — see
:data:`MEASURED` and ``docs/sweeps.md``. The rule: batch when the widest
hidden layer is at most ``w`` for the first row ``(w, k_min)`` of
:data:`RULE` with ``K ≥ k_min``. Runs that train through autograd in both
engines (batch/layer norm, skips, PReLU, ``engine="autograd"``) keep the
rule measured when both engines were autograd (:data:`AUTOGRAD_RULE`,
:data:`AUTOGRAD_MEASURED`): there the per-step overhead batching saves is
still there.
"""

from __future__ import annotations

from ..config import RunConfig
from ..fused_step import applies_to

ELEMENTWISE_OPTIMIZERS = ("sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamw")
GLOBAL_RNG_ACTIVATIONS = ("rrelu",)

# speed-up of one K-seed batch over K sequential runs (train time, one thread; see the module docstring).
# Measured alone on the machine: `python benchmarks/seed_batching.py --grid --repeats 3` (2-vCPU x86-64, torch 2.13.0),
# both engines with the fused explicit step (vanishing.fused_step).
MEASURED: dict[tuple[int, int], float] = {
    (64, 2): 1.21, (64, 3): 1.14, (64, 4): 1.16, (64, 8): 1.18,
    (128, 2): 0.98, (128, 3): 0.96, (128, 4): 1.13, (128, 8): 1.03,
    (200, 2): 0.93, (200, 3): 1.04, (200, 4): 1.06, (200, 8): 1.02,
    (400, 2): 1.17, (400, 3): 1.07, (400, 4): 1.11, (400, 8): 0.99,
    (800, 2): 0.99, (800, 3): 1.01, (800, 4): 1.02, (800, 8): 0.96,
}
# (max width, min K): batch when max(hidden) ≤ width and K ≥ min K for some row
RULE: tuple[tuple[int, int], ...] = ((64, 2),)
# Runs that train through autograd in both engines (batch/layer norm, skips, PReLU, or engine="autograd") keep the
# rule measured when both engines were autograd (same command, same machine, before the fused step):
AUTOGRAD_MEASURED: dict[tuple[int, int], float] = {
    (64, 2): 1.17, (64, 3): 1.30, (64, 4): 1.41, (64, 8): 1.48,
    (128, 2): 1.09, (128, 3): 1.13, (128, 4): 1.14, (128, 8): 1.14,
    (200, 2): 0.98, (200, 3): 1.00, (200, 4): 1.05, (200, 8): 1.09,
    (400, 2): 1.05, (400, 3): 1.08, (400, 4): 1.11, (400, 8): 1.11,
    (800, 2): 1.03, (800, 3): 1.04, (800, 4): 1.02, (800, 8): 1.03,
}
AUTOGRAD_RULE: tuple[tuple[int, int], ...] = ((128, 2), (256, 4))
MIN_K = 2
MAX_K = 8  # larger groups of seeds are split into batches of at most this many


def unbatchable_reason(config: RunConfig) -> str | None:
    """Why the runs of ``config`` cannot share a seed batch, or None when they can."""
    from ..activations import get as get_activation
    from ..optim import canonical

    name, _ = canonical(config.optim.optimizer)
    if name not in ELEMENTWISE_OPTIMIZERS:
        return (f"optimizer {name} is not elementwise (batched: {', '.join(ELEMENTWISE_OPTIMIZERS)}); "
                "its step couples the weights of a layer")
    acts = [config.model.activation] if isinstance(config.model.activation, str) else list(config.model.activation)
    for act in acts:
        if get_activation(act).name in GLOBAL_RNG_ACTIVATIONS:
            return f"activation {act} draws from torch's global RNG, which each unbatched run owns alone"
    return None


def batch_memory_bytes(config: RunConfig, k: int, n_features: int = 784, n_classes: int = 10) -> int:
    """A generous estimate of the device memory K stacked seeds of ``config`` need while training.

    Per seed: weights, gradients and two optimizer state tensors (Adam's
    moments), plus the activations of one mini-batch kept for the backward
    pass (pre- and post-activation and their gradients), all float32; doubled
    for the allocator's slack. The data set itself is shared by the batch and
    not counted (it lives on the device whether the seeds batch or not).
    """
    widths = [n_features, *config.model.hidden, n_classes]
    params = sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))
    acts = config.train.batch_size * sum(widths[1:]) * 4
    return 2 * 4 * k * (4 * params + acts)


def device_free_bytes(device: str) -> int | None:
    """Free memory of a CUDA ``device`` (``torch.cuda.mem_get_info``), None where it cannot be read."""
    import torch

    try:
        free, _total = torch.cuda.mem_get_info(torch.device(device))
    except Exception:  # no CUDA, or a device string torch does not know
        return None
    return int(free)


def _device_type(device: str) -> str:
    if device in (None, "auto"):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device).split(":")[0]


def should_batch(config: RunConfig, k: int, device: str = "cpu", engine: str = "auto",
                 free_bytes: int | None = None) -> bool:
    """True when K runs of ``config`` (differing in seed) should train as one seed batch.

    On a CPU: :data:`RULE` for runs that take the fused step,
    :data:`AUTOGRAD_RULE` for runs that train through autograd (``engine``
    is ``ExecConfig.engine``) — both measured on 2 CPU cores. On a GPU
    (``device`` ``cuda`` or ``cuda:N``, or ``auto`` with CUDA present): batch
    whenever K ≥ 2 and the K seeds fit in the device's free memory
    (:func:`batch_memory_bytes` against ``free_bytes``, read with
    :func:`device_free_bytes` when not given; unknown free memory counts as
    fitting). That GPU branch is not measured yet: ``benchmarks/device_check.py``
    measures the seed-batching grid on a GPU, and its numbers replace this
    branch once a GPU run exists (docs/sweeps.md, docs/performance.md).
    """
    if k < MIN_K or unbatchable_reason(config) is not None:
        return False
    if _device_type(device) == "cuda":
        free = free_bytes if free_bytes is not None else device_free_bytes(device if device != "auto" else "cuda")
        return free is None or batch_memory_bytes(config, k) <= free
    width = max(config.model.hidden)
    rule = RULE if applies_to(config, engine) else AUTOGRAD_RULE
    return any(width <= w and k >= k_min for w, k_min in rule)
