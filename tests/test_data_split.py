"""Subsets, validation splits, scaling and standardisation in ``load_dataset``.

The data are an npz whose first feature is each training example's row
number, so a test can tell exactly which original examples ended up in which
split. Expected values are computed here with numpy in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vanishing.data import load_dataset
from vanishing.data.split import allocate, validation_split
from vanishing.errors import ConfigError

# Imbalanced classes: 100, 60, 30 and 10 examples.
COUNTS = (100, 60, 30, 10)


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
    rng = np.random.default_rng(7)
    y_train = rng.permutation(np.repeat(np.arange(len(COUNTS)), COUNTS))
    n = len(y_train)
    x_train = np.column_stack([
        np.arange(n, dtype=np.float64),  # row id
        rng.normal(3.0, 2.0, n),
        np.full(n, 5.0),  # constant feature
        rng.integers(0, 256, n).astype(np.float64),
    ])
    x_test = np.column_stack([np.arange(40.0), rng.normal(0, 1, 40), np.full(40, 9.0), rng.integers(0, 256, 40)])
    y_test = np.arange(40) % len(COUNTS)
    path = tmp_path_factory.mktemp("npz") / "arrays.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return {"name": f"npz:{path}", "x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def ids(x: torch.Tensor) -> np.ndarray:
    return x[:, 0].numpy().astype(np.int64)


def test_validation_split_is_stratified_disjoint_and_complete(npz):
    ds = load_dataset(npz["name"], val_fraction=0.2, split_seed=3, pixel_divisor=1)
    train, val = ids(ds.x_train), ids(ds.x_val)
    assert len(val) == round(0.2 * sum(COUNTS)) and not ds.val_is_test
    assert not set(train) & set(val)
    assert sorted(np.concatenate([train, val])) == list(range(sum(COUNTS)))
    np.testing.assert_array_equal(ds.y_val.numpy(), npz["y_train"][val])  # labels travel with their rows
    np.testing.assert_array_equal(ds.y_train.numpy(), npz["y_train"][train])
    val_counts = np.bincount(ds.y_val.numpy(), minlength=len(COUNTS))
    assert np.all(np.abs(val_counts - 0.2 * np.array(COUNTS)) <= 1)
    np.testing.assert_array_equal(ds.x_test.numpy(), npz["x_test"].astype(np.float32))


def test_same_arguments_give_identical_tensors_and_seed_matters(npz):
    a = load_dataset(npz["name"], val_fraction=0.25, split_seed=1, pixel_divisor=1)
    b = load_dataset(npz["name"], val_fraction=0.25, split_seed=1, pixel_divisor=1)
    c = load_dataset(npz["name"], val_fraction=0.25, split_seed=2, pixel_divisor=1)
    for key in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        assert torch.equal(getattr(a, key), getattr(b, key))
    assert set(ids(a.x_val)) != set(ids(c.x_val))


def test_val_fraction_zero_means_the_test_set(npz):
    ds = load_dataset(npz["name"], val_fraction=0)
    assert ds.val_is_test and ds.x_val is ds.x_test and ds.y_val is ds.y_test
    assert len(ds.x_train) == sum(COUNTS)
    moved = ds.to("cpu")
    assert moved.x_val is moved.x_test and moved.val_is_test


def test_train_subset_is_stratified_and_taken_before_the_split(npz):
    ds = load_dataset(npz["name"], train_subset=100, val_fraction=0.1, split_seed=5, pixel_divisor=1)
    kept = np.concatenate([ids(ds.x_train), ids(ds.x_val)])
    assert len(kept) == 100 and len(set(kept)) == 100 and len(ds.x_val) == 10
    counts = np.bincount(npz["y_train"][kept], minlength=len(COUNTS))
    np.testing.assert_array_equal(counts, [50, 30, 15, 5])  # exactly proportional here
    again = load_dataset(npz["name"], train_subset=100, val_fraction=0.1, split_seed=5, pixel_divisor=1)
    assert torch.equal(ds.x_train, again.x_train)


def test_pixel_divisor_scales_inputs(npz):
    ds = load_dataset(npz["name"], val_fraction=0, pixel_divisor=4.0)
    np.testing.assert_allclose(ds.x_train.numpy(), (npz["x_train"] / 4.0).astype(np.float32), rtol=1e-6)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64


def test_standardize_uses_training_statistics_only(npz):
    ds = load_dataset(npz["name"], val_fraction=0.2, split_seed=0, standardize=True, pixel_divisor=1)
    raw = load_dataset(npz["name"], val_fraction=0.2, split_seed=0, pixel_divisor=1)
    x_train = raw.x_train.numpy().astype(np.float64)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    assert std[2] == 0  # the constant feature
    safe = np.where(std > 0, std, 1.0)
    for split in ("x_train", "x_val", "x_test"):
        expected = (getattr(raw, split).numpy().astype(np.float64) - mean) / safe
        expected[:, std == 0] = 0.0
        np.testing.assert_allclose(getattr(ds, split).numpy(), expected, rtol=1e-5, atol=1e-5)
    z = ds.x_train.numpy().astype(np.float64)
    np.testing.assert_allclose(z[:, [0, 1, 3]].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(z[:, [0, 1, 3]].std(axis=0), 1, atol=1e-5)
    # The test set's own statistics were not used: its constant column (9.0) maps to 0 because
    # the training column is constant, and its row ids are not centred on their own mean.
    assert abs(float(ds.x_test[:, 0].mean())) > 0.5
    assert torch.all(ds.x_test[:, 2] == 0)


def test_bad_arguments_are_config_errors(npz):
    with pytest.raises(ConfigError, match=r"data.val_fraction: expected a number in \[0, 1\), got 1.0"):
        load_dataset(npz["name"], val_fraction=1.0)
    with pytest.raises(ConfigError, match="data.train_subset: 1,000 exceeds the 200 training examples"):
        load_dataset(npz["name"], train_subset=1000)
    with pytest.raises(ConfigError, match="data.pixel_divisor"):
        load_dataset(npz["name"], pixel_divisor=0)
    with pytest.raises(ConfigError, match="gives 0 validation examples"):
        load_dataset(npz["name"], val_fraction=0.001)


def test_sample_split_sizes_and_determinism():
    a = load_dataset("mnist-sample")
    b = load_dataset("mnist-sample")
    assert (len(a.x_train), len(a.x_val), len(a.x_test)) == (9_000, 1_000, 2_000)
    assert np.bincount(a.y_val.numpy()).tolist() == [100] * 10
    assert torch.equal(a.x_val, b.x_val) and torch.equal(a.x_train, b.x_train)


@settings(max_examples=200, deadline=None)
@given(counts=st.lists(st.integers(0, 50), min_size=1, max_size=12), data=st.data())
def test_allocation_is_exact_and_within_one_of_proportional(counts, data):
    total = sum(counts)
    k = data.draw(st.integers(0, total))
    shares = allocate(np.array(counts), k)
    assert shares.sum() == k
    assert np.all(shares <= np.array(counts)) and np.all(shares >= 0)
    if total:
        assert np.all(np.abs(shares - k * np.array(counts) / total) < 1)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), fraction=st.floats(0.05, 0.9))
def test_validation_split_partitions_the_indices(seed, fraction):
    labels = np.repeat(np.arange(4), COUNTS)
    train, val = validation_split(labels, fraction, seed)
    assert len(val) == round(fraction * len(labels))
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(len(labels)))
    again_train, again_val = validation_split(labels, fraction, seed)
    np.testing.assert_array_equal(val, again_val)
