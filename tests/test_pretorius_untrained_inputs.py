"""The pretorius untrained-net ablation (studies/pretorius/untrained_inputs.py) against brute-force loops."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from vanishing.model import build_model
from vanishing.studies.pretorius import untrained_inputs as u

ROOT = Path(__file__).resolve().parents[1]


def _net(act="relu", seed=0, n_in=12, n_out=3, width=7):
    config = u.run_config("MNIST", "scaled", act, seed, width=width, depth=3)
    return build_model(config.model, n_in, n_out, seed).eval().double()


def _brute(model, x, labels, n_classes):
    """Sparsity and η² per layer by explicit loops over nodes, samples and classes (float64)."""
    out, h = [], x
    for layer in model.hidden_layers:
        w, b = layer.linear.weight.detach(), layer.linear.bias.detach()
        h = layer.act(h @ w.T + b)
        ys = h.detach().numpy()
        n, width = ys.shape
        off = [sum(1 for i in range(n) if ys[i, j] <= 0) / n for j in range(width)]
        etas = []
        for j in range(width):
            m = ys[:, j].mean()
            total = sum((ys[i, j] - m) ** 2 for i in range(n))
            between = 0.0
            for c in range(n_classes):
                col = [ys[i, j] for i in range(n) if labels[i] == c]
                if col:
                    between += len(col) * (np.mean(col) - m) ** 2
            etas.append(between / total if total > 1e-12 else 0.0)
        out.append((100 * np.mean(off), float(np.mean(etas))))
    return out


@pytest.mark.parametrize("act", ["relu", "sigmoid"])
def test_read_net_matches_brute_force_sparsity_and_eta2(act):
    torch.manual_seed(1)
    x = torch.rand(60, 12, dtype=torch.float64)  # non-negative, like pixels ÷ 255
    labels = torch.arange(60) % 3
    model = _net(act)
    got = u.read_net(model, x, labels, 3)
    want = _brute(model, x, labels.tolist(), 3)
    assert list(got["layer"]) == [1, 2, 3]
    for (_, row), (sp, eta) in zip(got.iterrows(), want):
        assert row["sparsity"] == pytest.approx(sp, abs=1e-9)
        assert row["eta2"] == pytest.approx(eta, rel=1e-4, abs=1e-6)  # node_stats works in float32
    if act == "sigmoid":
        assert (got["sparsity"] == 0).all()  # a sigmoid output is never ≤ 0


def test_measure_builds_each_seed_as_the_study_does_and_reads_the_loader_once_per_preprocessing():
    torch.manual_seed(0)
    x, y = torch.rand(30, 12), torch.arange(30) % 3
    calls = []

    def load(config):
        calls.append(config.data.standardize)
        xs = (x - x.mean(0)) / x.std(0) if config.data.standardize else x
        return xs, y, 12, 3

    rows = u.measure(["MNIST"], [0, 1, 2], load)
    assert calls == [False, True]
    assert len(rows) == 2 * 2 * 3 * 4  # inputs × activations × seeds × layers
    direct = u.read_net(build_model(u.run_config("MNIST", "scaled", "relu", 1).model, 12, 3, 1).eval(), x, y, 3)
    part = rows[(rows["inputs"] == "scaled") & (rows["activation"] == "relu") & (rows["seed"] == 1)]
    np.testing.assert_allclose(part["sparsity"].to_numpy(), direct["sparsity"].to_numpy())


def _rows(values_by_seed, act="relu", task="CIFAR-10", inputs="scaled"):
    return pd.DataFrame([{"task": task, "inputs": inputs, "activation": act, "seed": s, "layer": 1,
                          "sparsity": v, "dead": 0.0, "eta2": v / 100} for s, v in enumerate(values_by_seed)])


def test_summarise_statistics_and_both_verdicts():
    # seeds in reverse order in the frame: "the first 3" are seeds 0, 1, 2 whatever the row order
    values = [46.8, 46.9, 46.7] + [51.0 + 3 * (-1) ** s for s in range(3, 33)]
    rows = _rows(values).iloc[::-1]
    s = u.summarise(rows).iloc[0]
    assert s["n"] == 33 and s["paper"] == 51.07
    assert s["sparsity"] == pytest.approx(np.mean(values))
    assert s["sd"] == pytest.approx(np.std(values, ddof=1))
    assert s["se"] == pytest.approx(np.std(values, ddof=1) / math.sqrt(33))
    assert s["sparsity_first3"] == pytest.approx(46.8)
    assert s["verdict_first3"] == "not reproduced"  # 4.3 pp off with a tiny 3-seed s.e.
    assert s["verdict"] == "reproduced"  # |50.6 − 51.07| ≤ max(2 s.e. ≈ 1.0, 1 pp)
    sig = u.summarise(_rows([0.0] * 5, act="sigmoid")).iloc[0]
    assert math.isnan(sig["paper"]) and sig["verdict"] == ""  # Table 1 has no sigmoid sparsity


def test_summarise_says_inconclusive_on_fewer_than_three_seeds():
    s = u.summarise(_rows([50.0, 51.0])).iloc[0]
    assert s["verdict"] == "inconclusive" and s["verdict_first3"] == "inconclusive"


def _eta_rows(relu, sigmoid):
    rows = [{"task": "MNIST", "inputs": "scaled", "activation": a, "seed": s, "layer": 4, "eta2": v, "sparsity": 0.0}
            for a, vals in [("relu", relu), ("sigmoid", sigmoid)] for s, v in enumerate(vals)]
    rows.append({"task": "MNIST", "inputs": "scaled", "activation": "relu", "seed": 0, "layer": 1, "eta2": 0.9,
                 "sparsity": 0.0})  # another layer: not read
    return pd.DataFrame(rows)


@pytest.mark.parametrize("relu, sigmoid, verdict", [
    ([0.10, 0.11, 0.12, 0.13], [0.20, 0.20, 0.23, 0.22], "not reproduced"),  # ReLU below beyond 2 s.e.: against Fig 6
    ([0.30, 0.31, 0.32, 0.33], [0.20, 0.20, 0.23, 0.22], "reproduced"),
    ([0.20, 0.25, 0.15, 0.22], [0.21, 0.20, 0.23, 0.18], "inconclusive"),  # within 2 s.e. of zero
    ([0.10, 0.11], [0.20, 0.21], "inconclusive"),  # n = 2
])
def test_eta2_gap_pairs_seeds_and_judges_the_sign(relu, sigmoid, verdict):
    g = u.eta2_gap(_eta_rows(relu, sigmoid)).iloc[0]
    d = np.subtract(relu, sigmoid)
    assert g["n"] == len(d) and g["difference"] == pytest.approx(d.mean())
    assert g["se"] == pytest.approx(np.std(d, ddof=1) / math.sqrt(len(d)))
    assert g["relu"] == pytest.approx(np.mean(relu)) and g["sigmoid"] == pytest.approx(np.mean(sigmoid))
    assert g["verdict"] == verdict


@pytest.mark.parametrize("args, field", [(["--tasks", "SVHN"], "--tasks"), (["--seeds", "2"], "--seeds")])
def test_script_rejects_bad_arguments_with_one_line(args, field):
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "pretorius_untrained_inputs.py"), *args],
                       capture_output=True, text=True)
    assert p.returncode == 2 and p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}: expected")
