"""The IDX file format of MNIST and Fashion-MNIST: a validating reader and a writer.

An IDX file (LeCun et al., http://yann.lecun.com/exdb/mnist/) is a 4-byte
big-endian magic number, one 4-byte big-endian size per dimension, then the
data in row-major order::

    magic = 0x00 0x00 <type code> <number of dimensions>

Only the unsigned-byte type (code 0x08) is used by these data sets, so the
two magic numbers that matter are

* 2051 = 0x00000803: unsigned-byte images, 3 dimensions (N, rows, columns);
* 2049 = 0x00000801: unsigned-byte labels, 1 dimension (N).

The reader trusts nothing in the header: the magic number, the dimensions and
the declared payload are checked against what the caller expects and against
the bytes actually present, and memory grows only with the bytes actually
read, so a hostile header cannot make it allocate more than the file holds.
Every failure is one :class:`~vanishing.errors.DataError` line that names the
file and what was expected.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import DataError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
UNSIGNED_BYTE = 0x08

#: The most examples (first dimension) a header may declare.
MAX_ITEMS = 100_000_000
#: The largest payload, in bytes, a header may declare (8 GiB).
MAX_PAYLOAD_BYTES = 8 * 2**30
#: deflate cannot compress better than about 1032:1, so a .gz file of n bytes
#: cannot decompress to more than this many times n (plus a small constant).
GZIP_MAX_RATIO = 1032

_DESCRIPTION = {IMAGES_MAGIC: "IDX unsigned-byte images", LABELS_MAGIC: "IDX unsigned-byte labels"}
_CHUNK = 1 << 20


def read_idx(path: str | os.PathLike, magic: int) -> np.ndarray:
    """Read an IDX file (gzipped when its first bytes are the gzip signature) as uint8.

    ``magic`` is the expected magic number (:data:`IMAGES_MAGIC` or
    :data:`LABELS_MAGIC`); it fixes the number of dimensions. Returns an array
    of the declared shape. Raises :class:`DataError` naming ``path`` when the
    file is missing, not a valid gzip stream, has another magic number, or
    when its header and its length disagree.
    """
    path = Path(path)
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise DataError(f"{path}: cannot open ({exc.strerror or exc})") from None
    with raw:
        size = os.fstat(raw.fileno()).st_size
        compressed = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        if compressed:
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                return _read_stream(stream, str(path), magic, payload_limit=size * GZIP_MAX_RATIO + 1024)
        return _read_stream(raw, str(path), magic, exact_size=size)


def read_idx_bytes(data: bytes, origin: str, magic: int) -> np.ndarray:
    """Like :func:`read_idx` for a file already in memory; ``origin`` names it in errors."""
    if data[:2] == b"\x1f\x8b":
        with gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb") as stream:
            return _read_stream(stream, origin, magic, payload_limit=len(data) * GZIP_MAX_RATIO + 1024)
    return _read_stream(io.BytesIO(data), origin, magic, exact_size=len(data))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file; gzip it when ``path`` ends in ``.gz``.

    The gzip header carries no time stamp or file name, so the same array
    always gives the same bytes (reproducible package data).
    """
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"write_idx: expected a uint8 array, got {array.dtype}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"write_idx: expected 1 to 255 dimensions, got {array.ndim}")
    header = struct.pack(">I", (UNSIGNED_BYTE << 8) | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path = Path(path)
    with path.open("wb") as raw:
        if path.suffix == ".gz":
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as stream:
                stream.write(header)
                stream.write(array.tobytes())
        else:
            raw.write(header)
            raw.write(array.tobytes())


def describe(magic: int) -> str:
    """Human name of an IDX magic number, e.g. ``'IDX unsigned-byte images'``."""
    return _DESCRIPTION.get(magic, f"IDX magic {magic}")


def _read_stream(
    stream: BinaryIO,
    origin: str,
    magic: int,
    *,
    exact_size: int | None = None,
    payload_limit: int | None = None,
) -> np.ndarray:
    """Parse an IDX stream; ``exact_size`` is the total byte length when known."""
    ndim = magic & 0xFF
    try:
        head = _read_exactly(stream, 4)
        if len(head) < 4:
            raise DataError(f"{origin}: truncated: {len(head)} bytes, too short for an IDX header")
        found = struct.unpack(">I", head)[0]
        if found != magic:
            raise DataError(f"{origin}: wrong magic number {found}, expected {magic} ({describe(magic)})")
        dims_raw = _read_exactly(stream, 4 * ndim)
        if len(dims_raw) < 4 * ndim:
            raise DataError(f"{origin}: truncated header: expected {ndim} dimension sizes of 4 bytes each")
        dims = struct.unpack(f">{ndim}I", dims_raw)
        header_size = 4 + 4 * ndim
        shape_text = " x ".join(str(d) for d in dims)
        if dims[0] > MAX_ITEMS:
            raise DataError(f"{origin}: header declares {dims[0]} items, more than the limit of {MAX_ITEMS}")
        payload = int(np.prod(dims, dtype=np.uint64)) if dims else 0
        if payload > MAX_PAYLOAD_BYTES:
            raise DataError(
                f"{origin}: header declares {shape_text} = {payload} bytes of data, "
                f"more than the limit of {MAX_PAYLOAD_BYTES}"
            )
        if exact_size is not None and header_size + payload != exact_size:
            word = "truncated" if header_size + payload > exact_size else "size mismatch"
            raise DataError(
                f"{origin}: {word}: header declares {shape_text} = {payload} bytes of data, "
                f"the file holds {exact_size - header_size}"
            )
        if payload_limit is not None and payload > payload_limit:
            raise DataError(
                f"{origin}: header declares {shape_text} = {payload} bytes of data, "
                f"more than a compressed file of this size can hold"
            )
        data = _read_exactly(stream, payload)
        if len(data) < payload:
            raise DataError(
                f"{origin}: truncated: header declares {shape_text} = {payload} bytes of data, "
                f"the file holds {len(data)}"
            )
        if exact_size is None and stream.read(1):
            raise DataError(
                f"{origin}: size mismatch: header declares {shape_text} = {payload} bytes of data, "
                f"the file holds more"
            )
    except (OSError, EOFError, zlib.error) as exc:
        # gzip.BadGzipFile is an OSError; a cut-off gzip stream raises EOFError.
        reason = exc or type(exc).__name__
        raise DataError(f"{origin}: corrupt gzip data ({reason}); expected a gzipped IDX file") from None
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def _read_exactly(stream: BinaryIO, n: int) -> bytearray:
    """Read up to ``n`` bytes, growing the buffer only as data arrives."""
    out = bytearray()
    while len(out) < n:
        chunk = stream.read(min(_CHUNK, n - len(out)))
        if not chunk:
            break
        out += chunk
    return out
