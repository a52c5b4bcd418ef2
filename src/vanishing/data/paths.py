"""Where data sets are looked for: the explicit folder, ``$VANISHING_DATA``, the user cache.

The lookup order is the same for every data set:

1. ``data_dir`` (``--data-dir DIR``): the folder itself, then ``DIR/<name>/``,
   so both ``--data-dir ~/mnist-files`` and ``--data-dir ~/datasets`` work;
2. ``$VANISHING_DATA/<name>/``;
3. the user cache, :func:`cache_dir` — ``$XDG_CACHE_HOME/vanishing/<name>/``,
   or ``~/.cache/vanishing/<name>/`` when ``XDG_CACHE_HOME`` is unset;
4. a download into that cache (see :mod:`vanishing.data.download`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_DATA = "VANISHING_DATA"
ENV_MIRROR = "VANISHING_MIRROR"

ORIGIN_DATA_DIR = "--data-dir"
ORIGIN_ENV = f"${ENV_DATA}"
ORIGIN_CACHE = "user cache"


@dataclass(frozen=True)
class Candidate:
    """A folder to look in and why it is on the list (shown in messages)."""

    folder: Path
    origin: str  # ORIGIN_DATA_DIR | ORIGIN_ENV | ORIGIN_CACHE


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/vanishing``, or ``~/.cache/vanishing``.

    Per the XDG base-directory specification a relative ``XDG_CACHE_HOME`` is
    ignored.
    """
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "vanishing"


def cache_dir(name: str) -> Path:
    """The user-cache folder of data set ``name`` (not created here)."""
    return cache_root() / name


def candidates(name: str, data_dir: str | os.PathLike | None = None) -> list[Candidate]:
    """The folders searched for ``name``, in order (see the module docstring)."""
    out: list[Candidate] = []
    if data_dir is not None and str(data_dir) != "":
        root = Path(data_dir).expanduser()
        out += [Candidate(root, ORIGIN_DATA_DIR), Candidate(root / name, ORIGIN_DATA_DIR)]
    env = os.environ.get(ENV_DATA, "")
    if env:
        out.append(Candidate(Path(env).expanduser() / name, ORIGIN_ENV))
    out.append(Candidate(cache_dir(name), ORIGIN_CACHE))
    return out


def mirror_from_env() -> str | None:
    """``$VANISHING_MIRROR`` when set and non-empty."""
    return os.environ.get(ENV_MIRROR) or None
