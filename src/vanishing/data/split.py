"""Stratified, seeded selection of examples: training subsets and validation splits.

Both operations draw a fixed number of examples while keeping the class
proportions of the pool:

1. **Allocation** (largest-remainder / Hamilton method): class ``c`` with
   ``n_c`` of the ``N`` examples gets ``floor(k * n_c / N)`` places, and the
   ``k - Σ floor(...)`` places left over go to the classes with the largest
   fractional parts (ties to the smaller class index). Every class's share is
   then within one example of its exact proportion, and the total is exactly k.
2. **Draw**: within each class, a uniformly random subset of its allocation,
   from a :class:`numpy.random.Generator` (PCG64) seeded with
   ``SeedSequence([seed, stream])``. Separate streams keep the training
   subset and the validation split independent of each other, and the
   result does not depend on any global random state.

Returned indices are sorted, so the kept examples stay in their original
order; the training loop draws its own seeded permutation each epoch.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

#: Random streams derived from one ``split_seed``.
STREAM_SUBSET = 0
STREAM_VALIDATION = 1


def allocate(counts: np.ndarray, k: int) -> np.ndarray:
    """Places per class for a stratified draw of ``k`` of ``sum(counts)`` (largest remainder)."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if not 0 <= k <= total:
        raise ValueError(f"cannot draw {k} of {total} examples")
    quotas = counts * k
    base = quotas // total if total else np.zeros_like(counts)
    remainder = quotas - base * total  # fractional parts, times `total` (exact integers)
    left = k - int(base.sum())
    order = np.lexsort((np.arange(len(counts)), -remainder))  # largest remainder first, ties by class index
    base[order[:left]] += 1
    return base


def stratified_draw(labels: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``k`` examples drawn class by class in proportion (see the module docstring)."""
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    shares = allocate(counts, k)
    chosen = [
        rng.choice(np.flatnonzero(labels == c), size=int(share), replace=False)
        for c, share in zip(classes, shares, strict=True)
        if share
    ]
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def subset_indices(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """A stratified subset of ``size`` training examples, seeded by ``seed``."""
    n = len(labels)
    if size > n:
        raise ConfigError(f"data.train_subset: {size:,} exceeds the {n:,} training examples")
    if size <= 0:
        raise ConfigError(f"data.train_subset: expected a positive integer, got {size}")
    return stratified_draw(labels, size, _rng(seed, STREAM_SUBSET))


def validation_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices): ``round(fraction * N)`` examples held out, stratified.

    ``fraction`` must lie in (0, 1); the hold-out must leave at least one
    example on each side.
    """
    n = len(labels)
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"data.val_fraction: expected a number in [0, 1), got {fraction}")
    k = int(round(fraction * n))
    if not 0 < k < n:
        raise ConfigError(
            f"data.val_fraction: {fraction} of {n:,} training examples gives {k} validation examples; "
            "use 0 (validate on the test set) or a fraction that leaves examples on both sides"
        )
    val = stratified_draw(labels, k, _rng(seed, STREAM_VALIDATION))
    keep = np.ones(n, dtype=bool)
    keep[val] = False
    return np.flatnonzero(keep), val


def _rng(seed: int, stream: int) -> np.random.Generator:
    if int(seed) < 0:
        raise ConfigError(f"data.split_seed: expected a non-negative integer, got {seed}")
    return np.random.default_rng(np.random.SeedSequence([int(seed), stream]))
