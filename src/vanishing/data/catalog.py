"""What is known about each named data set: names, files, mirrors, checksums, shapes.

This module is the single table the rest of :mod:`vanishing.data` consults,
plus the check of a data-set name. It holds plain data only (no I/O), so
tests can patch a checksum or a mirror with ``monkeypatch.setitem`` and every
code path sees the change.

Checksums are those published with the data sets and used by torchvision:

* ``MD5`` — md5 of the file exactly as the mirrors serve it (the ``.gz`` or
  ``.tar.gz``). A download must match it before it is renamed into place.
* ``SHA256_CONTENT`` — sha256 of the *decompressed* IDX bytes of MNIST. A
  local ``.gz`` that was re-compressed (so its md5 differs from the mirror's)
  or a plain, uncompressed IDX file is still recognised as the original data.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError

#: Names accepted by :func:`vanishing.data.load_dataset` (plus ``npz:PATH``).
DATASET_NAMES: tuple[str, ...] = ("mnist", "mnist-sample", "fashion-mnist", "cifar10")

#: Prefix of the user-array form ``npz:PATH``.
NPZ_PREFIX = "npz:"



def check_dataset_name(name: str) -> None:
    """Raise :class:`ConfigError` unless ``name`` is a known data set or ``npz:PATH``.

    For ``npz:PATH`` only the syntax is checked (a non-empty path); whether
    the file exists is the loader's business, so configs can be validated on
    a machine that does not hold the data.
    """
    valid = ", ".join([*DATASET_NAMES, f"{NPZ_PREFIX}PATH"])
    if not isinstance(name, str):
        raise ConfigError(f"data.dataset: expected a data set name (valid: {valid}), got {name!r}")
    if name.startswith(NPZ_PREFIX):
        if not name[len(NPZ_PREFIX):].strip():
            raise ConfigError(f"data.dataset: {name!r} names no file; write npz:PATH, e.g. npz:my-arrays.npz")
        return
    if name not in DATASET_NAMES:
        raise ConfigError(f"data.dataset: unknown data set {name!r} (valid: {valid})")


def npz_path(name: str) -> str | None:
    """The PATH of an ``npz:PATH`` name, or None for a named data set."""
    return name[len(NPZ_PREFIX):] if name.startswith(NPZ_PREFIX) else None


#: The four IDX files of MNIST and Fashion-MNIST, without the ``.gz`` suffix,
#: keyed by (split, part).
IDX_FILES: dict[tuple[str, str], str] = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
DIGIT_CLASSES: tuple[str, ...] = tuple(str(d) for d in range(10))

#: The canonical CIFAR-10 binary archive and the folder it unpacks to.
CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz"
CIFAR10_BIN_FOLDER = "cifar-10-batches-bin"
CIFAR10_TRAIN_BATCHES: tuple[str, ...] = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR10_TEST_BATCHES: tuple[str, ...] = ("test_batch.bin",)
CIFAR10_META = "batches.meta.txt"

#: Base URLs tried in order; a file is fetched from ``base + file name``.
MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    "cifar10": ("https://www.cs.toronto.edu/~kriz/",),
}

#: The files a download fetches for each data set (names as on the mirrors).
DOWNLOAD_FILES: dict[str, tuple[str, ...]] = {
    "mnist": tuple(f"{stem}.gz" for stem in IDX_FILES.values()),
    "fashion-mnist": tuple(f"{stem}.gz" for stem in IDX_FILES.values()),
    "cifar10": (CIFAR10_ARCHIVE,),
}

#: md5 of each file as served by the mirrors, keyed by (data set, file name).
MD5: dict[tuple[str, str], str] = {
    ("mnist", "train-images-idx3-ubyte.gz"): "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    ("mnist", "train-labels-idx1-ubyte.gz"): "d53e105ee54ea40749a09fcbcd1e9432",
    ("mnist", "t10k-images-idx3-ubyte.gz"): "9fb629c4189551a2d022fa330f9573f3",
    ("mnist", "t10k-labels-idx1-ubyte.gz"): "ec29112dd5afa0611ce80d1b7f02629c",
    ("fashion-mnist", "train-images-idx3-ubyte.gz"): "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    ("fashion-mnist", "train-labels-idx1-ubyte.gz"): "25c81989df183df01b3e8a0aad5dffbe",
    ("fashion-mnist", "t10k-images-idx3-ubyte.gz"): "bef4ecab320f06d8554ea6380940ec79",
    ("fashion-mnist", "t10k-labels-idx1-ubyte.gz"): "bb300cfdad3c16e7a12a480ee83cd310",
    ("cifar10", CIFAR10_ARCHIVE): "c32a1d4ab5d03f1284b67883e8d87530",
}

#: sha256 of the decompressed IDX bytes, keyed by (data set, IDX file name without .gz).
SHA256_CONTENT: dict[tuple[str, str], str] = {
    ("mnist", "train-images-idx3-ubyte"): "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ("mnist", "train-labels-idx1-ubyte"): "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ("mnist", "t10k-images-idx3-ubyte"): "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ("mnist", "t10k-labels-idx1-ubyte"): "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


@dataclass(frozen=True)
class Shape:
    """The canonical size of a data set: examples per split and one image's shape."""

    n_train: int
    n_test: int
    image: tuple[int, ...]  # (H, W) for grey, (H, W, C) for colour


#: Canonical sizes, used by ``vanishing data verify`` and ``data list``.
SHAPES: dict[str, Shape] = {
    "mnist": Shape(60_000, 10_000, (28, 28)),
    "mnist-sample": Shape(10_000, 2_000, (28, 28)),
    "fashion-mnist": Shape(60_000, 10_000, (28, 28)),
    "cifar10": Shape(50_000, 10_000, (32, 32, 3)),
}

#: Class names in label order.
CLASSES: dict[str, tuple[str, ...]] = {
    "mnist": DIGIT_CLASSES,
    "mnist-sample": DIGIT_CLASSES,
    "fashion-mnist": FASHION_MNIST_CLASSES,
    "cifar10": CIFAR10_CLASSES,
}
