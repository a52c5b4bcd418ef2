"""``mnist-sample``: a real MNIST subset shipped inside the package, loadable offline.

The folder ``vanishing/data/mnist_sample/`` holds the four MNIST IDX files
(gzipped) for 10,000 training digits (1,000 per class, drawn at random with a
fixed seed from the 60,000 training images) and 2,000 test digits (200 per
class from the 10,000 test images), ``SHA256SUMS`` (sha256 of each file's
decompressed IDX content) and ``ATTRIBUTION.md`` (authors, licence — CC BY-SA
3.0 — and how the subset was drawn). ``scripts/make_mnist_sample.py``
rebuilds it from a folder holding the full MNIST.

It is read through :mod:`importlib.resources`, so it works from a wheel, an
editable install or a zip import alike, with no network and no data folder.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from ..errors import DataError
from .catalog import DIGIT_CLASSES, IDX_FILES
from .idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx_bytes
from .raw import RawArrays, check_counts, check_labels

FOLDER = "mnist_sample"
CHECKSUMS = "SHA256SUMS"
ATTRIBUTION = "ATTRIBUTION.md"


def sample_folder() -> Traversable:
    """The bundled sample folder as an importlib resource."""
    return resources.files("vanishing.data").joinpath(FOLDER)


def sample_path() -> Path | None:
    """The bundled sample folder on disk, or None when the package is not on the file system."""
    folder = sample_folder()
    path = Path(str(folder))
    return path if isinstance(folder, Path) or path.is_dir() else None


def sample_file_names() -> list[str]:
    """Names of the four IDX files in the sample folder (gzipped)."""
    return [f"{stem}.gz" for stem in IDX_FILES.values()]


def read_sample_bytes(file: str) -> bytes:
    """Raw bytes of one file of the bundled sample; a missing file is a broken install."""
    try:
        return sample_folder().joinpath(file).read_bytes()
    except OSError as exc:
        raise DataError(
            f"mnist-sample: bundled file {FOLDER}/{file} cannot be read ({exc}); "
            "the installation is incomplete, reinstall vanishing"
        ) from None


def load_sample() -> RawArrays:
    """Load the bundled MNIST subset (uint8 images (N, 28, 28), int64 labels)."""
    arrays = []
    for split in ("train", "test"):
        images_file = f"{IDX_FILES[(split, 'images')]}.gz"
        labels_file = f"{IDX_FILES[(split, 'labels')]}.gz"
        images = read_idx_bytes(read_sample_bytes(images_file), f"mnist-sample: {images_file}", IMAGES_MAGIC)
        labels = read_idx_bytes(read_sample_bytes(labels_file), f"mnist-sample: {labels_file}", LABELS_MAGIC)
        check_counts(len(images), len(labels), f"mnist-sample: {labels_file}")
        arrays += [images, check_labels(labels, len(DIGIT_CLASSES), f"mnist-sample: {labels_file}")]
    n_train, n_test = len(arrays[0]), len(arrays[2])
    source = (
        f"bundled mnist-sample: {n_train:,} train + {n_test:,} test real MNIST digits (CC BY-SA 3.0); "
        "use --dataset mnist for the full set"
    )
    return RawArrays(*arrays, classes=DIGIT_CLASSES, source=source)


def expected_checksums() -> dict[str, str]:
    """File name → sha256 of its decompressed IDX content, from the bundled ``SHA256SUMS``."""
    text = read_sample_bytes(CHECKSUMS).decode("utf-8")
    out = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split(maxsplit=1)
            out[name.strip().lstrip("*")] = digest
    return out
