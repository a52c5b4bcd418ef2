"""Seed batching: K runs that differ only in their seed, trained as one batched computation (SPEC §5).

* :func:`fit_batch` — the engine (:mod:`.engine`);
* :class:`StackedMLP` — K MLPs with stacked weights [K, out, in] (:mod:`.stacked`);
* :func:`should_batch`, :func:`unbatchable_reason` — the rule (:mod:`.rule`);
* :class:`BatchDir` — the joint checkpoint a batch resumes from (:mod:`.checkpoint`).

See ``docs/sweeps.md`` for the measurements behind the rule.
"""

from .checkpoint import BatchDir, MemoryBatchDir, batch_id, existing_batches
from .engine import BatchError, NullSink, check_batch, evaluate_stacked, fit_batch
from .rule import MAX_K, MIN_K, RULE, should_batch, unbatchable_reason
from .stacked import StackedMLP, stack_optimizer_states, stack_states, unstack_optimizer_state, unstack_state

__all__ = [
    "BatchDir", "BatchError", "MAX_K", "MIN_K", "RULE", "MemoryBatchDir", "NullSink", "StackedMLP",
    "batch_id", "check_batch", "evaluate_stacked", "existing_batches", "fit_batch", "should_batch",
    "stack_optimizer_states", "stack_states", "unbatchable_reason", "unstack_optimizer_state", "unstack_state",
]
