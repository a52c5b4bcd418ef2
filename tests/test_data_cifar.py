"""CIFAR-10: canonical binary batches, image-folder trees and archives, the decoded cache.

Synthetic sources hold random pixels written losslessly (PNG, raw CHW
records), so loads must reproduce them exactly; the binary and the
image-folder versions of the same pictures must give identical feature rows.
"""

from __future__ import annotations

import io
import os
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vanishing.data import array_cache, cache_dir, imagefolder, load_arrays, load_dataset, locate
from vanishing.data.catalog import CIFAR10_CLASSES
from vanishing.data.imagefolder import order_classes
from vanishing.errors import DataError

N_TRAIN_PER_CLASS, N_TEST_PER_CLASS = 2, 1


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("VANISHING_DATA", str(tmp_path / "no-shared-data"))


def pictures(seed: int) -> dict[str, dict[str, list[np.ndarray]]]:
    """split -> class -> list of random 32x32x3 uint8 images."""
    rng = np.random.default_rng(seed)
    return {
        split: {cls: [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(n)] for cls in CIFAR10_CLASSES}
        for split, n in (("train", N_TRAIN_PER_CLASS), ("test", N_TEST_PER_CLASS))
    }


def expected_arrays(pics) -> dict[str, np.ndarray]:
    """Label-major, file-order arrays: what every loader must return."""
    out = {}
    for split, by_class in pics.items():
        out[f"x_{split}"] = np.stack([img for cls in CIFAR10_CLASSES for img in by_class[cls]])
        out[f"y_{split}"] = np.array([i for i, cls in enumerate(CIFAR10_CLASSES) for _ in by_class[cls]])
    return out


def png_bytes(img: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(img).save(buffer, format="PNG")
    return buffer.getvalue()


def write_tree(root: Path, pics) -> Path:
    for split, by_class in pics.items():
        for cls, imgs in by_class.items():
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            for i, img in enumerate(imgs):
                (root / split / cls / f"{i:04d}.png").write_bytes(png_bytes(img))
    return root


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_tree_tar(path: Path, pics, prefix: str = "cifar10/") -> Path:
    with tarfile.open(path, "w:gz" if path.name.endswith(".gz") else "w") as tar:
        for split, by_class in pics.items():
            for cls, imgs in reversed(list(by_class.items())):  # archive order must not matter
                for i, img in enumerate(imgs):
                    add_bytes(tar, f"{prefix}{split}/{cls}/{i:04d}.png", png_bytes(img))
    return path


def binary_batches(pics) -> dict[str, bytes]:
    """The canonical binary files for ``pics``: label byte + CHW pixels per record."""
    exp = expected_arrays(pics)

    def records(x, y):
        return b"".join(bytes([label]) + img.transpose(2, 0, 1).tobytes() for img, label in zip(x, y, strict=True))

    n = len(exp["x_train"])
    bounds = np.linspace(0, n, 6).astype(int)
    files = {
        f"data_batch_{i + 1}.bin": records(exp["x_train"][a:b], exp["y_train"][a:b])
        for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))
    }
    files["test_batch.bin"] = records(exp["x_test"], exp["y_test"])
    files["batches.meta.txt"] = ("\n".join(CIFAR10_CLASSES) + "\n\n").encode()
    return files


def assert_matches(raw, pics):
    exp = expected_arrays(pics)
    for key, value in exp.items():
        np.testing.assert_array_equal(getattr(raw, key), value, err_msg=key)
    assert raw.classes == CIFAR10_CLASSES


def test_image_folder_tree_exact_pixels(tmp_path):
    pics = pictures(0)
    write_tree(tmp_path / "tree", pics)
    assert_matches(load_arrays("cifar10", data_dir=tmp_path / "tree", download=False), pics)
    ds = load_dataset("cifar10", data_dir=tmp_path / "tree", val_fraction=0, download=False)
    assert ds.x_train.shape == (20, 3072)
    first = pics["train"]["airplane"][0]
    np.testing.assert_array_equal(ds.x_train[0].numpy(), first.reshape(-1) / np.float32(255))  # H, W, C order
    assert ds.x_train[0, 1].item() == first[0, 0, 1] / np.float32(255)  # second feature: green of pixel (0, 0)


def test_canonical_binary_folder_matches_image_folder(tmp_path):
    pics = pictures(1)
    folder = tmp_path / "data" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for name, data in binary_batches(pics).items():
        (folder / name).write_bytes(data)
    binary = load_arrays("cifar10", data_dir=tmp_path / "data", download=False)
    assert "CIFAR-10 binary batches" in binary.source
    assert_matches(binary, pics)
    tree = load_arrays("cifar10", data_dir=write_tree(tmp_path / "tree", pics), download=False)
    np.testing.assert_array_equal(binary.x_train.reshape(20, -1), tree.x_train.reshape(20, -1))


def test_canonical_binary_archive(tmp_path):
    pics = pictures(2)
    folder = tmp_path / "data"
    folder.mkdir()
    with tarfile.open(folder / "cifar-10-binary.tar.gz", "w:gz") as tar:
        for name, data in binary_batches(pics).items():
            add_bytes(tar, f"cifar-10-batches-bin/{name}", data)
        add_bytes(tar, "cifar-10-batches-bin/readme.html", b"<html></html>")
    assert locate("cifar10", data_dir=folder) == folder / "cifar-10-binary.tar.gz"
    assert_matches(load_arrays("cifar10", data_dir=folder, download=False), pics)


def test_image_archive_and_decoded_cache(tmp_path, monkeypatch):
    pics = pictures(3)
    folder = tmp_path / "data"
    folder.mkdir()
    archive = write_tree_tar(folder / "my-cifar.tar.gz", pics)
    first = load_arrays("cifar10", data_dir=folder, download=False)
    assert_matches(first, pics)
    entry = array_cache.entry_dir("cifar10", array_cache.fingerprint(archive))
    assert sorted(p.name for p in entry.iterdir()) == ["meta.json", "x_test.npy", "x_train.npy", "y_test.npy",
                                                       "y_train.npy"]
    assert not [p for p in entry.parent.iterdir() if p.name.startswith(".")]  # no temp folders left

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr(imagefolder, "decode_image", no_decoding)
    second = load_arrays("cifar10", data_dir=folder, download=False)
    assert_matches(second, pics)
    assert f"decoded arrays from {entry}" in second.source

    # A changed source gets a new key: the stale entry is not used.
    stat = archive.stat()
    os.utime(archive, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with pytest.raises(AssertionError, match="decoded again"):
        load_arrays("cifar10", data_dir=folder, download=False)


def test_image_tree_inside_the_user_cache_is_decoded_once(tmp_path, monkeypatch):
    pics = pictures(11)
    tree = write_tree(cache_dir("cifar10"), pics)
    assert locate("cifar10") == tree
    assert_matches(load_arrays("cifar10", download=False), pics)  # writes decoded/ inside the same folder
    monkeypatch.setattr(imagefolder, "decode_image", lambda *a, **k: pytest.fail("decoded twice"))
    again = load_arrays("cifar10", download=False)
    assert_matches(again, pics)
    assert "user cache" in again.source and "decoded arrays from" in again.source


def test_archive_with_parent_path_member_is_refused(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    pics = pictures(4)
    with tarfile.open(write_tree_tar(folder / "a.tar", pics, prefix=""), "a") as tar:
        add_bytes(tar, "../evil.png", png_bytes(pics["train"]["cat"][0]))
    with pytest.raises(DataError) as err:
        load_arrays("cifar10", data_dir=folder, download=False)
    assert str(err.value) == f"{folder / 'a.tar'}: refusing member '../evil.png': path leaves the archive ('..')"
    assert not (tmp_path / "evil.png").exists() and not (folder.parent / "evil.png").exists()


def test_archive_with_absolute_member_is_refused(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    with tarfile.open(write_tree_tar(folder / "a.tar", pictures(5), prefix=""), "a") as tar:
        add_bytes(tar, "/tmp/train/cat/abs.png", b"x")
    with pytest.raises(DataError, match="refusing member '/tmp/train/cat/abs.png': absolute path"):
        load_arrays("cifar10", data_dir=folder, download=False)


def test_links_and_special_members_are_skipped(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    pics = pictures(6)
    secret = tmp_path / "secret.png"
    secret.write_bytes(png_bytes(np.zeros((32, 32, 3), np.uint8)))
    with tarfile.open(write_tree_tar(folder / "a.tar", pics, prefix=""), "a") as tar:
        for kind, name in ((tarfile.SYMTYPE, "train/cat/link.png"), (tarfile.LNKTYPE, "train/dog/hard.png"),
                           (tarfile.CHRTYPE, "train/cat/dev.png"), (tarfile.FIFOTYPE, "test/cat/fifo.png")):
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = str(secret)
            tar.addfile(info)
    raw = load_arrays("cifar10", data_dir=folder, download=False)
    assert_matches(raw, pics)  # same 20 + 10 images: the links were not followed
    assert sorted(p.name for p in folder.iterdir()) == ["a.tar"]


def test_grey_and_jpeg_images_become_rgb(tmp_path):
    pics = pictures(7)
    tree = write_tree(tmp_path / "tree", pics)
    grey = np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8)
    Image.fromarray(grey, mode="L").save(tree / "train" / "cat" / "9000.png")
    jpeg = tree / "train" / "dog" / "9000.jpg"
    Image.fromarray(pics["train"]["dog"][0]).save(jpeg, quality=95)
    raw = load_arrays("cifar10", data_dir=tree, download=False)
    cat = CIFAR10_CLASSES.index("cat")
    last_cat = np.flatnonzero(raw.y_train == cat)[-1]
    np.testing.assert_array_equal(raw.x_train[last_cat], np.repeat(grey[:, :, None], 3, axis=2))
    last_dog = np.flatnonzero(raw.y_train == CIFAR10_CLASSES.index("dog"))[-1]
    with Image.open(jpeg) as reference:
        np.testing.assert_array_equal(raw.x_train[last_dog], np.asarray(reference.convert("RGB")))


def test_corrupt_and_mismatched_images_are_named(tmp_path):
    tree = write_tree(tmp_path / "tree", pictures(8))
    bad = tree / "test" / "ship" / "0000.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(DataError, match=r"test/ship/0000.png: cannot decode image"):
        load_arrays("cifar10", data_dir=tree, download=False)
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(bad)
    with pytest.raises(DataError, match=r"test/ship/0000.png: image is 16x16, expected 32x32 like the others"):
        load_arrays("cifar10", data_dir=tree, download=False)


def test_broken_binary_batch_is_named(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    for name, data in binary_batches(pictures(9)).items():
        (folder / name).write_bytes(data)
    (folder / "data_batch_3.bin").write_bytes((folder / "data_batch_3.bin").read_bytes()[:-1])
    with pytest.raises(DataError) as err:
        load_arrays("cifar10", data_dir=tmp_path, download=False)
    assert str(err.value).startswith(f"{folder / 'data_batch_3.bin'}: 12,291 bytes is not a whole number "
                                     "of 3,073-byte CIFAR-10 records")


def test_test_class_without_train_folder(tmp_path):
    tree = write_tree(tmp_path / "tree", pictures(10))
    (tree / "test" / "unicorn").mkdir()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tree / "test" / "unicorn" / "0.png")
    with pytest.raises(DataError, match="test class 'unicorn' has no train/unicorn/ folder"):
        load_arrays("cifar10", data_dir=tree, download=False)


def test_class_order():
    assert order_classes(set(CIFAR10_CLASSES), CIFAR10_CLASSES) == CIFAR10_CLASSES
    assert order_classes({"b", "a"}, ("b", "a")) == ("b", "a")
    assert order_classes({"zebra", "ant", "cat"}, CIFAR10_CLASSES) == ("ant", "cat", "zebra")


def test_two_archives_are_ambiguous(tmp_path):
    (tmp_path / "a.tar.gz").write_bytes(b"")
    (tmp_path / "b.tgz").write_bytes(b"")
    with pytest.raises(DataError, match=r"2 archives \(a.tar.gz, b.tgz\), expected one"):
        load_arrays("cifar10", data_dir=tmp_path, download=False)


@pytest.mark.full_data
def test_full_cifar10_from_the_shared_jpeg_archive(shared_data, monkeypatch, tmp_path):
    monkeypatch.setenv("VANISHING_DATA", str(shared_data))
    start = time.perf_counter()
    ds = load_dataset("cifar10", val_fraction=0)
    first = time.perf_counter() - start
    assert ds.x_train.shape == (50_000, 3072) and ds.x_test.shape == (10_000, 3072)
    assert ds.classes == CIFAR10_CLASSES and ds.n_classes == 10
    assert np.bincount(ds.y_train.numpy()).tolist() == [5000] * 10
    assert np.bincount(ds.y_test.numpy()).tolist() == [1000] * 10
    with tarfile.open(shared_data / "cifar10" / "cifar10-jpeg.tar.gz") as tar:
        data = tar.extractfile("train/airplane/0000.jpg").read()
    reference = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    np.testing.assert_array_equal(ds.x_train[0].numpy(), reference.reshape(-1) / np.float32(255))

    import vanishing.data.imagefolder as imagefolder

    def no_decoding(*args, **kwargs):
        raise AssertionError("the second load decoded a JPEG instead of reading the decoded-array cache")

    monkeypatch.setattr(imagefolder, "decode_image", no_decoding)
    monkeypatch.setattr(imagefolder.Image, "open", no_decoding)
    start = time.perf_counter()
    again = load_arrays("cifar10")
    second = time.perf_counter() - start
    assert "decoded arrays from" in again.source
    np.testing.assert_array_equal(again.x_train[0].reshape(-1), reference.reshape(-1))
    print(f"CIFAR-10: first load_dataset (decode) {first:.1f} s, second load_arrays (cache) {second:.2f} s")
