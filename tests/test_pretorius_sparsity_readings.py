"""The Pretorius sparsity-reading ablation against brute force: hand-computed layers, counting loops, the run's probes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from vanishing.config import ExecConfig, RunConfig, resolve, with_overrides
from vanishing.model import MLP
from vanishing.runner import run
from vanishing.store import load
from vanishing.studies.pretorius import sparsity_readings as R


def _net(batch_norm="before", seed=0):
    torch.manual_seed(seed)
    net = MLP(6, [5, 4], 3, activation="relu", batch_norm=batch_norm)
    if net.hidden1.norm is not None:  # non-trivial running statistics and affine parameters
        for layer in net.hidden_layers:
            layer.norm.running_mean.uniform_(-0.5, 0.5)
            layer.norm.running_var.uniform_(0.5, 2.0)
            layer.norm.weight.data.uniform_(0.5, 1.5)
            layer.norm.bias.data.uniform_(-0.3, 0.3)
    return net.double().eval()


def _by_hand(net, x, stats):
    """Layer outputs one example (eval) or one batch (train) at a time from the parameters, in float64."""
    outs, h = [], x
    for layer in net.hidden_layers:
        a = h @ layer.linear.weight.T + layer.linear.bias
        if layer.norm is not None:
            mean, var = stats(a, layer)
            a = (a - mean) / torch.sqrt(var + layer.norm.eps) * layer.norm.weight + layer.norm.bias
        h = torch.clamp(a, min=0)
        outs.append(h)
    return outs


def test_eval_outputs_equal_a_per_example_hand_computation():
    net = _net()
    x = torch.randn(37, 6, dtype=torch.float64)
    got = R.layer_outputs(net, x, mode="eval", batch_size=8)
    for n in range(len(x)):
        want = _by_hand(net, x[n:n + 1], lambda a, layer: (layer.norm.running_mean, layer.norm.running_var))
        for g, w in zip(got, want):
            torch.testing.assert_close(g[n:n + 1], w, rtol=1e-12, atol=1e-12)


def test_train_mode_uses_each_shuffled_batchs_statistics_and_leaves_the_running_ones():
    net = _net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(50, 6, dtype=torch.float64)
    got = R.layer_outputs(net, x, mode="train", batch_size=16, generator=torch.Generator().manual_seed(3))
    order = torch.randperm(50, generator=torch.Generator().manual_seed(3))
    for start in range(0, 50, 16):
        idx = order[start:start + 16]
        want = _by_hand(net, x[idx], lambda a, layer: (a.mean(0), a.var(0, unbiased=False)))
        for g, w in zip(got, want):
            torch.testing.assert_close(g[idx], w, rtol=1e-10, atol=1e-10)
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert not net.training  # its mode restored
    with pytest.raises(ValueError, match="mode"):
        R.layer_outputs(net, x, mode="inference")


def test_train_mode_never_leaves_a_batch_of_one():
    net = _net()
    x = torch.randn(33, 6, dtype=torch.float64)  # 16 + 16 + 1: the last example joins the second batch
    got = R.layer_outputs(net, x, mode="train", batch_size=16, generator=torch.Generator().manual_seed(0))
    order = torch.randperm(33, generator=torch.Generator().manual_seed(0))
    for idx in (order[:16], order[16:]):
        want = _by_hand(net, x[idx], lambda a, layer: (a.mean(0), a.var(0, unbiased=False)))
        torch.testing.assert_close(got[-1][idx], want[-1], rtol=1e-10, atol=1e-10)


def test_layer_readings_count_like_a_loop():
    g = torch.Generator().manual_seed(1)
    y = torch.clamp(torch.randn(30, 7, generator=g), min=0)
    y[:, 2] = 0  # a dead node
    y[:, 5] = 0.0
    y[0, 5] = 1.0  # almost dead, not dead
    sparsity, dead = R.layer_readings([y])
    counts = [sum(1 for n in range(30) if y[n, j] <= 0) / 30 for j in range(7)]
    assert math.isclose(sparsity[0], sum(counts) / 7, rel_tol=1e-12)
    assert math.isclose(dead[0], sum(c == 1 for c in counts) / 7, rel_tol=1e-12)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("readings")
    config = resolve(with_overrides(RunConfig(), {
        "data.dataset": "mnist-sample", "data.train_subset": 600, "data.val_fraction": 0.2,
        "model.hidden": [16, 16], "model.activation": "relu", "model.batch_norm": "before",
        "optim.optimizer": "adam", "optim.lr": 3e-2, "train.epochs": 6, "train.batch_size": 50,
        "train.early_stopping": 6, "probes.enabled": ["sparsity(epochs='all')"], "probes.probe_per_class": 10}))
    result = run(config, ExecConfig(results=str(root), threads=1, device="cpu"))
    assert result.status == "done"
    return root, result


def test_the_runs_weights_read_like_its_own_probes(finished_run):
    """untrained / selected / last on the probe set in eval mode = the sparsity probe at epoch 0 / best / last."""
    root, result = finished_run
    tables = load(root)
    runs = tables.runs.assign(task="MNIST", batch_norm="before", seed=0)
    readings = R.measure(runs, R.run_data_loader(ExecConfig(threads=1, device="cpu")))
    probe = tables.probes["sparsity"]
    best, last = int(result.summary["best_val_epoch"]), int(probe["epoch"].max())
    assert 0 < best < last  # so that "selected" and "last" are different weights
    for weights, epoch in (("untrained", 0), ("selected", best), ("last", last)):
        ours = readings[(readings["weights"] == weights) & (readings["samples"] == "probe") & (readings["mode"] == "eval")]
        theirs = probe[probe["epoch"] == epoch].sort_values("layer")
        np.testing.assert_allclose(ours.sort_values("layer")["sparsity"].to_numpy(), 100 * theirs["sparsity"].to_numpy(),
                                   rtol=0, atol=1e-9, err_msg=weights)
    assert set(readings["samples"]) == set(R.SAMPLES) and set(readings["mode"]) == set(R.MODES)
    assert len(readings) == 3 * 3 * 2 * 2  # weights × samples × modes × layers
    from vanishing.runner import load_run_data

    data = load_run_data(result_config(root), ExecConfig())
    sizes = readings.groupby("samples")["n_samples"].unique()
    assert sizes["train"].tolist() == [len(data.x_train)] and sizes["test"].tolist() == [len(data.x_test)]
    assert sizes["probe"].tolist() == [10 * data.n_classes]
    # dead units: nodes inactive on every training example, eval mode — recounted from the layers by hand
    models = R.run_models(runs["path"].iloc[0], data.n_features, data.n_classes)
    outputs = R.layer_outputs(models["last"], data.x_train)
    for i, y in enumerate(outputs):
        dead = sum(bool((y[:, j] <= 0).all()) for j in range(y.shape[1])) / y.shape[1]
        got = readings[(readings["weights"] == "last") & (readings["layer"] == i + 1)]["dead"].unique()
        np.testing.assert_allclose(got, [100 * dead])


def result_config(root):
    from vanishing.config import config_from_dict
    from vanishing.store.atomic import read_json

    (path,) = [p for p in (root / "runs").iterdir() if p.is_dir()]
    return resolve(config_from_dict(read_json(path / "config.json")["config"]))


def test_run_models_loads_best_and_last_weights_and_falls_back_without_a_best(finished_run, tmp_path):
    """A hand-made checkpoint whose best and last weights differ by a known offset; then one without a best."""
    import shutil

    root, _ = finished_run
    (src,) = [p for p in (root / "runs").iterdir() if p.is_dir()]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(src / "config.json", run_dir / "config.json")
    from vanishing.store.atomic import torch_load, torch_save

    checkpoint = torch_load(src / "checkpoint.pt")
    last = {k: v.clone() for k, v in checkpoint["model"].items()}
    best = {k: (v + 1.0 if v.is_floating_point() and "running" not in k else v.clone()) for k, v in last.items()}
    checkpoint["best"] = {"epoch": 2, "value": 0.5, "state": best}
    torch_save(run_dir / "checkpoint.pt", checkpoint)
    config = result_config(root)
    models = R.run_models(run_dir, 784, 10)
    for name, want in (("last", last), ("selected", best)):
        for k, v in models[name].state_dict().items():
            assert torch.equal(v, want[k]), (name, k)
    from vanishing.model import build_model

    fresh = build_model(config.model, 784, 10, config.seed).state_dict()
    for k, v in models["untrained"].state_dict().items():
        assert torch.equal(v, fresh[k]), k
    checkpoint["best"] = {"epoch": None, "value": None, "state": None}
    torch_save(run_dir / "checkpoint.pt", checkpoint)
    models = R.run_models(run_dir, 784, 10)
    for k, v in models["selected"].state_dict().items():
        assert torch.equal(v, last[k]), k


def _rows(values, task="MNIST", bn="off", weights="selected", samples="probe"):
    return pd.DataFrame([{"task": task, "batch_norm": bn, "weights": weights, "samples": samples, "mode": "eval",
                          "run_id": f"r{s}", "seed": s, "layer": 1, "sparsity": v, "dead": 0.0}
                         for s, v in enumerate(values)])


PAPER = float(np.mean(R.PAPER_TABLE1[("MNIST", "off", "trained")]))


@pytest.mark.parametrize("values,verdict", [
    ([PAPER - 1, PAPER, PAPER + 1], "reproduced"),          # |diff| 0 ≤ 3 pp
    ([PAPER - 1, PAPER + 1], "inconclusive"),                # n = 2 decides nothing
    ([50.0, 51.0, 52.0], "not reproduced"),                  # 30 pp away, s.e. 0.6
    ([PAPER - 30, PAPER, PAPER + 30], "inconclusive"),       # 2 s.e. = 34.6 pp > max(9, 0.25·80.4)
    ([PAPER - 4 - 4.33, PAPER - 4, PAPER - 4 + 4.33], "reproduced"),   # diff 4 > 3 pp but ≤ 2 s.e. = 5.0
    ([PAPER - 8 - 4.33, PAPER - 8, PAPER - 8 + 4.33], "not reproduced"),  # diff 8 > 2 s.e. = 5.0
])
def test_each_reading_is_judged_by_the_numeric_rule(values, verdict):
    got = R.summarise(_rows(values))
    assert got["verdict"].tolist() == [verdict], got["reason"].tolist()
    assert got["n"].iloc[0] == len(values) and math.isclose(got["paper"].iloc[0], PAPER)


def test_the_panel_line_says_explained_unexplained_or_inconclusive():
    far = R.summarise(pd.concat([_rows([50.0, 51.0, 52.0]), _rows([55.0, 56.0, 57.0], samples="test")]))
    line = R.verdict_lines(far)[0]
    assert "no tested measurement factor" in line and "56.0" in line  # the closest reading is named
    close = R.summarise(pd.concat([_rows([50.0, 51.0, 52.0]), _rows([PAPER - 1, PAPER, PAPER + 1], samples="train")]))
    assert "matches the paper within max(2 s.e., 3 pp): selected/train/eval" in R.verdict_lines(close)[0]
    undecided = R.summarise(pd.concat([_rows([50.0, 51.0, 52.0]), _rows([60.0, 62.0], samples="train")]))
    assert "inconclusive: 1 of 2 readings" in R.verdict_lines(undecided)[0]
