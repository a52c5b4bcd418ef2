"""The :class:`Dataset` a run trains on, and :func:`load_dataset`, which builds it.

Pipeline, in this order (each step documented in its own module):

1. raw arrays from the files (:func:`vanishing.data.sources.load_arrays`);
2. ``train_subset``: a stratified subset of the training set
   (:func:`vanishing.data.split.subset_indices`), seeded by ``split_seed``;
3. validation split carved out of the (subset) training set, stratified,
   seeded by ``split_seed`` (:func:`vanishing.data.split.validation_split`);
   with ``val_fraction == 0`` the test set serves as validation (as in
   Robinson's experiments) and ``val_is_test`` says so;
4. flatten and divide by ``pixel_divisor`` (:mod:`vanishing.data.preprocess`);
5. optional per-feature standardisation with training-split statistics;
6. every split as one tensor on ``device``: the training loop takes index
   slices of a seeded permutation, with no DataLoader in the hot loop.

The same arguments always give bit-identical tensors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np
import torch

from ..errors import ConfigError
from .preprocess import standardize as standardize_features
from .preprocess import to_features
from .sources import load_arrays
from .split import subset_indices, validation_split


@dataclass(eq=False, repr=False)
class Dataset:
    """A data set ready for training: float32 inputs (N, D) and int64 labels (N,) per split.

    When ``val_is_test`` is true, ``x_val``/``y_val`` *are* the test tensors
    (same objects): there is no separate validation split.
    """

    name: str
    x_train: torch.Tensor  # float32 (N_train, D)
    y_train: torch.Tensor  # int64 (N_train,)
    x_val: torch.Tensor  # float32 (N_val, D)
    y_val: torch.Tensor  # int64 (N_val,)
    x_test: torch.Tensor  # float32 (N_test, D)
    y_test: torch.Tensor  # int64 (N_test,)
    classes: tuple[str, ...]  # class names in label order
    val_is_test: bool  # True when val_fraction == 0: validation means the test set
    source: str  # one human line: where the data came from

    @property
    def n_features(self) -> int:
        """D, the length of one flattened input."""
        return int(self.x_train.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes (labels are 0 … n_classes - 1)."""
        return len(self.classes)

    @property
    def device(self) -> torch.device:
        return self.x_train.device

    def to(self, device: str | torch.device) -> Dataset:
        """A copy with every tensor on ``device`` (validation stays the test tensors when ``val_is_test``)."""
        x_test, y_test = self.x_test.to(device), self.y_test.to(device)
        if self.val_is_test:
            x_val, y_val = x_test, y_test
        else:
            x_val, y_val = self.x_val.to(device), self.y_val.to(device)
        return replace(
            self, x_train=self.x_train.to(device), y_train=self.y_train.to(device),
            x_val=x_val, y_val=y_val, x_test=x_test, y_test=y_test,
        )

    def __repr__(self) -> str:
        val = "test set" if self.val_is_test else f"{len(self.y_val):,}"
        return (
            f"Dataset({self.name!r}, train={len(self.y_train):,}, val={val}, test={len(self.y_test):,}, "
            f"features={self.n_features}, classes={self.n_classes}, device={self.device})"
        )


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike | None = None,
    mirror: str | None = None,
    val_fraction: float = 0.1,
    split_seed: int = 0,
    pixel_divisor: float = 255.0,
    standardize: bool = False,
    train_subset: int | None = None,
    device: str | torch.device = "cpu",
    download: bool = True,
) -> Dataset:
    """Load data set ``name`` as tensors on ``device``, split and preprocessed.

    ``name``: ``mnist``, ``mnist-sample``, ``fashion-mnist``, ``cifar10`` or
    ``npz:PATH``. ``data_dir``/``mirror``/``download``: where the files come
    from (:func:`vanishing.data.load_arrays`). ``val_fraction``: share of the
    training set held out for validation, stratified; 0 → the test set.
    ``split_seed``: seed of the subset and of the validation split (not of
    training). ``pixel_divisor``: inputs are ``x / pixel_divisor``.
    ``standardize``: per-feature z-score with training statistics.
    ``train_subset``: keep a stratified subset of this many training
    examples (drawn before the validation split).

    Example::

        ds = load_dataset("mnist-sample", val_fraction=0.1, split_seed=0)
        ds.x_train.shape  # torch.Size([9000, 784])
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"data.val_fraction: expected a number in [0, 1), got {val_fraction}")
    if not pixel_divisor > 0:
        raise ConfigError(f"data.pixel_divisor: expected a positive number, got {pixel_divisor}")
    raw = load_arrays(name, data_dir=data_dir, mirror=mirror, download=download)

    x_train_raw, y_train_raw = raw.x_train, raw.y_train
    if train_subset is not None:
        keep = subset_indices(y_train_raw, int(train_subset), split_seed)
        x_train_raw, y_train_raw = x_train_raw[keep], y_train_raw[keep]
    if val_fraction > 0:
        train_idx, val_idx = validation_split(y_train_raw, val_fraction, split_seed)
        splits = {
            "train": (x_train_raw[train_idx], y_train_raw[train_idx]),
            "val": (x_train_raw[val_idx], y_train_raw[val_idx]),
        }
    else:
        splits = {"train": (x_train_raw, y_train_raw)}
    splits["test"] = (raw.x_test, raw.y_test)

    xs = {k: to_features(x, pixel_divisor) for k, (x, _) in splits.items()}
    ys = {k: torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64)) for k, (_, y) in splits.items()}
    if standardize:
        keys = list(xs)
        xs = dict(zip(keys, standardize_features(*(xs[k] for k in keys)), strict=True))

    device = torch.device(device)
    xs = {k: v.to(device) for k, v in xs.items()}
    ys = {k: v.to(device) for k, v in ys.items()}
    val_is_test = "val" not in xs
    return Dataset(
        name=name,
        x_train=xs["train"], y_train=ys["train"],
        x_val=xs["test"] if val_is_test else xs["val"], y_val=ys["test"] if val_is_test else ys["val"],
        x_test=xs["test"], y_test=ys["test"],
        classes=tuple(raw.classes),
        val_is_test=val_is_test,
        source=raw.source,
    )
