"""``npz:PATH``: user arrays, loaded without pickle, with one clear error per problem."""

from __future__ import annotations

import numpy as np
import pytest

from vanishing.data import check_dataset_name, load_arrays, load_dataset, locate
from vanishing.errors import ConfigError, DataError


def arrays(n_train=12, n_test=4, features=(2, 3)):
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, (n_train, *features)).astype(np.uint8),
        "y_train": np.arange(n_train) % 3,
        "x_test": rng.integers(0, 256, (n_test, *features)).astype(np.uint8),
        "y_test": np.arange(n_test) % 3,
    }


def test_good_file(tmp_path):
    data = arrays()
    path = tmp_path / "a.npz"
    np.savez_compressed(path, **data)
    ds = load_dataset(f"npz:{path}", val_fraction=0)
    assert ds.x_train.shape == (12, 6) and ds.n_classes == 3 and ds.classes == ("0", "1", "2")
    np.testing.assert_array_equal(ds.x_train.numpy(), data["x_train"].reshape(12, 6) / np.float32(255))
    np.testing.assert_array_equal(ds.y_test.numpy(), data["y_test"])
    assert str(path) in ds.source
    assert locate(f"npz:{path}") == path


def test_name_syntax_only_is_checked_up_front():
    check_dataset_name("npz:/does/not/exist.npz")  # existence is the loader's business
    with pytest.raises(ConfigError, match="names no file"):
        check_dataset_name("npz:")


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=f"^{tmp_path / 'none.npz'}: no such file"):
        load_arrays(f"npz:{tmp_path / 'none.npz'}")


def test_missing_key_is_named(tmp_path):
    data = arrays()
    del data["y_test"]
    path = tmp_path / "a.npz"
    np.savez(path, **data)
    with pytest.raises(DataError) as err:
        load_arrays(f"npz:{path}")
    assert str(err.value) == (f"{path}: missing key 'y_test' (expected x_train, y_train, x_test, y_test; "
                              "found x_train, y_train, x_test)")


def test_object_arrays_are_refused_without_unpickling(tmp_path):
    data = arrays()
    data["x_train"] = np.array([{"evil": 1}] * 12, dtype=object)
    path = tmp_path / "a.npz"
    np.savez(path, **data)  # numpy pickles object arrays
    with pytest.raises(DataError, match=f"^{path}: key 'x_train' holds Python objects, which need pickle"):
        load_arrays(f"npz:{path}")


def test_mismatched_lengths(tmp_path):
    data = arrays()
    data["y_train"] = data["y_train"][:-1]
    path = tmp_path / "a.npz"
    np.savez(path, **data)
    with pytest.raises(DataError, match=f"^{path}: x_train has 12 rows but y_train has 11 labels"):
        load_arrays(f"npz:{path}")


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("y_train", np.linspace(0, 1, 12), "key 'y_train' has dtype float64, expected integer class indices"),
        ("y_test", -np.ones(4, dtype=int), "key 'y_test' holds label -1 at index 0, expected 0 or more"),
        ("x_test", np.zeros((4, 5)), r"x_test examples have shape \(5,\), expected \(2, 3\)"),
        ("x_train", np.full((12, 2, 3), np.nan), "key 'x_train' holds NaN or infinite values"),
        ("x_train", np.zeros(12), r"key 'x_train' has shape \(12,\), expected \(examples, features...\)"),
    ],
)
def test_bad_contents(tmp_path, key, value, message):
    data = arrays()
    data[key] = value
    path = tmp_path / "a.npz"
    np.savez(path, **data)
    with pytest.raises(DataError, match=message):
        load_arrays(f"npz:{path}")


def test_not_an_npz(tmp_path):
    path = tmp_path / "a.npz"
    path.write_bytes(b"not a zip file")
    with pytest.raises(DataError, match=f"^{path}: not a readable .npz file"):
        load_arrays(f"npz:{path}")
    np.save(tmp_path / "b.npy", np.zeros(3))
    with pytest.raises(DataError, match="holds a single array, expected an .npz archive"):
        load_arrays(f"npz:{tmp_path / 'b.npy'}")
