"""Probes in real runs: no per-step host sync, kill/resume, divergence, config, store, CLI, MNIST sparsity."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import vanishing
from vanishing.cli import main
from vanishing.config import ExecConfig, ModelConfig, RunConfig, config_from_dict, config_hash, resolve, with_overrides
from vanishing.data import Dataset, load_dataset
from vanishing.errors import ConfigError
from vanishing.losses import make_loss
from vanishing.model import build_model
from vanishing.probes import PRESETS, ProbeCallback, Sparsity, at_init, canonical_probes, capture_probe_set, eval_mode, make_probe_set
from vanishing.runner import run
from vanishing.store.results import PROBE_COLUMNS
from vanishing.train import Callback, MemorySink, fit

SMALL = ["--dataset", "mnist-sample", "--train-subset", "600", "--hidden", "16,16", "--batch-size", "50", "--threads", "1"]


def blobs(n=160, dim=8, classes=4, seed=0) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, dim, generator=g) * 2
    y = torch.arange(n) % classes
    x = centers[y] + torch.randn(n, dim, generator=g)
    return Dataset("blobs", x, y, x[:40], y[:40], x[:40], y[:40], tuple("abcd"), True, "synthetic blobs")


def small_config(**overrides):
    base = {"model.hidden": [12, 12, 12], "train.epochs": 2, "train.batch_size": 20, "probes.enabled": ["none"]}
    base.update(overrides)
    return resolve(with_overrides(RunConfig(), base))


class InterruptAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, ctx, info):
        if info.step == self.step:
            raise KeyboardInterrupt


# --------------------------------------------------------------------------- no host sync per step

SYNCING = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__")


class SyncDetector:
    """Counts tensor → host conversions made while ``active`` (patched onto torch.Tensor)."""

    def __init__(self, monkeypatch):
        self.active = False
        self.calls: list[str] = []
        for name in SYNCING:
            self._wrap(monkeypatch, name)
        original_to = torch.Tensor.to

        def to(tensor, *args, **kwargs):
            target = [a for a in (*args, kwargs.get("device")) if isinstance(a, (str, torch.device))]
            if self.active and any(torch.device(t).type == "cpu" for t in target):
                self.calls.append("to(cpu)")
            return original_to(tensor, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, "to", to)

    def _wrap(self, monkeypatch, name):
        original = getattr(torch.Tensor, name)

        def wrapper(tensor, *args, **kwargs):
            if self.active:
                self.calls.append(name)
            return original(tensor, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, wrapper)

    def watch(self, obj, method):
        original = getattr(obj, method)

        def wrapped(*args, **kwargs):
            self.active = True
            try:
                return original(*args, **kwargs)
            finally:
                self.active = False

        setattr(obj, method, wrapped)


def test_no_probe_forces_a_host_sync_during_steps(monkeypatch):
    detector = SyncDetector(monkeypatch)
    every_step = ["full", "backprop_signal_batch(every=1)", "update_ratio(every=1)", "grad_norms(every=1)"]
    sink = MemorySink()
    cb = ProbeCallback(every_step, sink, per_class=5)
    for method in ("wants_intermediates", "on_after_backward", "on_step_end"):
        detector.watch(cb, method)
    out = fit(small_config(), blobs(), sink, callbacks=[cb])
    assert out.status == "done"
    assert len(sink.probes["backprop_signal_batch"]["step"]) == 16 * 3  # the per-step paths did run
    assert detector.calls == []
    # the detector does see a sync when there is one
    detector.active = True
    torch.ones(2).sum().item()
    bool(torch.ones(()) > 0)
    detector.active = False
    assert detector.calls == ["item", "__bool__"]


# --------------------------------------------------------------------------- kill / resume / divergence


def probe_frames(root):
    res = vanishing.load(root)
    return {name: frame.drop(columns=["run_id"]) for name, frame in res.probes.items()}


def test_probe_tables_survive_interrupt_and_resume(tmp_path):
    cfg = with_overrides(
        RunConfig(),
        {
            "data.dataset": "mnist-sample", "data.train_subset": 600, "model.hidden": [16, 16], "train.epochs": 3,
            "train.batch_size": 50, "probes.enabled": ["full"], "probes.probe_per_class": 10,
        },
    )
    steps = 11  # 540 training examples / 50
    reference = run(cfg, ExecConfig(results=str(tmp_path / "ref"), threads=1))
    assert reference.status == "done"
    ex = ExecConfig(results=str(tmp_path / "resumed"), threads=1)
    first = run(cfg, ex, callbacks=[InterruptAt(2 * steps + 5)])  # in the middle of epoch 3
    assert first.status == "interrupted"
    partial = probe_frames(tmp_path / "resumed")
    assert partial["grad_norms"]["step"].max() == 2 * steps  # finished epochs only
    second = run(cfg, ex)
    assert second.status == "done" and second.resumed_from_epoch == 2
    want, got = probe_frames(tmp_path / "ref"), probe_frames(tmp_path / "resumed")
    assert sorted(got) == sorted(want) and len(want) == len(PROBE_COLUMNS)
    for name in want:
        assert len(got[name]) > 0, name
        pd_equal(got[name], want[name], name)


def pd_equal(a, b, name):
    assert list(a.columns) == list(b.columns), name
    assert len(a) == len(b), name
    for col in a.columns:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if x.dtype.kind == "f":
            assert np.array_equal(x, y, equal_nan=True), (name, col)
        else:
            assert (x == y).all(), (name, col)


def test_diverged_run_keeps_the_steps_up_to_divergence():
    cfg = small_config(**{"optim.optimizer": "sgd", "optim.lr": 1e6, "train.epochs": 3})
    sink = MemorySink()
    out = fit(cfg, blobs(), sink, ExecConfig(divergence_check_every=3), callbacks=[ProbeCallback(["minimal"], sink)])
    assert out.status == "diverged"
    gn = sink.probes["grad_norms"]
    assert gn["step"].max() >= out.summary["diverged_step"]
    assert not np.isfinite(gn["weight_l2"][gn["step"] == gn["step"].max()]).all()


# --------------------------------------------------------------------------- config


def test_presets_are_ordered_by_cost_and_canonical():
    expanded = [canonical_probes([p]) for p in ("none", "minimal", "default", "full")]
    for small, big in zip(expanded, expanded[1:]):
        assert set(small) < set(big)
    base = resolve(RunConfig())
    assert base.probes.enabled == canonical_probes(PRESETS["default"])
    spelled = resolve(with_overrides(RunConfig(), {"probes.enabled": list(PRESETS["default"])}))
    assert config_hash(spelled) == config_hash(base)  # a preset and its expansion are the same run
    other = resolve(with_overrides(RunConfig(), {"probes.enabled": ["default", "activation_stats(epochs='all')"]}))
    assert config_hash(other) != config_hash(base)
    assert "activation_stats(bins=50, epochs='all', k=5)" in other.probes.enabled
    assert config_hash(resolve(with_overrides(RunConfig(), {"probes.probe_per_class": 50}))) != config_hash(base)
    from_toml = resolve(config_from_dict({"probes": {"enabled": ["minimal"], "probe_split": "test"}}))
    assert from_toml.probes.enabled == ("grad_norms(every=1, log=0)",) and from_toml.probes.probe_split == "test"


@pytest.mark.parametrize(
    "probes,message",
    [
        ({"enabled": ["grad_norm"]}, r"probes.enabled: unknown probe or preset 'grad_norm' \(probes: grad_norms"),
        ({"enabled": ["grad_norms(every=0)"]}, r"grad_norms\(every=...\) must be an integer >= 1"),
        ({"enabled": ["grad_norms(every=2.5)"]}, r"grad_norms\(every=...\) must be an integer"),
        ({"enabled": ["sparsity(epochs='sometimes')"]}, r"epochs token 'sometimes' is not valid"),
        ({"enabled": ["saturation(threshold=2)"]}, r"saturation\(threshold=...\) must lie in \(0, 1\)"),
        ({"enabled": ["sparsity(bins=3)"]}, r"sparsity has no parameter 'bins'"),
        ({"enabled": ["sparsity", "sparsity(k=3)"]}, r"probe 'sparsity' is given twice"),
        ({"enabled": ["grad_norms(every=__import__('os'))"]}, r"must be a number, string or boolean literal"),
        ({"enabled": "default"}, r"probes.enabled: expected a list"),
        ({"probe_per_class": 0}, r"probes.probe_per_class: expected a positive integer"),
        ({"probe_split": "holdout"}, r"probes.probe_split: expected one of train, val, test"),
    ],
)
def test_bad_probe_configs_name_the_field(probes, message):
    with pytest.raises(ConfigError, match=message) as info:
        resolve(config_from_dict({"probes": probes}))
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- store and CLI


def test_cli_run_with_probes_and_load(tmp_path, capsys):
    root = tmp_path / "res"
    assert main(["run", *SMALL, "--epochs", "2", "--probes", "full", "--probe-per-class", "10", "--results", str(root)]) == 0
    assert main(["run", *SMALL, "--epochs", "2", "--probes", "minimal,sparsity(epochs='init,last')", "--results", str(root)]) == 0
    assert main(["run", *SMALL, "--epochs", "1", "--probes", "none", "--results", str(root)]) == 0
    res = vanishing.load(root)
    assert len(res.runs) == 3 and set(res.runs["status"]) == {"done"}
    assert {"probes", "probe_per_class", "probe_split", "probe_seed"} <= set(res.runs.columns)
    assert sorted(res.probes) == sorted(PROBE_COLUMNS)
    for name, columns in PROBE_COLUMNS.items():
        frame = res.probe(name)
        assert list(frame.columns) == ["run_id", "seed", *columns], name
        assert len(frame) > 0, name
    gn = res.probe("grad_norms")
    assert gn.groupby("run_id").size().tolist() == [2 * 11 * 3] * 2  # two runs with grad_norms, every step, 3 layers
    assert set(gn["layer"]) == {"hidden1", "hidden2", "output"}
    sp = res.probe("sparsity")
    minimal_run = res.runs.loc[res.runs["probes"].str.startswith("grad_norms(every=1, log=0); sparsity"), "run_id"].item()
    assert sorted(set(sp.loc[sp["run_id"] == minimal_run, "epoch"])) == [0, 2]
    assert sp["sparsity"].between(0, 1).all() and sp["defined"].all()
    stats = res.probe("activation_stats")
    assert set(stats["class"]) == set(range(10)) | {-1} and (stats.loc[stats["class"] >= 0, "count"] == 10).all()
    none_run = res.runs.loc[res.runs["probes"] == "", "path"].item()
    assert not (tmp_path / none_run / "probes").exists()
    capsys.readouterr()
    assert main(["run", *SMALL, "--probes", "bogus", "--results", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "probes.enabled: unknown probe or preset 'bogus'" in err[0]
    assert not (tmp_path / "bad").exists()


# --------------------------------------------------------------------------- Pretorius Table 1


@pytest.mark.parametrize("dataset", ["mnist-sample", pytest.param("mnist", marks=pytest.mark.full_data)])
@pytest.mark.parametrize("width", [200, 800])
def test_untrained_he_relu_net_is_half_sparse(dataset, width):
    """Pretorius et al. Table 1: untrained ReLU nets have 48–50 % sparsity per layer on MNIST."""
    data = load_dataset(dataset, val_fraction=0.0)
    model = build_model(ModelConfig(hidden=(width,) * 4, activation="relu", init="he_normal", bias_init="zeros"), 784, 10, seed=0)
    ps = make_probe_set(data, "train", per_class=100, seed=0)
    assert len(ps) == 1000
    with eval_mode(model), torch.no_grad():
        view = capture_probe_set(model, ps.x, ps.y, make_loss("ce", "softmax", 10), 0, 10, need_deltas=False)
    table = Sparsity(at_init()).compute(view)["sparsity"]
    assert list(table["layer"]) == ["hidden1", "hidden2", "hidden3", "hidden4"]
    for value in table["sparsity"]:
        assert 0.45 <= value <= 0.55 and not math.isnan(value)


SPECS = st.sampled_from(
    [
        "grad_norms", "grad_norms(every=7)", "grad_norms(log=20)", "update_ratio(every=3)", "backprop_signal_batch",
        "activation_stats(bins=9, epochs='all')", "sparsity(epochs='init,last')", "dead_units(epochs='0,4', k=2)",
        "saturation(threshold=0.1)", "backprop_signal(epochs='log', k=3)", "jacobian_spectrum(examples=2)",
    ]
)


@settings(max_examples=60, deadline=None)
@given(presets=st.lists(st.sampled_from(sorted(PRESETS)), max_size=2), specs=st.lists(SPECS, max_size=4))
def test_probe_specs_resolve_to_one_canonical_form(presets, specs):
    names = [s.split("(")[0] for s in specs]
    if len(set(names)) != len(names):
        with pytest.raises(ConfigError, match="given twice"):
            canonical_probes([*presets, *specs])
        return
    canonical = canonical_probes([*presets, *specs])
    assert canonical_probes(canonical) == canonical  # idempotent
    assert canonical_probes([*specs, *presets]) == canonical  # explicit specs win wherever they stand
    assert len({c.split("(")[0] for c in canonical}) == len(canonical)
    for spec in specs:
        name = spec.split("(")[0]
        assert [c for c in canonical if c.startswith(name + "(")] == list(canonical_probes([spec]))


def test_python_api_with_probe_objects():
    from vanishing.probes import ActivationStats, GradNorms, at, every, log_spaced

    sink = MemorySink()
    cb = ProbeCallback([GradNorms(every(4)), Sparsity(at(0, 3)), ActivationStats(log_spaced(1, 3, 2) | at(0))], sink, per_class=6)
    fit(small_config(**{"train.epochs": 3}), blobs(), sink, callbacks=[cb])
    assert sorted(set(sink.probes["grad_norms"]["step"])) == [4, 8, 12, 16, 20, 24]
    assert sorted(set(sink.probes["sparsity"]["epoch"])) == [0, 3]
    assert sorted(set(sink.probes["activation_stats"]["epoch"])) == [0, 1, 3]
    assert cb.results.keys() == sink.probes.keys()
