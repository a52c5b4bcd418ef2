"""Data sets as tensors: lookup, download, validation, splitting and preprocessing.

Every data set is looked up the same way — ``data_dir`` (``--data-dir``),
then ``$VANISHING_DATA/<name>/``, then the user cache
(``$XDG_CACHE_HOME/vanishing/<name>/`` or ``~/.cache/vanishing/<name>/``),
then a checksum-verified download into that cache — and arrives as a
:class:`Dataset`: float32 inputs flattened to (N, D), int64 labels, a
stratified validation split, each split one tensor on the training device.

Data sets: ``mnist``, ``mnist-sample`` (a real MNIST subset bundled with the
package, offline), ``fashion-mnist``, ``cifar10``, and ``npz:PATH`` (your own
arrays). See ``docs/data.md``.

Modules, one concern each: :mod:`~vanishing.data.catalog` (names, files,
mirrors, checksums), :mod:`~vanishing.data.paths` (where to look),
:mod:`~vanishing.data.download`, :mod:`~vanishing.data.idx`,
:mod:`~vanishing.data.mnist`, :mod:`~vanishing.data.cifar`,
:mod:`~vanishing.data.imagefolder`, :mod:`~vanishing.data.archive`,
:mod:`~vanishing.data.array_cache`, :mod:`~vanishing.data.npz`,
:mod:`~vanishing.data.sample`, :mod:`~vanishing.data.sources` (name →
arrays), :mod:`~vanishing.data.split`, :mod:`~vanishing.data.preprocess`,
:mod:`~vanishing.data.dataset` (arrays → :class:`Dataset`),
:mod:`~vanishing.data.verify` and :mod:`~vanishing.data.commands` (the
``vanishing data`` CLI).
"""

from .catalog import DATASET_NAMES, check_dataset_name
from .dataset import Dataset, load_dataset
from .paths import cache_dir
from .raw import RawArrays
from .sources import load_arrays, locate

__all__ = [
    "DATASET_NAMES",
    "Dataset",
    "RawArrays",
    "cache_dir",
    "check_dataset_name",
    "load_arrays",
    "load_dataset",
    "locate",
]
