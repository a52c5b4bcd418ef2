"""Reading tar archives member by member, without extracting anything to disk.

Data-set archives are read as streams (``tarfile`` mode ``r|*``: plain, gzip,
bzip2 or xz) and each wanted member's bytes are handed to the caller in
memory, so no path from the archive ever becomes a path on disk. Still, an
archive whose member names are absolute or climb out with ``..`` is refused
outright (a well-formed data set never has them), and everything that is not
a regular file — folders, symbolic and hard links, devices, FIFOs — is
skipped. Member sizes are bounded before reading, and members are forgotten
once passed, so memory does not grow with the number of members (a "tar
bomb" of millions of empty entries).
"""

from __future__ import annotations

import tarfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from ..errors import DataError

#: Largest member read into memory (a CIFAR-10 batch is 30.7 MB).
MAX_MEMBER_BYTES = 256 * 2**20


def safe_parts(name: str, archive: Path) -> tuple[str, ...]:
    """Components of a member name, after refusing absolute paths and ``..``.

    A leading ``./`` is dropped; Windows separators count as separators.
    """
    posix = name.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        raise DataError(f"{archive}: refusing member {name!r}: absolute path")
    parts = tuple(p for p in PurePosixPath(posix).parts if p not in ("", "."))
    if ".." in parts:
        raise DataError(f"{archive}: refusing member {name!r}: path leaves the archive ('..')")
    return parts


def iter_members(
    archive: Path,
    wanted: Callable[[tuple[str, ...], int], bool],
) -> Iterator[tuple[tuple[str, ...], bytes]]:
    """Yield ``(parts, data)`` for each regular member for which ``wanted(parts, size)`` is true.

    ``parts`` are the checked path components (:func:`safe_parts`). Raises
    :class:`DataError` naming the archive when it is unreadable or corrupt, or
    when a wanted member exceeds :data:`MAX_MEMBER_BYTES`.
    """
    try:
        with tarfile.open(archive, mode="r|*") as tar:
            for member in _members(tar):
                parts = safe_parts(member.name, archive)
                if not member.isreg() or not parts:
                    continue
                if not wanted(parts, member.size):
                    continue
                if member.size > MAX_MEMBER_BYTES:
                    raise DataError(
                        f"{archive}: member {member.name!r} declares {member.size:,} bytes, "
                        f"more than the limit of {MAX_MEMBER_BYTES:,}"
                    )
                handle = tar.extractfile(member)
                data = handle.read() if handle is not None else b""
                if len(data) != member.size:
                    raise DataError(f"{archive}: member {member.name!r} is truncated")
                yield parts, data
    except FileNotFoundError:
        raise DataError(f"{archive}: no such file") from None
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(f"{archive}: corrupt or unreadable archive ({exc or type(exc).__name__})") from None


def iter_member_names(archive: Path) -> Iterator[tuple[str, ...]]:
    """Path components of the regular members, lazily (stop early to read only the first headers)."""
    try:
        with tarfile.open(archive, mode="r|*") as tar:
            for member in _members(tar):
                if member.isreg():
                    yield safe_parts(member.name, archive)
    except FileNotFoundError:
        raise DataError(f"{archive}: no such file") from None
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(f"{archive}: corrupt or unreadable archive ({exc or type(exc).__name__})") from None


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """The members of a stream-mode archive in order, each forgotten once passed.

    ``TarFile`` keeps every header it has read in ``tar.members``; for a
    stream read once front to back that list is never used again.
    """
    while (member := tar.next()) is not None:
        yield member
        tar.members.clear()
