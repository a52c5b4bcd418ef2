"""The ``vanishing data`` command: ``list``, ``fetch`` and ``verify``.

``add_parser(subparsers)`` registers the command on the top-level parser of
:mod:`vanishing.cli`; each sub-command stores its handler in ``args.func``,
which takes the parsed arguments and returns the exit code:

* ``vanishing data list [--data-dir DIR]`` — each data set: where it would be
  read from (or "not found" and where it was looked for), its canonical size,
  bytes on disk, and whether it is bundled or in the user cache. Exit 0.
* ``vanishing data fetch NAME [--mirror URL] [--data-dir DIR]`` — download
  NAME into the user cache (or ``DIR/NAME/``), verify the checksums, read it
  once (which also fills the decoded-array cache) and print where it is.
  Exit 0, or 1 when the download fails.
* ``vanishing data verify [NAME] [--data-dir DIR]`` — check the files of NAME
  (default: every data set found) and print OK/FAIL per file. Exit 1 when any
  file fails or a named data set is not found.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import DataError
from . import array_cache, catalog
from .cifar import CifarSource, source_fingerprint
from .download import download_dataset, download_urls
from .paths import ENV_DATA, ENV_MIRROR, Candidate, cache_dir, cache_root
from .sources import Found, find, probe, read_found
from .verify import verify

DOWNLOADABLE = tuple(catalog.DOWNLOAD_FILES)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``data`` and its sub-commands on the CLI's sub-parsers."""
    data = subparsers.add_parser(
        "data",
        help="list, download and check data sets",
        description=(
            "Data sets are looked for in --data-dir DIR (the folder itself, then DIR/<name>/), "
            f"then ${ENV_DATA}/<name>/, then the user cache ({cache_root()}/<name>/); "
            "missing ones are downloaded into the cache."
        ),
    )
    commands = data.add_subparsers(dest="data_command", metavar="{list,fetch,verify}", required=True)

    p_list = commands.add_parser("list", help="show where each data set is found", description=_doc(cmd_list))
    _add_data_dir(p_list, "also look in DIR (the folder itself, then DIR/<name>/)")
    p_list.set_defaults(func=cmd_list)

    p_fetch = commands.add_parser("fetch", help="download a data set into the cache", description=_doc(cmd_fetch))
    p_fetch.add_argument("name", choices=catalog.DATASET_NAMES, metavar="NAME",
                         help=f"one of {', '.join(catalog.DATASET_NAMES)}")
    p_fetch.add_argument("--mirror", metavar="URL",
                         help=f"base URL to fetch the files from (default: ${ENV_MIRROR}, else the standard mirrors)")
    _add_data_dir(p_fetch, "download into DIR/NAME/ instead of the user cache")
    p_fetch.set_defaults(func=cmd_fetch)

    p_verify = commands.add_parser("verify", help="check data-set files", description=_doc(cmd_verify))
    p_verify.add_argument("name", nargs="?", choices=catalog.DATASET_NAMES, metavar="NAME",
                          help="the data set to check (default: every one found)")
    _add_data_dir(p_verify, "look in DIR first (the folder itself, then DIR/<name>/)")
    p_verify.set_defaults(func=cmd_verify)


def cmd_list(args: argparse.Namespace) -> int:
    """Show, for each data set, where it is found (or not), its size and whether it is bundled or cached."""
    width = max(map(len, catalog.DATASET_NAMES))
    for name in catalog.DATASET_NAMES:
        found, misses = find(name, args.data_dir)
        shape = catalog.SHAPES[name]
        size = f"{shape.n_train:,} + {shape.n_test:,} examples, {'x'.join(map(str, shape.image))}"
        if found is None:
            print(f"{name:<{width}}  not found       {size}; looked in {'; '.join(misses)}; "
                  f"`vanishing data fetch {name}` downloads it")
            continue
        status = "bundled" if found.origin == "bundled" else ("cached" if found.origin == "user cache" else "found")
        notes = [size, _human_bytes(_disk_bytes(found))]
        decoded = _decoded_cache(found)
        if decoded is not None:
            notes.append(f"decoded arrays cached ({_human_bytes(_tree_bytes(decoded))})")
        print(f"{name:<{width}}  {status:<14}  {found.describe()}: {', '.join(notes)}")
    print(f"{'npz:PATH':<{width}}  your own arrays: a .npz with x_train, y_train, x_test, y_test")
    print(f"user cache: {cache_root()}")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    """Download NAME into the user cache (or DIR/NAME/), check it and print where it is."""
    name = args.name
    if name not in DOWNLOADABLE:
        print(f"{name}: bundled with the package; nothing to fetch")
        return 0
    folder = Path(args.data_dir).expanduser() / name if args.data_dir else cache_dir(name)
    try:
        download_dataset(name, folder, args.mirror)
        found = probe(name, Candidate(folder, "--data-dir" if args.data_dir else "user cache"))
        if not isinstance(found, Found):
            raise DataError(f"{folder}: downloaded files not usable ({found})")
        raw = read_found(found)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(f"(the files: {', '.join(download_urls(name, args.mirror))})", file=sys.stderr)
        return 1
    print(f"{name}: {len(raw.x_train):,} train + {len(raw.x_test):,} test examples ready in {folder}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Check the files of NAME (or of every data set found); exit 1 if any fails."""
    names = [args.name] if args.name else list(catalog.DATASET_NAMES)
    failed = False
    for name in names:
        found, checks, misses = verify(name, args.data_dir)
        if found is None:
            print(f"{name}: not found (looked in {'; '.join(misses)})")
            failed = failed or bool(args.name)
            continue
        print(f"{name}: {found.describe()}")
        for check in checks:
            print(f"  {check.line()}")
        failed = failed or not all(check.ok for check in checks)
    return 1 if failed else 0


def _add_data_dir(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--data-dir", metavar="DIR", default=None, help=help_text)


def _doc(func) -> str:
    return (func.__doc__ or "").strip().splitlines()[0]


def _disk_bytes(found: Found) -> int:
    """Bytes on disk of the files that make up the data set (not the decoded cache)."""
    if isinstance(found.detail, dict):
        return sum(path.stat().st_size for path in found.detail.values())
    if found.path.is_dir():
        return _tree_bytes(found.path, skip=found.path / "decoded")
    return found.path.stat().st_size if found.path.exists() else 0


def _tree_bytes(folder: Path, skip: Path | None = None) -> int:
    total = 0
    for root, dirs, files in os.walk(folder):
        if skip is not None:
            dirs[:] = [d for d in dirs if Path(root, d) != skip]
        total += sum(Path(root, f).stat().st_size for f in files)
    return total


def _decoded_cache(found: Found) -> Path | None:
    """The decoded-array cache entry of a CIFAR-10 source, when one exists."""
    if not isinstance(found.detail, CifarSource) or found.detail.kind == "binary-folder":
        return None
    entry = array_cache.entry_dir("cifar10", source_fingerprint(found.detail))
    return entry if entry.is_dir() else None


def _human_bytes(n: float) -> str:
    """Decimal units: 11.3 MB."""
    if n < 1000:
        return f"{n:.0f} B"
    for unit in ("kB", "MB", "GB", "TB"):
        n /= 1000
        if n < 1000 or unit == "TB":
            return f"{n:.1f} {unit}"
    raise AssertionError("unreachable")
