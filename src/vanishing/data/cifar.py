"""CIFAR-10 (Krizhevsky 2009): the canonical binary version, or an image-folder tree.

Accepted in a data-set folder, in this order of preference:

1. ``cifar-10-batches-bin/`` (or the folder itself) holding ``data_batch_1.bin``
   … ``data_batch_5.bin`` and ``test_batch.bin``: the "binary version for C
   programs" — no pickle is ever read;
2. an image-folder tree ``train/<class>/*.jpg|png``, ``test/<class>/…``;
3. ``cifar-10-binary.tar.gz``, else any single ``.tar.gz`` / ``.tgz`` /
   ``.tar``: the binary batches or an image-folder tree inside an archive,
   read member by member without extracting.

Binary record layout (https://www.cs.toronto.edu/~kriz/cifar.html): 1 label
byte, then 3,072 pixel bytes — the 1,024 red values, then green, then blue,
each plane row-major 32x32 (CHW). Images are returned channels last
(N, 32, 32, 3) so that, once flattened, a binary record and the same picture
decoded from an image file give the same feature vector.

Archives and image trees are decoded once and cached as arrays
(:mod:`vanishing.data.array_cache`); the extracted binary batches are read
directly (reading them is as fast as the cache).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import DataError
from . import array_cache
from .archive import iter_member_names, iter_members
from .catalog import (
    CIFAR10_ARCHIVE,
    CIFAR10_BIN_FOLDER,
    CIFAR10_CLASSES,
    CIFAR10_META,
    CIFAR10_TEST_BATCHES,
    CIFAR10_TRAIN_BATCHES,
)
from .imagefolder import SPLITS, image_entry_key, is_image_tree, read_image_archive, read_image_tree
from .raw import RawArrays, check_labels

NAME = "cifar10"
SIDE = 32
CHANNELS = 3
IMAGE_BYTES = SIDE * SIDE * CHANNELS
RECORD_BYTES = 1 + IMAGE_BYTES
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
_BATCHES = CIFAR10_TRAIN_BATCHES + CIFAR10_TEST_BATCHES

#: Kinds of source, with the words used in messages.
KINDS = {
    "binary-folder": "CIFAR-10 binary batches",
    "image-folder": "image-folder tree",
    "archive": "archive",
}


@dataclass(frozen=True)
class CifarSource:
    """A CIFAR-10 source found in a folder: what it is and the path to read."""

    kind: str  # a key of KINDS
    path: Path

    def describe(self) -> str:
        return f"{self.path} ({KINDS[self.kind]})"


def find_cifar(folder: Path) -> CifarSource | str:
    """The CIFAR-10 source in ``folder`` (see the module docstring), or why there is none."""
    if not folder.is_dir():
        return "no such folder" if not folder.exists() else "not a folder"
    for candidate in (folder / CIFAR10_BIN_FOLDER, folder):
        if all((candidate / batch).is_file() for batch in _BATCHES):
            return CifarSource("binary-folder", candidate)
    if is_image_tree(folder):
        return CifarSource("image-folder", folder)
    if (folder / CIFAR10_ARCHIVE).is_file():
        return CifarSource("archive", folder / CIFAR10_ARCHIVE)
    archives = sorted(
        p for p in folder.iterdir()
        if p.name.endswith(ARCHIVE_SUFFIXES) and not p.name.startswith(".") and p.is_file()
    )
    if len(archives) == 1:
        return CifarSource("archive", archives[0])
    if archives:
        names = ", ".join(p.name for p in archives)
        return f"{len(archives)} archives ({names}), expected one"
    return (f"no {CIFAR10_BIN_FOLDER}/, {CIFAR10_ARCHIVE}, train/ + test/ image folders "
            f"or .tar.gz of them")


def read_cifar(source: CifarSource, origin: str) -> RawArrays:
    """Read a source found by :func:`find_cifar`; ``origin`` says how it was found (for the source line)."""
    line = f"{source.describe()}, via {origin}"
    if source.kind == "binary-folder":
        return read_binary_folder(source.path, line)
    key = source_fingerprint(source)
    cached = array_cache.load(NAME, key)
    if cached is not None:
        return replace(cached, source=f"{line}; decoded arrays from {array_cache.entry_dir(NAME, key)}")
    if source.kind == "image-folder":
        raw = read_image_tree(source.path, line, CIFAR10_CLASSES)
    else:
        raw = read_archive(source.path, line)
    array_cache.save(NAME, key, raw)
    return raw


def source_fingerprint(source: CifarSource) -> str:
    """Cache key of an archive or image tree (an image tree: only its ``train/`` and ``test/``)."""
    return array_cache.fingerprint(source.path, SPLITS if source.kind == "image-folder" else ())


def parse_batch(data: bytes, origin: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse binary CIFAR-10 records into uint8 images (N, 32, 32, 3) and int64 labels."""
    if len(data) == 0 or len(data) % RECORD_BYTES:
        raise DataError(
            f"{origin}: {len(data):,} bytes is not a whole number of {RECORD_BYTES:,}-byte CIFAR-10 records "
            f"(1 label byte + {IMAGE_BYTES:,} pixel bytes)"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    labels = check_labels(records[:, 0], len(CIFAR10_CLASSES), origin)
    images = records[:, 1:].reshape(-1, CHANNELS, SIDE, SIDE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def parse_meta(text: str) -> tuple[str, ...]:
    """Class names from ``batches.meta.txt`` (one per line); CIFAR-10's when it does not list ten."""
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    return names if len(names) == len(CIFAR10_CLASSES) else CIFAR10_CLASSES


def read_binary_folder(folder: Path, source: str) -> RawArrays:
    """Read the extracted ``cifar-10-batches-bin`` folder."""
    def read(name: str) -> bytes:
        try:
            return (folder / name).read_bytes()
        except OSError as exc:
            raise DataError(f"{folder / name}: cannot read ({exc.strerror or exc})") from None

    batches = {name: parse_batch(read(name), str(folder / name)) for name in _BATCHES}
    meta = folder / CIFAR10_META
    classes = parse_meta(meta.read_text(encoding="utf-8", errors="replace")) if meta.is_file() else CIFAR10_CLASSES
    return _join(batches, classes, source)


def archive_layout(archive: Path) -> str:
    """``"binary"`` or ``"images"``: what the first recognisable member of ``archive`` is.

    Reads the archive only up to that member, so it is cheap.
    """
    for parts in iter_member_names(archive):
        if parts[-1] in _BATCHES or parts[-1] == CIFAR10_META:
            return "binary"
        if image_entry_key(parts) is not None:
            return "images"
    raise DataError(f"{archive}: holds neither {CIFAR10_BIN_FOLDER}/*.bin nor train/<class>/*.jpg|png images")


def read_archive(archive: Path, source: str) -> RawArrays:
    """Read a tar archive holding either the binary batches or an image-folder tree."""
    if archive_layout(archive) == "images":
        return read_image_archive(archive, source, CIFAR10_CLASSES)
    batches: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    classes = CIFAR10_CLASSES
    wanted = set(_BATCHES) | {CIFAR10_META}
    for parts, data in iter_members(archive, lambda parts, size: parts[-1] in wanted):
        if parts[-1] == CIFAR10_META:
            classes = parse_meta(data.decode("utf-8", errors="replace"))
        else:
            batches[parts[-1]] = parse_batch(data, f"{archive}: {'/'.join(parts)}")
    missing = [name for name in _BATCHES if name not in batches]
    if missing:
        raise DataError(f"{archive}: missing {', '.join(missing)} "
                        f"(expected {CIFAR10_BIN_FOLDER}/ with {', '.join(_BATCHES)})")
    return _join(batches, classes, source)


def _join(batches: dict[str, tuple[np.ndarray, np.ndarray]], classes: tuple[str, ...], source: str) -> RawArrays:
    x_train = np.concatenate([batches[name][0] for name in CIFAR10_TRAIN_BATCHES])
    y_train = np.concatenate([batches[name][1] for name in CIFAR10_TRAIN_BATCHES])
    x_test, y_test = batches[CIFAR10_TEST_BATCHES[0]]
    return RawArrays(x_train, y_train, x_test, y_test, classes=classes, source=source)
