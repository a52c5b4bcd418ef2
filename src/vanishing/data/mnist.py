"""MNIST and Fashion-MNIST: a folder of the four IDX files, gzipped or not.

The folder must hold ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each either plain
or with a ``.gz`` suffix (when both exist the plain file is read, it is
faster). A user-supplied folder is trusted once the IDX headers agree with
the file lengths; checksums are for downloads and ``vanishing data verify``.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .catalog import IDX_FILES
from .idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from .raw import RawArrays, check_counts, check_labels

Files = dict[tuple[str, str], Path]


def find_idx_files(folder: Path) -> Files | str:
    """The four IDX files in ``folder``, or a short reason why they are not all there."""
    if not folder.is_dir():
        return "no such folder" if not folder.exists() else "not a folder"
    found: Files = {}
    missing = []
    for key, stem in IDX_FILES.items():
        for candidate in (folder / stem, folder / f"{stem}.gz"):
            if candidate.is_file():
                found[key] = candidate
                break
        else:
            missing.append(f"{stem}[.gz]")
    if missing:
        return f"missing {', '.join(missing)}"
    return found


def read_idx_folder(files: Files, classes: tuple[str, ...], source: str) -> RawArrays:
    """Read and cross-check the four IDX files found by :func:`find_idx_files`.

    Checks, besides each file's own header (:func:`vanishing.data.idx.read_idx`):
    one label per image in each split, labels within ``classes``, and the same
    image size in train and test.
    """
    arrays = {}
    for split in ("train", "test"):
        images_path, labels_path = files[(split, "images")], files[(split, "labels")]
        images = read_idx(images_path, IMAGES_MAGIC)
        labels = read_idx(labels_path, LABELS_MAGIC)
        check_counts(len(images), len(labels), str(labels_path))
        arrays[split] = (images, check_labels(labels, len(classes), str(labels_path)))
    train_shape, test_shape = arrays["train"][0].shape[1:], arrays["test"][0].shape[1:]
    if train_shape != test_shape:
        raise DataError(
            f"{files[('test', 'images')]}: images are {test_shape[0]}x{test_shape[1]}, "
            f"expected {train_shape[0]}x{train_shape[1]} like {files[('train', 'images')].name}"
        )
    return RawArrays(*arrays["train"], *arrays["test"], classes=classes, source=source)
