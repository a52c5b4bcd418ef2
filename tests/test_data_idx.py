"""IDX reading and writing: round trips and every malformed-file error.

The expected bytes are built here by hand with ``struct`` (independently of
``write_idx``), so a reader and writer that agree with each other but not
with the format would fail.
"""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from vanishing.data.catalog import IDX_FILES
from vanishing.data.idx import IMAGES_MAGIC, LABELS_MAGIC, MAX_ITEMS, read_idx, read_idx_bytes, write_idx
from vanishing.data.mnist import find_idx_files, read_idx_folder
from vanishing.errors import DataError


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array, written out from the format description."""
    return bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape) + array.tobytes()


def images(n=5, rows=3, cols=4, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, rows, cols), dtype=np.uint8)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_write_then_read_round_trip(tmp_path, suffix):
    x = images()
    y = np.arange(5, dtype=np.uint8)
    write_idx(tmp_path / f"img{suffix}", x)
    write_idx(tmp_path / f"lab{suffix}", y)
    raw_img = (tmp_path / f"img{suffix}").read_bytes()
    assert (gzip.decompress(raw_img) if suffix else raw_img) == idx_bytes(x)
    np.testing.assert_array_equal(read_idx(tmp_path / f"img{suffix}", IMAGES_MAGIC), x)
    np.testing.assert_array_equal(read_idx(tmp_path / f"lab{suffix}", LABELS_MAGIC), y)


def test_gzip_output_is_reproducible(tmp_path):
    write_idx(tmp_path / "a.gz", images())
    write_idx(tmp_path / "b.gz", images())
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


def test_read_hand_made_bytes_and_in_memory(tmp_path):
    x = images(n=2, rows=2, cols=2, seed=3)
    (tmp_path / "f").write_bytes(idx_bytes(x))
    np.testing.assert_array_equal(read_idx(tmp_path / "f", IMAGES_MAGIC), x)
    np.testing.assert_array_equal(read_idx_bytes(gzip.compress(idx_bytes(x)), "mem", IMAGES_MAGIC), x)


def test_wrong_magic_names_file_and_expectation(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, np.arange(4, dtype=np.uint8))  # a labels file (magic 2049)
    with pytest.raises(DataError) as err:
        read_idx(path, IMAGES_MAGIC)
    assert str(err.value) == (
        f"{path}: wrong magic number {LABELS_MAGIC}, expected {IMAGES_MAGIC} (IDX unsigned-byte images)"
    )


def test_float_idx_type_is_rejected_by_magic(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(bytes([0, 0, 0x0D, 1]) + struct.pack(">I", 1) + b"\0\0\0\0")
    with pytest.raises(DataError, match=f"wrong magic number {0x0D01}, expected {LABELS_MAGIC}"):
        read_idx(path, LABELS_MAGIC)


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_file(tmp_path, gz):
    data = idx_bytes(images(n=5))[:-7]
    path = tmp_path / ("f.gz" if gz else "f")
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(DataError) as err:
        read_idx(path, IMAGES_MAGIC)
    message = str(err.value)
    assert message.startswith(f"{path}: truncated")
    assert "5 x 3 x 4 = 60 bytes" in message and "holds 53" in message


def test_truncated_header(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(DataError, match="truncated header"):
        read_idx(path, IMAGES_MAGIC)


@pytest.mark.parametrize("gz", [False, True])
def test_header_disagrees_with_length(tmp_path, gz):
    data = idx_bytes(images(n=5)) + b"\x00" * 12  # one extra 3x4 image beyond the declared 5
    path = tmp_path / ("f.gz" if gz else "f")
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(DataError) as err:
        read_idx(path, IMAGES_MAGIC)
    assert str(err.value).startswith(f"{path}: size mismatch: header declares 5 x 3 x 4 = 60 bytes")


def test_absurd_item_count_is_refused_before_reading(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">III", 0xFFFFFFFF, 28, 28))
    with pytest.raises(DataError) as err:
        read_idx(path, IMAGES_MAGIC)
    assert str(err.value) == f"{path}: header declares 4294967295 items, more than the limit of {MAX_ITEMS}"


def test_absurd_dimensions_in_small_gzip_are_refused(tmp_path):
    # 1e6 images of 1000x1000 would be 1e12 bytes; the limit check fires, nothing is allocated.
    path = tmp_path / "f.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">III", 1_000_000, 1000, 1000)))
    with pytest.raises(DataError, match=f"^{path}: header declares 1000000 x 1000 x 1000 = 1000000000000 bytes"):
        read_idx(path, IMAGES_MAGIC)
    # Within the global limit but more than this small .gz can possibly decompress to:
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">III", 1000, 1000, 1000)))
    with pytest.raises(DataError, match="more than a compressed file of this size can hold"):
        read_idx(path, IMAGES_MAGIC)


def test_corrupt_gzip(tmp_path):
    good = gzip.compress(idx_bytes(images()))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(good[:12] + bytes(b ^ 0x5A for b in good[12:]))
    with pytest.raises(DataError) as err:
        read_idx(path, IMAGES_MAGIC)
    assert str(err.value).startswith(f"{path}: corrupt gzip data")


def test_cut_off_gzip_stream(tmp_path):
    good = gzip.compress(idx_bytes(images(n=50, rows=28, cols=28)))
    path = tmp_path / "f.gz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match=f"^{path}: (corrupt gzip data|truncated)"):
        read_idx(path, IMAGES_MAGIC)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="cannot open"):
        read_idx(tmp_path / "nope", IMAGES_MAGIC)


def write_mnist_folder(folder, labels_train=None, n_test=4):
    folder.mkdir(parents=True, exist_ok=True)
    y_train = np.arange(10, dtype=np.uint8) if labels_train is None else np.asarray(labels_train, np.uint8)
    write_idx(folder / f"{IDX_FILES['train', 'images']}.gz", images(n=len(y_train), rows=28, cols=28))
    write_idx(folder / f"{IDX_FILES['train', 'labels']}.gz", y_train)
    write_idx(folder / IDX_FILES["test", "images"], images(n=n_test, rows=28, cols=28, seed=1))
    write_idx(folder / IDX_FILES["test", "labels"], np.arange(n_test, dtype=np.uint8))


def test_folder_with_mixed_gz_and_plain_files(tmp_path):
    write_mnist_folder(tmp_path)
    files = find_idx_files(tmp_path)
    raw = read_idx_folder(files, tuple("0123456789"), "src")
    assert raw.x_train.shape == (10, 28, 28) and raw.x_test.shape == (4, 28, 28)
    np.testing.assert_array_equal(raw.x_train, images(n=10, rows=28, cols=28))
    assert raw.y_train.dtype == np.int64


def test_label_out_of_range_names_file_and_index(tmp_path):
    write_mnist_folder(tmp_path, labels_train=[0, 1, 2, 12, 4])
    with pytest.raises(DataError) as err:
        read_idx_folder(find_idx_files(tmp_path), tuple("0123456789"), "src")
    path = tmp_path / f"{IDX_FILES['train', 'labels']}.gz"
    assert str(err.value) == f"{path}: label 12 at index 3 is out of range, expected 0..9 (10 classes)"


def test_image_and_label_counts_must_agree(tmp_path):
    write_mnist_folder(tmp_path)
    write_idx(tmp_path / IDX_FILES["test", "labels"], np.arange(3, dtype=np.uint8))
    with pytest.raises(DataError, match=r"3 labels for 4 images; expected one label per example"):
        read_idx_folder(find_idx_files(tmp_path), tuple("0123456789"), "src")


def test_missing_files_are_listed(tmp_path):
    write_mnist_folder(tmp_path)
    (tmp_path / IDX_FILES["test", "labels"]).unlink()
    assert find_idx_files(tmp_path) == "missing t10k-labels-idx1-ubyte[.gz]"
    assert find_idx_files(tmp_path / "absent") == "no such folder"
