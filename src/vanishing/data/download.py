"""Downloads into the user cache: checksum-verified and atomic.

A file is streamed into a temporary file in the destination folder while its
md5 is computed; only when the digest matches the published one
(:data:`vanishing.data.catalog.MD5`) is it renamed into place with
:func:`os.replace`, which is atomic on one file system. On any failure — the
server is unreachable, the connection drops, the digest differs, the disk is
full, Ctrl-C — the temporary file is removed, so the cache never holds a
partial or unverified file under a real name.

Only the standard library (:mod:`urllib`) is used, with a timeout on every
network operation. Mirrors are tried in order; ``mirror=`` or
``$VANISHING_MIRROR`` replaces them with one base URL under which the same
file names are fetched (``file://`` URLs work too).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import DataError
from . import catalog
from .paths import mirror_from_env

#: Seconds to wait for a connection or for the next block of data.
TIMEOUT = 30.0
_BLOCK = 1 << 20
_USER_AGENT = "vanishing-data/1 (+https://pypi.org/project/vanishing/)"


def mirrors_for(name: str, mirror: str | None = None) -> tuple[str, ...]:
    """Base URLs to fetch ``name`` from: ``mirror``, else ``$VANISHING_MIRROR``, else the standard ones."""
    override = mirror or mirror_from_env()
    if override:
        return (override if override.endswith("/") else override + "/",)
    return catalog.MIRRORS[name]


def download_urls(name: str, mirror: str | None = None) -> list[str]:
    """Every URL a download of ``name`` would try, file by file, mirror by mirror."""
    return [base + file for file in catalog.DOWNLOAD_FILES[name] for base in mirrors_for(name, mirror)]


def md5_of(path: Path) -> str:
    """Hex md5 of a file, read in blocks."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(
    urls: Sequence[str],
    dest: Path,
    md5: str | None,
    *,
    timeout: float | None = None,
    note: Callable[[str], None] | None = None,
) -> Path:
    """Download the first of ``urls`` that works into ``dest``, verified against ``md5``.

    Tries each URL in turn; a URL that fails (unreachable, HTTP error, md5
    mismatch) leaves nothing behind and the next is tried. Returns ``dest``.
    Raises :class:`DataError` listing every URL and why it failed.
    ``note`` receives one progress line per attempt (default: stderr);
    ``timeout`` defaults to :data:`TIMEOUT`.
    """
    note = note or _note_stderr
    timeout = TIMEOUT if timeout is None else timeout
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{dest.parent}: cannot create the download folder ({exc.strerror or exc})") from None
    failures: list[str] = []
    for url in urls:
        note(f"vanishing: downloading {url} -> {dest}")
        try:
            digest, size = _stream_to(url, dest, md5, timeout)
        except _Failure as exc:
            failures.append(f"{url}: {exc}")
            continue
        note(f"vanishing: {dest.name}: {size:,} bytes, md5 {digest} OK")
        return dest
    raise DataError(f"{dest.name}: download failed ({'; '.join(failures)})")


def download_dataset(
    name: str,
    folder: Path,
    mirror: str | None = None,
    *,
    timeout: float | None = None,
    note: Callable[[str], None] | None = None,
) -> list[Path]:
    """Download every file of data set ``name`` into ``folder`` (skipping verified ones).

    A file already in ``folder`` whose md5 matches is kept; files completed
    before a failure stay (each is whole and verified). A folder this call
    created is removed again if the download leaves it empty. Returns the paths.
    """
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{folder}: cannot create the download folder ({exc.strerror or exc})") from None
    bases = mirrors_for(name, mirror)
    paths = []
    try:
        for file in catalog.DOWNLOAD_FILES[name]:
            dest = folder / file
            expected = catalog.MD5.get((name, file))
            if dest.is_file() and expected is not None and md5_of(dest) == expected:
                paths.append(dest)
                continue
            paths.append(fetch([base + file for base in bases], dest, expected, timeout=timeout, note=note))
    except BaseException:
        if created and not any(folder.iterdir()):
            folder.rmdir()
        raise
    return paths


class _Failure(Exception):
    """One URL failed; the message says why (collected into the final DataError)."""


def _stream_to(url: str, dest: Path, md5: str | None, timeout: float) -> tuple[str, int]:
    """Stream ``url`` into a temp file beside ``dest``, check md5, rename. Returns (md5, size).

    Network problems raise :class:`_Failure` (try the next mirror); a local
    write error (disk full, read-only) raises :class:`DataError` at once.
    """
    try:
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    except OSError as exc:
        raise DataError(f"{dest.parent}: cannot write the download ({exc.strerror or exc})") from None
    tmp = Path(tmp_name)
    try:
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(request, timeout=timeout)
            except urllib.error.HTTPError as exc:
                raise _Failure(f"HTTP {exc.code} {exc.reason}") from None
            except urllib.error.URLError as exc:
                raise _Failure(f"unreachable ({exc.reason})") from None
            except TimeoutError:
                raise _Failure(f"timed out after {timeout:g} s") from None
            except (OSError, ValueError, http.client.HTTPException) as exc:
                raise _Failure(f"cannot connect ({exc})") from None
            with response:
                declared = response.headers.get("Content-Length") if response.headers else None
                while True:
                    try:
                        block = response.read(_BLOCK)
                    except TimeoutError:
                        raise _Failure(f"timed out after {timeout:g} s") from None
                    except (OSError, http.client.HTTPException) as exc:
                        raise _Failure(f"connection lost after {size:,} bytes ({exc!r})") from None
                    if not block:
                        break
                    try:
                        out.write(block)
                    except OSError as exc:
                        raise DataError(f"{dest.parent}: cannot write the download ({exc.strerror or exc})") from None
                    digest.update(block)
                    size += len(block)
            if declared is not None and declared.isdigit() and int(declared) != size:
                raise _Failure(f"incomplete: {size:,} of {int(declared):,} bytes")
            try:
                out.flush()
                os.fsync(out.fileno())
            except OSError as exc:
                raise DataError(f"{dest.parent}: cannot write the download ({exc.strerror or exc})") from None
        found = digest.hexdigest()
        if md5 is not None and found != md5:
            raise _Failure(f"checksum mismatch: md5 {found}, expected {md5}")
        os.replace(tmp, dest)
        return found, size
    finally:
        tmp.unlink(missing_ok=True)


def _note_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
