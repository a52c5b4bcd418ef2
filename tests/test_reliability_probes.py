"""Reliability, probe invariants (hypothesis): what every probe table must satisfy on any network and data.

Random MLPs (depth, widths, every activation, batch norm before/after the
activation, residual) on random class-labelled inputs. Units as documented
in ``vanishing.store.results`` and ``docs/probes.md``: sparsity, dead-unit
fraction and saturation are *fractions* in [0, 1] (Pretorius's Table 1
percentage / 100), NaN exactly where ``defined`` is False; every norm is
≥ 0; quantiles are ordered; histogram counts add up to examples × width;
singular values are ≥ 0 and descending. Per-class statistics, sparsity,
dead units, saturation, histograms and per-example δ statistics do not
depend on the order of the probe set (a permutation of its rows).

tests/test_probes.py::test_node_statistics_invariants checks the same kind
of invariants on the pure node-statistics function; here they are checked on
whole probe tables, from a network's probe-set capture and from training.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vanishing import activations
from vanishing.config import RunConfig, resolve, with_overrides
from vanishing.data import Dataset
from vanishing.losses import make_loss
from vanishing.model import build_model
from vanishing.probes import build_probes, capture_probe_set, eval_mode
from vanishing.train import ExecConfig, MemorySink, fit

EXAMPLES_SNAPSHOT = 150
EXAMPLES_TRAINED = 40
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
SNAPSHOT_SPECS = ["activation_stats(epochs='init', bins=7)", "sparsity(epochs='init')", "dead_units(epochs='init')",
                  "saturation(epochs='init')", "backprop_signal(epochs='init')", "jacobian_spectrum(examples=3)"]
ORDER_FREE = ("activation_stats", "activation_hist", "sparsity", "dead_units", "saturation", "backprop_signal")
ACTS = [a for a in activations.NAMES if a != "linear"]


@st.composite
def networks(draw):
    depth = draw(st.integers(1, 3))
    width = draw(st.integers(1, 6))
    residual = depth > 1 and draw(st.booleans())
    hidden = [width] * depth if residual else draw(st.lists(st.integers(1, 6), min_size=depth, max_size=depth))
    overrides = {
        "data.dataset": "mnist-sample", "model.hidden": hidden, "model.activation": draw(st.sampled_from(ACTS)),
        "model.batch_norm": draw(st.sampled_from(["off", "before", "after"])), "model.residual": residual,
        "model.bias_init": draw(st.sampled_from(["zeros", "normal(std=1.0)", "constant(value=-2.0)"])),
        "seed": draw(st.integers(0, 1000)),
    }
    return resolve(with_overrides(RunConfig(), overrides))


@st.composite
def probe_data(draw):
    k = draw(st.integers(2, 4))
    d = draw(st.integers(2, 8))
    counts = draw(st.lists(st.integers(1, 6), min_size=k, max_size=k))
    seed = draw(st.integers(0, 2**31))
    scale = draw(st.sampled_from([0.01, 1.0, 30.0]))  # near zero, usual, saturating
    g = torch.Generator().manual_seed(seed)
    y = torch.cat([torch.full((c,), i) for i, c in enumerate(counts)])
    x = torch.randn(len(y), d, generator=g) * scale
    return x, y, k


def snapshot_tables(config, x, y, k, perm=None):
    model = build_model(config.model, x.shape[1], k, config.seed)
    loss = make_loss(config.optim.loss, config.model.output, k)
    if perm is not None:
        x, y = x[perm], y[perm]
    tables = {}
    with eval_mode(model):
        view = capture_probe_set(model, x, y, loss, 0, k, need_deltas=True)
        for probe in build_probes(SNAPSHOT_SPECS, 1, 1):
            tables.update(probe.compute(view))
    return tables, [int(w) for w in config.model.hidden]


def check_invariants(tables: dict, widths: list[int], n: int, class_counts: list[int] | None) -> None:
    for name in ("sparsity", "dead_units", "saturation"):
        t = tables[name]
        value = t[{"sparsity": "sparsity", "dead_units": "fraction", "saturation": "saturation"}[name]]
        defined = t["defined"]
        assert np.all((value[defined] >= 0) & (value[defined] <= 1)), (name, value)
        assert np.all(np.isnan(value[~defined])), (name, value)
    sp, du = tables["sparsity"], tables["dead_units"]
    assert sp["width"].tolist() == widths == du["width"].tolist() and set(sp["n_samples"]) <= {n}
    ok = du["defined"]
    assert np.all(du["dead"][ok] == np.round(du["dead"][ok])) and np.all(du["dead"][ok] <= du["width"][ok])
    assert np.all(sp["sparsity"][ok] >= du["fraction"][ok] - 1e-12)  # a dead node is inactive on every example

    st_ = tables["activation_stats"]
    q = np.stack([st_[c] for c in ("q05", "q25", "median", "q75", "q95")])
    finite = np.isfinite(q).all(0)
    assert np.all(np.diff(q[:, finite], axis=0) >= -1e-5)
    assert np.all(st_["std"][np.isfinite(st_["std"])] >= 0)
    assert np.all(np.isnan(st_["std"][st_["count"] == 1]))  # sample std of one value
    if class_counts is not None:
        for c, count in enumerate(class_counts):
            assert set(st_["count"][st_["class"] == c]) == {count}
        assert set(st_["count"][st_["class"] == -1]) == {n}
    hist = tables["activation_hist"]
    for layer, width in zip(sorted(set(hist["layer"]), key=lambda s: int(s.replace("hidden", ""))), widths):
        rows = hist["layer"] == layer
        assert hist["count"][rows].sum() == n * width and np.all(hist["count"][rows] >= 0)
        assert np.all(hist["lo"][rows] <= hist["hi"][rows])

    bs = tables["backprop_signal"]
    for col in ("rms", "mean_norm", "median_norm", "rms_node"):
        values = bs[col]
        assert np.all(values[np.isfinite(values)] >= 0), col
    js = tables["jacobian_spectrum"]
    for example in set(js["example"]):
        sv = js["singular_value"][js["example"] == example]
        assert np.all(sv >= 0) and np.all(np.diff(sv) <= 1e-6 * max(1.0, float(sv.max())))


@settings(max_examples=EXAMPLES_SNAPSHOT, **SETTINGS)
@given(config=networks(), data=probe_data(), perm_seed=st.integers(0, 2**31))
def test_snapshot_probe_tables_hold_their_invariants_and_ignore_the_probe_set_order(config, data, perm_seed):
    x, y, k = data
    tables, widths = snapshot_tables(config, x, y, k)
    check_invariants(tables, widths, len(y), torch.bincount(y, minlength=k).tolist())
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(perm_seed))
    shuffled, _ = snapshot_tables(config, x, y, k, perm)
    for name in ORDER_FREE:
        for col, values in tables[name].items():
            other = shuffled[name][col]
            if values.dtype.kind in "fc":
                np.testing.assert_allclose(other, values, rtol=2e-5, atol=1e-6, equal_nan=True, err_msg=f"{name}.{col}")
            else:
                np.testing.assert_array_equal(other, values, err_msg=f"{name}.{col}")


def tiny_dataset(seed: int, k: int, d: int, n: int) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(k, d, generator=g) * 2

    def draw(m):
        y = torch.arange(m) % k
        return centers[y] + torch.randn(m, d, generator=g), y

    (xtr, ytr), (xva, yva), (xte, yte) = draw(n), draw(20), draw(20)
    return Dataset("tiny", xtr, ytr, xva, yva, xte, yte, tuple(str(i) for i in range(k)), False, "synthetic")


@settings(max_examples=EXAMPLES_TRAINED, **SETTINGS)
@given(config=networks(), seed=st.integers(0, 10_000), k=st.integers(2, 4), lr=st.sampled_from([1e-3, 1e-1, 10.0]))
def test_probe_tables_of_a_training_run_hold_their_invariants(config, seed, k, lr):
    config = resolve(with_overrides(config, {
        "train.epochs": 2, "train.batch_size": 16, "optim.optimizer": "sgd", "optim.lr": lr,
        "probes.enabled": ["full", "backprop_signal_batch(every=2)", "update_ratio(every=3)"], "probes.probe_per_class": 3}))
    sink = MemorySink()
    from vanishing.probes import probe_callback

    out = fit(config, tiny_dataset(seed, k, 6, 48), sink, ExecConfig(device="cpu"), callbacks=[probe_callback(config, sink)])
    tables = sink.probes
    for name, cols in (("grad_norms", ("weight_l2", "weight_mean_abs", "bias_l2", "bias_mean_abs")),
                       ("update_ratio", ("update_norm", "weight_norm", "ratio")),
                       ("backprop_signal_batch", ("delta_rms", "delta_mean_norm"))):
        for col in cols:
            values = tables[name][col]
            assert np.all(values[np.isfinite(values)] >= 0), (name, col)
        steps = tables[name]["step"]
        assert len(steps) and steps.min() >= 1 and steps.max() <= out.summary["epochs_done"] * out.summary["steps_per_epoch"] + (
            out.summary["steps_per_epoch"] if out.status == "diverged" else 0)
    snapshot = {name: {c: v[tables[name]["epoch"] == 0] for c, v in tables[name].items()}
                for name in ("activation_stats", "activation_hist", "sparsity", "dead_units", "saturation",
                             "backprop_signal", "jacobian_spectrum")}
    check_invariants(snapshot, list(config.model.hidden), 3 * k, [3] * k)
    assert math.isfinite(out.history[0]["train_loss"]) if out.status == "done" else out.status == "diverged"
