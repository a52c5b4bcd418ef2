"""Optional TensorBoard logging: events read back with TensorBoard's own EventAccumulator (skipped without tensorboard)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import vanishing
from vanishing.cli import main
from vanishing.config import ExecConfig, RunConfig, resolve, with_overrides
from vanishing.data import Dataset
from vanishing.runner import run
from vanishing.watch.tensorboard import TensorBoardCallback, TensorBoardUnavailable, open_writer


def read_events(folder):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return acc


def test_watch_logs_the_same_numbers_as_its_tables(tmp_path):
    pytest.importorskip("tensorboard")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Sigmoid(), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(4 * 36, 3))
    x, y = torch.randn(24, 1, 6, 6), torch.arange(24) % 3
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with vanishing.watch(model, (x, y), F.cross_entropy, every=5, tensorboard=tmp_path / "tb") as w:
        for _ in range(12):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    acc = read_events(tmp_path / "tb")
    tables = w.tables()
    tags = acc.Tags()
    assert {"activation/0", "activation/2", "delta_norm/0", "delta_norm/2"} <= set(tags["histograms"])
    assert "saturation/0" in tags["scalars"] and "saturation/2" not in tags["scalars"]  # undefined for ReLU
    assert "sparsity/2" in tags["scalars"] and "sparsity/0" not in tags["scalars"]
    bp = tables["backprop_signal"]
    for layer in ("0", "2"):
        events = acc.Scalars(f"delta_rms/{layer}")
        want = bp[bp["layer"] == layer]
        assert [e.step for e in events] == list(want["epoch"]) == [0, 5, 10, 12]
        assert [e.value for e in events] == pytest.approx(list(want["rms"]), rel=1e-6)
    gn = tables["grad_norms"]
    for layer in w.layers:
        events = acc.Scalars(f"grad_norm/{layer}/weight_l2")
        want = gn[gn["layer"] == layer]
        assert [e.step for e in events] == list(range(1, 13))
        assert [e.value for e in events] == pytest.approx(list(want["weight_l2"]), rel=1e-6)
    hist = acc.Histograms("activation/0")
    assert [h.step for h in hist] == [0, 5, 10, 12] and hist[0].histogram_value.num == 24 * 4 * 36


def blobs_dataset() -> Dataset:
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(4, 8, generator=g) * 2
    y = torch.arange(160) % 4
    x = centers[y] + torch.randn(160, 8, generator=g)
    return Dataset("blobs", x, y, x[:40], y[:40], x[:40], y[:40], tuple("abcd"), True, "synthetic blobs")


def test_training_engine_callback(tmp_path):
    pytest.importorskip("tensorboard")
    cfg = resolve(with_overrides(RunConfig(), {"model.hidden": [12, 12, 12], "model.activation": "tanh", "train.epochs": 2,
                                               "train.batch_size": 20, "probes.enabled": ["default"], "probes.probe_per_class": 5}))
    result = run(cfg, ExecConfig(results=str(tmp_path / "res"), threads=1), data=blobs_dataset(),
                 callbacks=[TensorBoardCallback(tmp_path / "tb", per_class=5)])
    assert result.status == "done"
    acc = read_events(tmp_path / "tb" / result.run_id)
    stored = vanishing.load(tmp_path / "res").probe("backprop_signal")
    for layer in ("hidden1", "hidden2", "hidden3"):
        events = acc.Scalars(f"delta_rms/{layer}")
        assert [e.step for e in events] == [0, 8, 16]  # after 0, 1, 2 epochs of 8 steps
        want = stored[stored["layer"] == layer]["rms"].to_numpy()  # the run's own probe set: same draw
        assert np.allclose([e.value for e in events], want, rtol=1e-6)
        assert f"saturation/{layer}" in acc.Tags()["scalars"] and f"activation/{layer}" in acc.Tags()["histograms"]
    assert [e.step for e in acc.Scalars("grad_norm/output/weight_l2")] == list(range(1, 17))
    assert [e.step for e in acc.Scalars("metrics/train_loss")] == [8, 16]
    # the callback writes nothing to the store: the run's own probes alone are there, once
    assert len(vanishing.load(tmp_path / "res").probe("grad_norms")) == 16 * 4


def test_cli_flag(tmp_path):
    pytest.importorskip("tensorboard")
    code = main(["run", "--dataset", "mnist-sample", "--train-subset", "200", "--hidden", "8,8", "--epochs", "1",
                 "--batch-size", "50", "--probes", "none", "--threads", "1", "--no-progress",
                 "--results", str(tmp_path / "res"), "--tensorboard", str(tmp_path / "tb")])
    assert code == 0
    (run_dir,) = list((tmp_path / "tb").iterdir())
    acc = read_events(run_dir)
    assert "delta_rms/hidden1" in acc.Tags()["scalars"]


def test_missing_tensorboard_gives_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as without the package
    with pytest.raises(TensorBoardUnavailable, match=r"vanishing\[tensorboard\]"):
        open_writer(tmp_path)
    with pytest.raises(TensorBoardUnavailable):
        TensorBoardCallback(tmp_path)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    with pytest.raises(TensorBoardUnavailable):
        vanishing.watch(model, (torch.randn(4, 3), torch.arange(4) % 2), F.cross_entropy, tensorboard=tmp_path)
