"""A cache of decoded arrays, so compressed or image sources are decoded only once.

Decoding 60,000 JPEGs or decompressing a 160 MB archive takes seconds; loading
the same pixels back from ``.npy`` files takes a fraction of one. The cache
lives in the user cache (``<cache>/vanishing/<name>/decoded/<key>/``) and is
keyed by a fingerprint of the source — its resolved path, size and
modification time (for a folder: of every file in it) — so editing or
replacing the source gives a new key and the stale entry is never read.

Each entry is a folder of ``x_train.npy``, ``y_train.npy``, ``x_test.npy``,
``y_test.npy`` and ``meta.json`` (class names and source line). It is written
into a temporary folder beside its final place and renamed in one step, so a
reader sees either a complete entry or none. Arrays are read with
``allow_pickle=False``. A cache that cannot be written (read-only home) only
costs speed: the arrays are returned anyway, with a warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .paths import cache_dir
from .raw import RawArrays

#: Bump when the decoded layout changes, so old entries are ignored.
FORMAT_VERSION = 1
_ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def fingerprint(source: Path, within: Sequence[str] = ()) -> str:
    """A key that changes when ``source`` (a file, or a folder tree) changes.

    For a folder, ``within`` restricts the walk to those sub-folders (e.g.
    ``train`` and ``test`` of an image tree), so unrelated files beside them
    — such as this cache itself, when the tree sits in the user cache —
    do not change the key.
    """
    digest = hashlib.sha256(f"v{FORMAT_VERSION}".encode())
    source = source.resolve()
    digest.update(str(source).encode())
    if source.is_dir():
        for top in [source / sub for sub in within] or [source]:
            for root, dirs, files in os.walk(top):
                dirs.sort()
                for name in sorted(files):
                    path = Path(root, name)
                    st = path.stat()
                    digest.update(f"\0{path.relative_to(source)}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    else:
        st = source.stat()
        digest.update(f"\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:24]


def entry_dir(name: str, key: str) -> Path:
    """Folder of the cache entry ``key`` of data set ``name``."""
    return cache_dir(name) / "decoded" / key


def load(name: str, key: str) -> RawArrays | None:
    """The cached arrays for ``key``, or None when absent or unreadable."""
    folder = entry_dir(name, key)
    if not (folder / "meta.json").is_file():
        return None
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        arrays = {k: np.load(folder / f"{k}.npy", allow_pickle=False) for k in _ARRAYS}
        classes = tuple(str(c) for c in meta["classes"])
        source = str(meta["source"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if len(arrays["x_train"]) != len(arrays["y_train"]) or len(arrays["x_test"]) != len(arrays["y_test"]):
        return None
    return RawArrays(**arrays, classes=classes, source=source)


def save(name: str, key: str, raw: RawArrays) -> Path | None:
    """Store ``raw`` under ``key`` atomically; returns the entry folder, or None if it could not be written."""
    final = entry_dir(name, key)
    tmp: Path | None = None
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{key}.", suffix=".part"))
        for k in _ARRAYS:
            np.save(tmp / f"{k}.npy", getattr(raw, k), allow_pickle=False)
        meta = {"classes": list(raw.classes), "source": raw.source, "format": FORMAT_VERSION}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        tmp = None
        return final
    except OSError as exc:
        warnings.warn(f"vanishing: could not cache decoded arrays in {final.parent} ({exc}); "
                      "they will be decoded again next time", stacklevel=3)
        return None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
