"""Finding a data set and reading it into :class:`RawArrays`, downloading when needed.

:func:`load_arrays` is the one entry point from a name to arrays. For the
named data sets it walks the folders of :func:`vanishing.data.paths.candidates`
(``data_dir`` → ``$VANISHING_DATA/<name>/`` → user cache) and reads the first
that holds the data set; when none does it downloads into the user cache
(:mod:`vanishing.data.download`) and reads that. ``mnist-sample`` comes from
the package itself and ``npz:PATH`` from its file.

A folder that holds the data set but whose files are damaged is an error
(naming the file), not a reason to look further: silently falling back to
another copy would hide the problem. When nothing is found and nothing can
be downloaded, one :class:`DataError` lists every place looked in, why each
did not qualify, what the download attempt said, and how to supply the files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from . import catalog
from .catalog import check_dataset_name, npz_path
from .cifar import KINDS, CifarSource, find_cifar, read_cifar
from .download import download_dataset, mirrors_for
from .mnist import Files, find_idx_files, read_idx_folder
from .npz import read_npz
from .paths import ORIGIN_CACHE, Candidate, cache_dir, candidates
from .raw import RawArrays
from .sample import load_sample, sample_folder, sample_path

ORIGIN_BUNDLED = "bundled"
ORIGIN_NPZ = "npz:PATH"


@dataclass(frozen=True)
class Found:
    """Where a data set was found and what is there."""

    name: str
    path: Path  # the folder of IDX files, the CIFAR-10 source, the npz file or the bundled folder
    origin: str  # --data-dir | $VANISHING_DATA | user cache | bundled | npz:PATH
    what: str  # e.g. "IDX files", "image-folder tree"
    detail: Files | CifarSource | None = None

    def describe(self) -> str:
        """``PATH (what, via origin)``, or ``PATH (bundled with the package)``."""
        if self.origin == ORIGIN_BUNDLED:
            return f"{self.path} (bundled with the package)"
        return f"{self.path} ({self.what}, via {self.origin})"


def find(name: str, data_dir: str | os.PathLike | None = None) -> tuple[Found | None, list[str]]:
    """Look for ``name`` without downloading: (what was found or None, why each place did not qualify)."""
    check_dataset_name(name)
    path = npz_path(name)
    if path is not None:
        file = Path(path).expanduser()
        if file.is_file():
            return Found(name, file, ORIGIN_NPZ, "npz file"), []
        return None, [f"{file} (no such file)"]
    if name == "mnist-sample":
        folder = sample_path() or Path(str(sample_folder()))
        return Found(name, folder, ORIGIN_BUNDLED, "package data"), []
    misses = []
    for candidate in candidates(name, data_dir):
        found = probe(name, candidate)
        if isinstance(found, Found):
            return found, misses
        misses.append(f"{candidate.folder} ({candidate.origin}: {found})")
    return None, misses


def probe(name: str, candidate: Candidate) -> Found | str:
    """Whether ``candidate`` holds data set ``name``: a :class:`Found`, or the reason it does not."""
    if name == "cifar10":
        source = find_cifar(candidate.folder)
        if isinstance(source, str):
            return source
        return Found(name, source.path, candidate.origin, KINDS[source.kind], source)
    files = find_idx_files(candidate.folder)
    if isinstance(files, str):
        return files
    return Found(name, candidate.folder, candidate.origin, "IDX files", files)


def locate(name: str, data_dir: str | os.PathLike | None = None) -> Path | None:
    """Where ``name`` would be read from without downloading, or None.

    For ``mnist`` / ``fashion-mnist`` the folder of IDX files; for
    ``cifar10`` the binary folder, image tree or archive; for
    ``mnist-sample`` the bundled folder; for ``npz:PATH`` the file.
    """
    found, _ = find(name, data_dir)
    return found.path if found is not None else None


def read_found(found: Found) -> RawArrays:
    """Read what :func:`find` found."""
    if found.origin == ORIGIN_NPZ:
        return read_npz(found.path)
    if found.origin == ORIGIN_BUNDLED:
        return load_sample()
    if isinstance(found.detail, CifarSource):
        return read_cifar(found.detail, found.origin)
    assert isinstance(found.detail, dict)
    return read_idx_folder(found.detail, catalog.CLASSES[found.name], f"{found.path} (IDX files, via {found.origin})")


def load_arrays(
    name: str,
    *,
    data_dir: str | os.PathLike | None = None,
    mirror: str | None = None,
    download: bool = True,
) -> RawArrays:
    """Raw train/test arrays of data set ``name`` (see the module docstring for where from).

    ``data_dir``: a folder holding the files, or a folder with a ``<name>/``
    sub-folder. ``mirror``: base URL to download from instead of the standard
    mirrors (default ``$VANISHING_MIRROR``). ``download=False`` never touches
    the network. Raises :class:`DataError` (one line) on any problem.
    """
    check_dataset_name(name)
    if npz_path(name) is not None:
        return read_npz(npz_path(name))
    found, misses = find(name, data_dir)
    if found is not None:
        return read_found(found)
    if not download:
        raise not_found_error(name, misses, "downloading is off", mirror)
    folder = cache_dir(name)
    try:
        download_dataset(name, folder, mirror)
    except DataError as exc:
        raise not_found_error(name, misses, f"the download failed: {exc}", mirror) from None
    found = probe(name, Candidate(folder, ORIGIN_CACHE))
    if not isinstance(found, Found):
        raise DataError(f"{folder}: downloaded files not usable ({found})")
    return read_found(found)


def how_to_download(name: str, mirror: str | None = None) -> str:
    """``BASE{file1, file2}`` — the URLs to fetch by hand."""
    base = mirrors_for(name, mirror)[0]
    files = catalog.DOWNLOAD_FILES[name]
    return base + (files[0] if len(files) == 1 else "{" + ", ".join(files) + "}")


def not_found_error(name: str, misses: list[str], download_note: str, mirror: str | None = None) -> DataError:
    """The one-line error when ``name`` is nowhere to be found."""
    return DataError(
        f"{name}: not found; looked in {'; '.join(misses)}; {download_note}. "
        f"Supply the files with --data-dir DIR or VANISHING_DATA=DIR (holding {name}/), "
        f"or download {how_to_download(name, mirror)} into {cache_dir(name)}"
    )
