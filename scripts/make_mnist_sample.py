#!/usr/bin/env python
"""Build the bundled ``mnist-sample`` from a folder holding the full MNIST.

Usage::

    python scripts/make_mnist_sample.py /path/to/mnist            # writes src/vanishing/data/mnist_sample/
    python scripts/make_mnist_sample.py /path/to/mnist --out DIR  # elsewhere

The input folder holds the four standard IDX files (gzipped or not). The
sample is a class-balanced random subset — ``--train-per-class`` digits of
each class from the 60,000 training images and ``--test-per-class`` from the
10,000 test images — drawn with ``numpy.random.default_rng(--seed)``: for
class 0, 1, …, 9 in turn, ``rng.choice`` picks that many of the class's
indices without replacement. The chosen images keep their original order.

The same input and arguments always give the same IDX content (the gzip
header carries no time stamp), recorded in ``SHA256SUMS`` as the sha256 of
each file's decompressed bytes. ``ATTRIBUTION.md`` states the authors,
licence and exactly how the subset was made.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from vanishing.data.catalog import DIGIT_CLASSES, IDX_FILES, SHA256_CONTENT  # noqa: E402
from vanishing.data.idx import write_idx  # noqa: E402
from vanishing.data.mnist import find_idx_files, read_idx_folder  # noqa: E402

DEFAULT_OUT = ROOT / "src" / "vanishing" / "data" / "mnist_sample"

ATTRIBUTION = """\
# mnist-sample — attribution and provenance

This folder holds a subset of the **MNIST database of handwritten digits**
by **Yann LeCun, Corinna Cortes and Christopher J.C. Burges**
(http://yann.lecun.com/exdb/mnist/), redistributed under the
**Creative Commons Attribution-Share Alike 3.0** licence (CC BY-SA 3.0,
https://creativecommons.org/licenses/by-sa/3.0/). The files here are a
derivative (a subset) of MNIST and are shared under the same licence.

## What the subset is

| file | content |
|---|---|
| `train-images-idx3-ubyte.gz` | {n_train:,} training images, 28x28, uint8 |
| `train-labels-idx1-ubyte.gz` | their labels 0–9 |
| `t10k-images-idx3-ubyte.gz` | {n_test:,} test images, 28x28, uint8 |
| `t10k-labels-idx1-ubyte.gz` | their labels 0–9 |

* training: {train_per_class:,} images of each digit, drawn without
  replacement from the 60,000 MNIST training images;
* test: {test_per_class:,} images of each digit, drawn from the 10,000
  MNIST test images (so no test digit is a training digit);
* pixels and labels are unchanged; the chosen images keep their original
  relative order.

## How it was made

`python scripts/make_mnist_sample.py MNIST_DIR --seed {seed}
--train-per-class {train_per_class} --test-per-class {test_per_class}`
(in the `vanishing` repository): `numpy.random.default_rng({seed})`, then for
each class 0…9 in turn `rng.choice(indices_of_class, k, replace=False)`, first
for the training set, then for the test set. The source files were the
original MNIST IDX files; sha256 of their decompressed content:

{source_sums}

`SHA256SUMS` lists the sha256 of the decompressed content of each file here.
"""


def select(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``per_class`` examples of each class, chosen at random, in ascending order."""
    chosen = []
    for c in range(len(DIGIT_CLASSES)):
        pool = np.flatnonzero(labels == c)
        if len(pool) < per_class:
            raise SystemExit(f"class {c} has only {len(pool)} examples, fewer than {per_class}")
        chosen.append(rng.choice(pool, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen))


def content_sha256(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha256(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mnist_dir", type=Path, help="folder holding the four full MNIST IDX files")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    parser.add_argument("--seed", type=int, default=0, help="seed of numpy.random.default_rng (default: 0)")
    parser.add_argument("--train-per-class", type=int, default=1000)
    parser.add_argument("--test-per-class", type=int, default=200)
    args = parser.parse_args(argv)

    files = find_idx_files(args.mnist_dir)
    if isinstance(files, str):
        parser.error(f"{args.mnist_dir}: {files}")
    full = read_idx_folder(files, DIGIT_CLASSES, str(args.mnist_dir))
    if len(full.x_train) != 60_000 or len(full.x_test) != 10_000:
        parser.error(f"{args.mnist_dir}: expected the full MNIST (60,000 + 10,000), "
                     f"found {len(full.x_train):,} + {len(full.x_test):,}")
    source_sums_by_stem = {}
    for key, stem in IDX_FILES.items():
        digest = source_sums_by_stem[stem] = content_sha256(files[key])
        if digest != SHA256_CONTENT[("mnist", stem)]:
            parser.error(f"{files[key]}: content sha256 {digest} is not the original MNIST's "
                         f"{SHA256_CONTENT[('mnist', stem)]}")
    rng = np.random.default_rng(args.seed)
    train = select(full.y_train, args.train_per_class, rng)
    test = select(full.y_test, args.test_per_class, rng)

    args.out.mkdir(parents=True, exist_ok=True)
    outputs = {
        IDX_FILES[("train", "images")]: full.x_train[train],
        IDX_FILES[("train", "labels")]: full.y_train[train].astype(np.uint8),
        IDX_FILES[("test", "images")]: full.x_test[test],
        IDX_FILES[("test", "labels")]: full.y_test[test].astype(np.uint8),
    }
    sums = []
    for stem, array in outputs.items():
        path = args.out / f"{stem}.gz"
        write_idx(path, array)
        sums.append(f"{content_sha256(path)}  {path.name}")
    (args.out / "SHA256SUMS").write_text(
        "# sha256 of the decompressed IDX content of each file\n" + "\n".join(sums) + "\n", encoding="utf-8"
    )
    source_sums = "\n".join(f"* `{stem}`: `{source_sums_by_stem[stem]}`" for stem in IDX_FILES.values())
    (args.out / "ATTRIBUTION.md").write_text(
        ATTRIBUTION.format(
            n_train=len(train), n_test=len(test), train_per_class=args.train_per_class,
            test_per_class=args.test_per_class, seed=args.seed, source_sums=source_sums,
        ),
        encoding="utf-8",
    )
    size = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    print(f"wrote {len(train):,} train + {len(test):,} test images to {args.out} ({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
