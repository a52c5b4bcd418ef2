"""activation_stats' quantiles from a strided subsample (the watch's max_samples) and the one-class shortcut."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vanishing.probes.activation_stats import QUANTILES, node_stats


def _numpy_stats(v: np.ndarray) -> np.ndarray:
    """(m, width) → (7, width): mean, sample std, numpy's linear quantiles — the independent reference."""
    return np.vstack([v.mean(0), v.std(0, ddof=1), np.quantile(v, QUANTILES, axis=0)])


def test_one_class_pooled_row_is_the_class_row_and_both_are_exact():
    gen = torch.Generator().manual_seed(0)
    values = torch.randn(300, 7, generator=gen, dtype=torch.float64)
    stats, counts = node_stats(values, torch.zeros(300, dtype=torch.long), 1)
    ref = _numpy_stats(values.float().double().numpy())
    np.testing.assert_allclose(stats[0].double().numpy(), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(stats[0].numpy(), stats[1].numpy())
    assert counts.tolist() == [300, 300]


@pytest.mark.parametrize("n_classes", [1, 3])
def test_quantiles_from_strided_samples_means_and_stds_from_all(n_classes):
    gen = torch.Generator().manual_seed(1)
    n, cap = 6000, 500
    values = torch.randn(n, 5, generator=gen) * torch.arange(1, 6)
    labels = torch.arange(n) % n_classes  # stratified: the batched path for n_classes = 3
    stats, _ = node_stats(values, labels, n_classes, max_samples=cap)
    v = values.numpy().astype(np.float64)
    groups = [v[labels.numpy() == c] for c in range(n_classes)] + [v]
    rows = list(range(n_classes)) + [n_classes]
    for row, g in zip(rows, groups):
        got = stats[row].double().numpy()
        np.testing.assert_allclose(got[:2], _numpy_stats(g)[:2], rtol=1e-4, atol=1e-5)  # mean, std: every sample
        if len(g) > cap:
            idx = np.round(np.linspace(0, len(g) - 1, cap)).astype(int)  # the documented strided choice
            np.testing.assert_allclose(got[2:], np.quantile(g[idx], QUANTILES, axis=0), rtol=1e-4, atol=1e-5)
            # and close to the exact quantiles: the q05 standard error on 500 samples is ≈ 0.095 σ; allow ~5 of them
            err = np.abs(got[2:] - np.quantile(g, QUANTILES, axis=0)) / g.std(0)
            assert err.max() < 0.5
        else:
            np.testing.assert_allclose(got[2:], np.quantile(g, QUANTILES, axis=0), rtol=1e-4, atol=1e-5)


def test_below_the_cap_nothing_changes():
    gen = torch.Generator().manual_seed(2)
    values, labels = torch.rand(400, 6, generator=gen), torch.randint(0, 4, (400,), generator=gen)
    exact, _ = node_stats(values, labels, 4)
    capped, _ = node_stats(values, labels, 4, max_samples=400)
    torch.testing.assert_close(capped, exact, equal_nan=True, rtol=0, atol=0)


def test_the_watch_caps_its_quantiles_and_run_specs_cannot():
    from vanishing.errors import ConfigError
    from vanishing.probes.spec import parse_probe
    from vanishing.watch.watcher import QUANTILE_SAMPLES

    assert QUANTILE_SAMPLES == 4096
    with pytest.raises(ConfigError):  # not in the spec grammar: run ids never depend on it
        parse_probe("activation_stats(max_samples=10)")
