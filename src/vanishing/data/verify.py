"""Checking data-set files: structure, canonical sizes and checksums (``vanishing data verify``).

Each file gets one :class:`Check` — OK or FAIL with a one-line reason:

* IDX files (``mnist``, ``fashion-mnist``): the full header validation of
  :func:`vanishing.data.idx.read_idx`, the canonical number of examples and
  image size, labels 0–9, and a checksum: the md5 of a ``.gz`` against the
  mirror's, else (MNIST) the sha256 of the decompressed content against the
  original's — so a re-compressed ``.gz`` or an uncompressed file of the
  original data passes. When no checksum is known for a file (an
  uncompressed Fashion-MNIST file), the structural checks decide.
* ``mnist-sample``: the bundled files against the package's ``SHA256SUMS``.
* ``cifar10``: the canonical archive by its md5; extracted binary batches by
  their record structure and sizes; image trees and other archives by
  decoding them (the decoded-array cache is reused, it is keyed by the
  source's size and time stamp) and checking the sizes.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from . import catalog
from .catalog import CIFAR10_ARCHIVE, CIFAR10_TEST_BATCHES, CIFAR10_TRAIN_BATCHES
from .cifar import CifarSource, parse_batch, read_cifar
from .download import md5_of
from .idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx, read_idx_bytes
from .raw import RawArrays, check_labels
from .sample import expected_checksums, read_sample_bytes
from .sources import Found, find

#: Records per CIFAR-10 binary batch file.
CIFAR10_BATCH_RECORDS = 10_000


@dataclass(frozen=True)
class Check:
    """The verdict on one file."""

    path: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'OK  ' if self.ok else 'FAIL'}  {self.path}: {self.detail}"


def verify(name: str, data_dir: str | os.PathLike | None = None) -> tuple[Found | None, list[Check], list[str]]:
    """Find ``name`` (no download) and check its files: (found, checks, places looked in)."""
    found, misses = find(name, data_dir)
    if found is None:
        return None, [], misses
    if name == "mnist-sample":
        return found, _verify_sample(), misses
    if name == "cifar10":
        assert isinstance(found.detail, CifarSource)
        return found, _verify_cifar(found), misses
    assert isinstance(found.detail, dict)
    return found, [_verify_idx_file(name, path, split, part) for (split, part), path in found.detail.items()], misses


def _verify_idx_file(name: str, path: Path, split: str, part: str) -> Check:
    shape = catalog.SHAPES[name]
    expected_n = shape.n_train if split == "train" else shape.n_test
    try:
        array = read_idx(path, IMAGES_MAGIC if part == "images" else LABELS_MAGIC)
        structure = _check_idx_array(array, part, expected_n, shape.image, len(catalog.CLASSES[name]), str(path))
    except DataError as exc:
        return Check(str(path), False, _strip_origin(str(exc), str(path)))
    ok, note = _idx_checksum(name, path)
    return Check(str(path), ok, f"{structure}; {note}")


def _check_idx_array(array, part: str, expected_n: int, image: tuple[int, ...], n_classes: int, origin: str) -> str:
    """Raise DataError unless ``array`` has the canonical size; returns a short description."""
    if len(array) != expected_n:
        raise DataError(f"{origin}: {len(array):,} {part}, expected {expected_n:,}")
    if part == "images":
        if array.shape[1:] != image:
            dims = "x".join(map(str, array.shape[1:]))
            raise DataError(f"{origin}: images are {dims}, expected {'x'.join(map(str, image))}")
        return f"{len(array):,} images {'x'.join(map(str, image))}"
    check_labels(array, n_classes, origin)
    return f"{len(array):,} labels in 0..{n_classes - 1}"


def _idx_checksum(name: str, path: Path) -> tuple[bool, str]:
    """(ok, note) from the md5 of the file or the sha256 of its decompressed content."""
    gz = path.name.endswith(".gz")
    stem = path.name[:-3] if gz else path.name
    md5_expected = catalog.MD5.get((name, f"{stem}.gz"))
    sha_expected = catalog.SHA256_CONTENT.get((name, stem))
    md5 = md5_of(path) if gz and md5_expected else None
    if md5 is not None and md5 == md5_expected:
        return True, "md5 matches the mirror's"
    if sha_expected:
        sha = _content_sha256(path)
        if sha == sha_expected:
            note = "content sha256 matches the original"
            return True, note + (" (the .gz was re-compressed: its md5 differs from the mirror's)" if md5 else "")
        return False, f"content sha256 {sha}, expected {sha_expected}"
    if md5 is not None:
        return False, f"md5 {md5}, expected the mirror's {md5_expected}"
    return True, "no checksum known for this file; header and sizes checked"


def _content_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw) if compressed else raw
        try:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        except (OSError, EOFError, zlib.error):
            return "unreadable"
    return digest.hexdigest()


def _verify_sample() -> list[Check]:
    shape = catalog.SHAPES["mnist-sample"]
    sums = expected_checksums()
    checks = []
    for (split, part), stem in catalog.IDX_FILES.items():
        file = f"{stem}.gz"
        origin = f"mnist-sample/{file}"
        try:
            data = read_sample_bytes(file)
            array = read_idx_bytes(data, origin, IMAGES_MAGIC if part == "images" else LABELS_MAGIC)
            expected_n = shape.n_train if split == "train" else shape.n_test
            structure = _check_idx_array(array, part, expected_n, shape.image, 10, origin)
        except DataError as exc:
            checks.append(Check(origin, False, _strip_origin(str(exc), origin)))
            continue
        sha = hashlib.sha256(gzip.decompress(data)).hexdigest()
        if sha == sums.get(file):
            checks.append(Check(origin, True, f"{structure}; content sha256 matches SHA256SUMS"))
        else:
            checks.append(Check(origin, False, f"content sha256 {sha}, expected {sums.get(file)} (SHA256SUMS)"))
    return checks


def _verify_cifar(found: Found) -> list[Check]:
    source = found.detail
    assert isinstance(source, CifarSource)
    shape = catalog.SHAPES["cifar10"]
    if source.kind == "binary-folder":
        checks = []
        for batch in CIFAR10_TRAIN_BATCHES + CIFAR10_TEST_BATCHES:
            path = source.path / batch
            try:
                images, _ = parse_batch(path.read_bytes(), str(path))
            except (DataError, OSError) as exc:
                checks.append(Check(str(path), False, _strip_origin(str(exc), str(path))))
                continue
            ok = len(images) == CIFAR10_BATCH_RECORDS
            detail = f"{len(images):,} records" + ("" if ok else f", expected {CIFAR10_BATCH_RECORDS:,}")
            checks.append(Check(str(path), ok, detail + "; labels in 0..9 (no checksum known for extracted batches)"))
        return checks
    path = str(source.path)
    expected_md5 = catalog.MD5.get(("cifar10", CIFAR10_ARCHIVE))
    if source.path.name == CIFAR10_ARCHIVE and expected_md5:
        md5 = md5_of(source.path)
        if md5 == expected_md5:
            return [Check(path, True, "md5 matches the mirror's")]
        return [Check(path, False, f"md5 {md5}, expected the mirror's {expected_md5}")]
    try:
        raw = read_cifar(source, found.origin)
    except DataError as exc:
        return [Check(path, False, _strip_origin(str(exc), path))]
    return [_check_cifar_sizes(raw, path, shape)]


def _check_cifar_sizes(raw: RawArrays, path: str, shape: catalog.Shape) -> Check:
    sizes = f"{len(raw.x_train):,} + {len(raw.x_test):,} images"
    problems = []
    if (len(raw.x_train), len(raw.x_test)) != (shape.n_train, shape.n_test):
        problems.append(f"expected {shape.n_train:,} + {shape.n_test:,}")
    if raw.example_shape != shape.image:
        problems.append(f"images {'x'.join(map(str, raw.example_shape))}, expected {'x'.join(map(str, shape.image))}")
    if len(raw.classes) != len(catalog.CIFAR10_CLASSES):
        problems.append(f"{len(raw.classes)} classes, expected {len(catalog.CIFAR10_CLASSES)}")
    if problems:
        return Check(path, False, f"{sizes}: {'; '.join(problems)}")
    return Check(path, True, f"{sizes} {'x'.join(map(str, shape.image))}, {len(raw.classes)} classes "
                             "(decodes cleanly; no checksum known for this copy)")


def _strip_origin(message: str, origin: str) -> str:
    """``'PATH: reason'`` → ``'reason'`` (the path is printed once, in front)."""
    prefix = f"{origin}: "
    return message[len(prefix):] if message.startswith(prefix) else message
