"""User arrays: ``npz:PATH``, a local ``.npz`` with ``x_train, y_train, x_test, y_test``.

The file is opened with ``numpy.load(allow_pickle=False)``, so an array of
Python objects (which would need pickle, and pickle can run code) is refused.

* ``x_train`` / ``x_test``: numeric (bool, integer or float), one example per
  row of the first axis, any further shape (it is flattened), the same
  per-example shape in both, finite values;
* ``y_train`` / ``y_test``: 1-D class indices 0 … K-1, integers (floats that
  hold whole numbers are accepted); one per example. The class names are
  ``"0"`` … ``"K-1"`` with K = the largest label + 1.

Inputs are divided by ``pixel_divisor`` like every other data set; pass
``pixel_divisor=1`` for arrays already on the scale you want.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError
from .raw import RawArrays, check_counts, check_labels

KEYS = ("x_train", "y_train", "x_test", "y_test")
#: Labels must be below this: the class list and the output layer grow with the largest label.
MAX_CLASSES = 100_000


def read_npz(path: str | Path) -> RawArrays:
    """Load and check an ``npz:PATH`` file (see the module docstring)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: no such file (npz:PATH names a local .npz holding {', '.join(KEYS)})")
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: holds a single array, expected an .npz archive with {', '.join(KEYS)}")
    arrays: dict[str, np.ndarray] = {}
    with archive:
        missing = [k for k in KEYS if k not in archive.files]
        if missing:
            found = ", ".join(archive.files) or "nothing"
            raise DataError(f"{path}: missing key '{missing[0]}' (expected {', '.join(KEYS)}; found {found})")
        for key in KEYS:
            try:
                arrays[key] = archive[key]
            except ValueError as exc:
                if "pickle" in str(exc).lower():
                    raise DataError(f"{path}: key '{key}' holds Python objects, which need pickle; "
                                    "expected a numeric array") from None
                raise DataError(f"{path}: key '{key}' is not a readable array ({exc})") from None
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as exc:
                raise DataError(f"{path}: key '{key}' is not readable ({exc or type(exc).__name__})") from None
            except MemoryError:  # a header that declares more elements than memory holds
                raise DataError(f"{path}: key '{key}' declares an array too large to load") from None

    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        _check_inputs(x, f"x_{split}", path)
        arrays[f"y_{split}"] = _as_labels(y, f"y_{split}", path)
        if len(x) != len(arrays[f"y_{split}"]):
            raise DataError(f"{path}: x_{split} has {len(x)} rows but y_{split} has {len(y)} labels; "
                            "expected one label per row")
        check_counts(len(x), len(y), f"{path}: x_{split}", "rows")
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise DataError(f"{path}: x_test examples have shape {arrays['x_test'].shape[1:]}, "
                        f"expected {arrays['x_train'].shape[1:]} like x_train")
    n_classes = int(max(arrays["y_train"].max(), arrays["y_test"].max())) + 1
    for split in ("train", "test"):
        check_labels(arrays[f"y_{split}"], n_classes, f"{path}: y_{split}")
    classes = tuple(str(i) for i in range(n_classes))
    source = f"{path} (npz: {len(arrays['x_train']):,} train + {len(arrays['x_test']):,} test)"
    return RawArrays(*(arrays[k] for k in KEYS), classes=classes, source=source)


def _check_inputs(x: np.ndarray, key: str, path: Path) -> None:
    if x.dtype.kind not in "biuf":
        raise DataError(f"{path}: key '{key}' has dtype {x.dtype}, expected a numeric array")
    if x.ndim < 2:
        raise DataError(f"{path}: key '{key}' has shape {x.shape}, expected (examples, features...)")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise DataError(f"{path}: key '{key}' holds NaN or infinite values")


def _as_labels(y: np.ndarray, key: str, path: Path) -> np.ndarray:
    if y.ndim != 1:
        raise DataError(f"{path}: key '{key}' has shape {y.shape}, expected 1-D class indices")
    if y.dtype.kind in "iu":
        labels = y.astype(np.int64)
    elif y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all():
        labels = y.astype(np.int64)
    else:
        raise DataError(f"{path}: key '{key}' has dtype {y.dtype}, expected integer class indices")
    if labels.size and labels.min() < 0:
        i = int(np.argmin(labels))
        raise DataError(f"{path}: key '{key}' holds label {labels[i]} at index {i}, expected 0 or more")
    if labels.size and labels.max() >= MAX_CLASSES:
        i = int(np.argmax(labels))
        raise DataError(f"{path}: key '{key}' holds label {labels[i]} at index {i}, expected fewer than {MAX_CLASSES} classes")
    return labels
