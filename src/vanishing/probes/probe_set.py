"""The probe set: a fixed, class-stratified sample on which snapshot probes look at the network.

``per_class`` examples of every class (default 100: 1,000 on MNIST, as in the
issue's overhead target), drawn from one split of the run's data by a
generator seeded with ``seed`` — independent of the run seed, so every run
and every seed of a study sees the same examples. Classes with fewer examples
contribute all they have. The examples are ordered by class (class 0 first),
in random order within a class.

Which split (``probes.probe_split``): ``train`` by default — the examples the
loss and its δ come from, always present, and the data on which the
mean-field q₁ is measured; ``val`` or ``test`` look at held-out data instead
(``val`` is the test set when ``data.val_fraction = 0``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import ConfigError

SPLITS = ("train", "val", "test")


@dataclass
class ProbeSet:
    """Inputs ``x`` (N, D), labels ``y`` (N,), their ``indices`` in ``split``, and the number of classes."""

    x: torch.Tensor
    y: torch.Tensor
    indices: torch.Tensor
    split: str
    n_classes: int

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device) -> ProbeSet:
        return ProbeSet(self.x.to(device), self.y.to(device), self.indices, self.split, self.n_classes)


def stratified_indices(labels: torch.Tensor, per_class: int, seed: int = 0, n_classes: int | None = None) -> torch.Tensor:
    """Indices of up to ``per_class`` examples of each class, grouped by class, seeded by ``seed``."""
    y = labels.detach().cpu()
    k = int(y.max()) + 1 if n_classes is None else n_classes
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    shuffled = y[perm]
    parts = [perm[shuffled == c][:per_class] for c in range(k)]
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long)


def make_probe_set(data, split: str = "train", per_class: int = 100, seed: int = 0) -> ProbeSet:
    """The probe set of a :class:`~vanishing.data.Dataset` (see the module docstring)."""
    if split not in SPLITS:
        raise ConfigError(f"probes.probe_split: expected one of {', '.join(SPLITS)}, got {split!r}")
    x, y = {"train": (data.x_train, data.y_train), "val": (data.x_val, data.y_val), "test": (data.x_test, data.y_test)}[split]
    idx = stratified_indices(y, per_class, seed, data.n_classes)
    dev_idx = idx.to(x.device)
    return ProbeSet(x.index_select(0, dev_idx), y.index_select(0, dev_idx), idx, split, data.n_classes)
