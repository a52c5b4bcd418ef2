"""The raw form of a data set: arrays as stored on disk, before any preprocessing.

Every reader in :mod:`vanishing.data` (IDX, CIFAR-10 binary, image folders,
npz, the bundled sample) returns a :class:`RawArrays`; preprocessing and
splitting (:func:`vanishing.data.load_dataset`) work from it alone, so a new
file format needs a reader and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError


@dataclass(frozen=True, eq=False)
class RawArrays:
    """Train and test arrays of one data set, exactly as read.

    ``x_*`` hold one example per row of the first axis: uint8 images of shape
    (N, H, W) for grey or (N, H, W, C) for colour (channels last) for the
    image data sets, and whatever numeric dtype and shape the file holds for
    ``npz:PATH``. ``y_*`` are int64 class indices into ``classes``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    source: str  # one human line: where the arrays came from

    def __repr__(self) -> str:
        return (
            f"RawArrays(train={self.x_train.shape}, test={self.x_test.shape}, "
            f"dtype={self.x_train.dtype}, classes={len(self.classes)}, source={self.source!r})"
        )

    @property
    def example_shape(self) -> tuple[int, ...]:
        """Shape of one example, e.g. (28, 28) or (32, 32, 3)."""
        return tuple(self.x_train.shape[1:])


def check_labels(labels: np.ndarray, n_classes: int, origin: str) -> np.ndarray:
    """Return ``labels`` as int64 after checking that each lies in ``0 .. n_classes - 1``.

    The error names ``origin`` (a file), the first offending value and its index.
    """
    labels = np.asarray(labels)
    bad = np.flatnonzero((labels < 0) | (labels >= n_classes))
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"{origin}: label {int(labels[i])} at index {i} is out of range, "
            f"expected 0..{n_classes - 1} ({n_classes} classes)"
        )
    return labels.astype(np.int64, copy=False)


def check_counts(n_examples: int, n_labels: int, origin: str, what: str = "images") -> None:
    """Raise :class:`DataError` unless there is exactly one label per example."""
    if n_examples != n_labels:
        raise DataError(f"{origin}: {n_labels} labels for {n_examples} {what}; expected one label per example")
    if n_examples == 0:
        raise DataError(f"{origin}: holds no examples")
