"""Atomic file writes: temp file in the same folder, fsync, rename.

A reader sees either the old file or the complete new one, never a torn
write; a failed write (full disk, permission) removes its temp file and
raises :class:`StoreError` naming the path.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from ..errors import StoreError


def _default_mode() -> int:
    """0o666 minus the process umask: what ``open()`` would give (mkstemp alone gives 0o600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = _default_mode()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: str | Path, write: Callable[[io.BufferedWriter], None]) -> None:
    """Write ``path`` atomically; ``write`` receives a binary file object."""
    path = Path(path)
    tmp_name = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
        _fsync_dir(path.parent)
    except OSError as exc:
        raise StoreError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass


def write_bytes(path: str | Path, data: bytes) -> None:
    write_atomic(path, lambda fh: fh.write(data))


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON with sorted keys (NaN/inf as Python's json writes them)."""
    text = json.dumps(obj, indent=2, sort_keys=True, default=_json_default)
    write_bytes(path, (text + "\n").encode())


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (tuple, set)):
        return list(obj)
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def torch_save(path: str | Path, obj: Any) -> None:
    """``torch.save`` atomically (checkpoints).

    Serialised in memory first: torch's writer turns an OSError of the file
    (a full disk) into an opaque ``RuntimeError: [enforce fail at
    inline_container.cc] unexpected pos``; written as bytes, it stays an
    OSError and becomes a StoreError naming the file.
    """
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes(path, buffer.getbuffer())


def torch_load(path: str | Path) -> Any:
    """Load a checkpoint safely: ``weights_only=True`` never unpickles code."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        return None
    except Exception as exc:  # a torn or tampered file
        # The weights-only unpickler met a global (a class or function to import): crafted or foreign.
        # Plain garbage raises the same UnpicklingError type ("Unsupported operand …"), so the message decides.
        refused = next((line.strip() for line in str(exc).splitlines() if "GLOBAL" in line), "")
        if type(exc).__name__ == "UnpicklingError" and refused:
            raise StoreError(f"{path}: refused: holds Python objects other than tensors, which could run code when "
                             f"loaded ({refused}); delete it to restart the run") from None
        first = (str(exc).strip().splitlines() or [""])[0]
        raise StoreError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {first}); delete it to restart the run") from None


def read_json(path: str | Path) -> Any:
    """Parse a JSON file; None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise StoreError(f"{path}: unreadable JSON ({exc})") from None
