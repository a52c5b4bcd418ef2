"""MNIST: the bundled sample (offline, balanced, real digits) and the full set.

The full-set tests parse the shared IDX files here with plain ``gzip`` +
``numpy`` (offset 16 for images, 8 for labels), independently of the reader
under test.
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from vanishing.data import load_arrays, load_dataset, locate
from vanishing.data.sample import sample_path

ROOT = Path(__file__).resolve().parents[1]


def parse(path: Path, offset: int) -> np.ndarray:
    return np.frombuffer(gzip.decompress(path.read_bytes()), dtype=np.uint8, offset=offset)


@pytest.fixture(scope="module")
def full_mnist(shared_data):
    folder = shared_data / "mnist"
    return {
        "x_train": parse(folder / "train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28),
        "y_train": parse(folder / "train-labels-idx1-ubyte.gz", 8),
        "x_test": parse(folder / "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28),
        "y_test": parse(folder / "t10k-labels-idx1-ubyte.gz", 8),
    }


def test_sample_loads_offline_without_any_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("VANISHING_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("VANISHING_MIRROR", "http://127.0.0.1:9/")  # any download attempt would fail
    ds = load_dataset("mnist-sample", val_fraction=0, download=False)
    assert ds.x_train.shape == (10_000, 784) and ds.x_test.shape == (2_000, 784)
    assert ds.x_train.dtype.is_floating_point and float(ds.x_train.max()) == 1.0 and float(ds.x_train.min()) == 0.0
    assert np.bincount(ds.y_train.numpy()).tolist() == [1000] * 10
    assert np.bincount(ds.y_test.numpy()).tolist() == [200] * 10
    assert ds.classes == tuple("0123456789") and ds.val_is_test
    assert ds.source.startswith("bundled mnist-sample: 10,000 train + 2,000 test real MNIST digits (CC BY-SA 3.0)")
    assert locate("mnist-sample") == sample_path()


def test_sample_attribution_is_bundled():
    text = (sample_path() / "ATTRIBUTION.md").read_text(encoding="utf-8")
    for phrase in ("Yann LeCun", "Corinna Cortes", "Christopher J.C. Burges", "CC BY-SA 3.0", "default_rng(0)"):
        assert phrase in text
    size = sum(p.stat().st_size for p in sample_path().iterdir())
    assert size < 2.5e6


def rows_index(images: np.ndarray) -> dict[bytes, list[int]]:
    index: dict[bytes, list[int]] = {}
    for i, row in enumerate(images.reshape(len(images), -1)):
        index.setdefault(row.tobytes(), []).append(i)
    return index


@pytest.mark.full_data
def test_sample_digits_are_real_mnist_digits(full_mnist):
    sample = load_arrays("mnist-sample")
    for split in ("train", "test"):
        index = rows_index(full_mnist[f"x_{split}"])
        origins = []
        for image, label in zip(getattr(sample, f"x_{split}"), getattr(sample, f"y_{split}"), strict=True):
            matches = [i for i in index.get(image.tobytes(), []) if full_mnist[f"y_{split}"][i] == label]
            assert matches, f"a sample {split} image is not in the full MNIST {split} set with the same label"
            origins.append(matches[0])
        assert len(set(origins)) == len(origins)  # drawn without replacement
        assert origins == sorted(origins)  # original order kept


@pytest.mark.full_data
def test_sample_script_reproduces_the_bundled_files(shared_data, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("make_mnist_sample", ROOT / "scripts" / "make_mnist_sample.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main([str(shared_data / "mnist"), "--out", str(tmp_path)]) == 0
    assert "wrote 10,000 train + 2,000 test images" in capsys.readouterr().out
    for path in sorted(tmp_path.iterdir()):
        bundled = sample_path() / path.name
        if path.suffix == ".gz":  # compare content: deflate bytes may differ between zlib builds
            assert gzip.decompress(path.read_bytes()) == gzip.decompress(bundled.read_bytes()), path.name
        else:
            assert path.read_text(encoding="utf-8") == bundled.read_text(encoding="utf-8"), path.name


@pytest.mark.full_data
def test_full_mnist_from_vanishing_data(full_mnist):
    ds = load_dataset("mnist", val_fraction=0)
    assert ds.x_train.shape == (60_000, 784) and ds.x_test.shape == (10_000, 784)
    assert ds.n_features == 784 and ds.n_classes == 10 and ds.val_is_test
    assert "$VANISHING_DATA" in ds.source
    np.testing.assert_array_equal(ds.y_train.numpy(), full_mnist["y_train"])
    np.testing.assert_array_equal(ds.y_test.numpy(), full_mnist["y_test"])
    for i in (0, 1, 59_999):
        np.testing.assert_array_equal(ds.x_train[i].numpy(), full_mnist["x_train"][i].reshape(-1) / np.float32(255))
    np.testing.assert_array_equal(ds.x_test[9_999].numpy(), full_mnist["x_test"][9_999].reshape(-1) / np.float32(255))
