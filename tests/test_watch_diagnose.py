"""``diagnose``: the threshold rules on made-up tables, and the store round trip — ``save`` → ``load`` / ``vanishing diagnose``."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import vanishing
from vanishing.cli import main
from vanishing.config import ExecConfig, RunConfig, resolve, with_overrides
from vanishing.data import Dataset
from vanishing.runner import run
from vanishing.watch import MissingProbeError, Thresholds, diagnose_run, diagnose_tables


def tables(rms, saturation=None, dead=None, grad=None, epoch=3):
    names = [f"h{i + 1}" for i in range(len(rms))]
    out = {"backprop_signal": pd.DataFrame({"epoch": epoch, "layer": names, "rms": rms, "n_samples": 100})}
    if saturation is not None:
        out["saturation"] = pd.DataFrame({"epoch": epoch, "layer": names, "saturation": saturation,
                                          "defined": [not math.isnan(v) for v in saturation], "threshold": 0.05})
    if dead is not None:
        out["dead_units"] = pd.DataFrame({"epoch": epoch, "layer": names, "dead": [round(v * 20) for v in dead],
                                          "width": 20, "fraction": dead, "defined": True})
    if grad is not None:
        out["grad_norms"] = grad
    return out


def geometric(ratio, layers, last=1.0):
    return [last * ratio ** (layers - 1 - i) for i in range(layers)]


def test_vanishing_and_exploding_follow_the_geometric_mean_rule():
    d = diagnose_tables(tables(geometric(0.4, 5)))
    assert d.kinds == ["vanishing"] and d.geometric_mean_ratio == pytest.approx(0.4)
    v = d.verdict("vanishing")
    assert v.layers == ["h1", "h2"]  # RMS δ below 10 % of the last layer's: 0.026, 0.064 (h3 has 0.16)
    assert v.evidence["ratios"]["h1→h2"] == pytest.approx(0.4) and v.evidence["rule"] == "gm"
    assert diagnose_tables(tables(geometric(0.55, 3))).kinds == ["healthy"]
    assert diagnose_tables(tables(geometric(1.9, 3))).kinds == ["healthy"]
    e = diagnose_tables(tables(geometric(2.5, 4)))
    assert e.kinds == ["exploding"] and e.verdict("exploding").layers == ["h1"]  # 15.6× the last layer
    # thresholds are parameters
    assert diagnose_tables(tables(geometric(0.55, 3)), Thresholds(vanishing=0.6)).kinds == ["vanishing"]


def test_a_mild_decay_over_many_layers_is_vanishing_by_the_end_to_end_rule():
    d = diagnose_tables(tables(geometric(0.6, 12)))  # 0.6 per layer: above 0.5, but 0.6^11 = 0.0036 end to end
    assert d.kinds == ["vanishing"] and d.verdict("vanishing").evidence["rule"] == "first_to_last"
    assert d.total_ratio == pytest.approx(0.6 ** 11)
    assert diagnose_tables(tables(geometric(0.6, 3))).kinds == ["healthy"]  # 0.36 end to end
    assert diagnose_tables(tables(geometric(1.6, 12))).kinds == ["exploding"]


def test_saturation_dead_units_and_non_finite_gradients():
    d = diagnose_tables(tables([1.0, 1.0, 1.0], saturation=[0.3, 0.2, float("nan")], dead=[0.0, 0.15, 0.05]))
    assert d.kinds == ["saturated", "dead_units"]
    assert d.verdict("saturated").layers == ["h1"] and d.verdict("dead_units").layers == ["h2"]
    assert "h2 3/20 (15%)" in d.verdict("dead_units").summary
    assert list(d.layers["saturation"].round(2).fillna(-1)) == [0.3, 0.2, -1]
    grad = pd.DataFrame({"step": [1, 1, 2, 2, 3, 3], "epoch": 1, "layer": ["h1", "h2"] * 3,
                         "weight_l2": [1.0, 1.0, 2.0, np.nan, np.inf, 1.0], "weight_mean_abs": 0.1,
                         "bias_l2": 0.1, "bias_mean_abs": 0.1})
    d = diagnose_tables(tables([1.0, 1.0], grad=grad))
    assert d.kinds == ["exploding"] and d.verdict("exploding").evidence["first_nonfinite_step"] == 2
    frozen = grad.assign(weight_l2=[1.0, np.nan] * 3)  # a layer that never has a gradient is not non-finite
    assert diagnose_tables(tables([1.0, 1.0], grad=frozen)).kinds == ["healthy"]


def test_snapshot_choice_missing_tables_and_output_forms(tmp_path):
    t = tables(geometric(0.3, 3), epoch=0)
    t["backprop_signal"] = pd.concat([t["backprop_signal"], tables(geometric(1.0, 3), epoch=5)["backprop_signal"]])
    assert diagnose_tables(t).kinds == ["healthy"] and diagnose_tables(t).snapshot == 5
    d = diagnose_tables(t, at=0, context={"source": "my run", "clock": "step"})
    assert d.kinds == ["vanishing"] and d.snapshot == 0 and "my run at step 0" in str(d)
    with pytest.raises(MissingProbeError, match="snapshots: 0, 5"):
        diagnose_tables(t, at=3)
    with pytest.raises(MissingProbeError, match="backprop_signal"):
        diagnose_tables({"grad_norms": pd.DataFrame()})
    doc = json.loads(d.to_json())
    assert doc["verdicts"][0]["kind"] == "vanishing" and doc["layers"][0]["layer"] == "h1"
    assert doc["thresholds"]["vanishing"] == 0.5 and doc["geometric_mean_ratio"] == pytest.approx(0.3)
    pytest.importorskip("matplotlib")
    d.figure(tmp_path / "delta.png")
    assert (tmp_path / "delta.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError):
        Thresholds(vanishing=2.0)


# --------------------------------------------------------------------------- store round trip and the CLI


def sigmoid_mlp(depth=6, width=24):
    torch.manual_seed(0)
    layers, d = [], 10
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.Sigmoid()]
        d = width
    return nn.Sequential(*layers, nn.Linear(d, 3))


def watched_run(tmp_path, name=None):
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(3, 10, generator=g) * 2
    y = torch.arange(90) % 3
    x = centers[y] + torch.randn(90, 10, generator=g)
    model = sigmoid_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with vanishing.watch(model, (x[:60], y[:60]), F.cross_entropy, every=20, name=name) as w:
        for step in range(40):
            b = slice(step % 3 * 30, step % 3 * 30 + 30)
            opt.zero_grad()
            F.cross_entropy(model(x[b]), y[b]).backward()
            opt.step()
    return w, w.save(tmp_path / "results")


def test_save_then_load_and_diagnose(tmp_path, capsys):
    w, path = watched_run(tmp_path)
    root = tmp_path / "results"
    assert path.parent == root / "runs" and path.name.startswith("watch-")
    res = vanishing.load(root)
    run_row = res.runs.iloc[0]
    assert len(res.runs) == 1 and run_row["status"] == "done" and run_row["run_id"] == path.name
    assert run_row["hidden"] == "24,24,24,24,24,24" and run_row["depth"] == 6 and run_row["steps"] == 40
    assert run_row["activation"] == ",".join(["sigmoid"] * 6) and run_row["class"] == "Sequential"
    mine = w.tables()
    for name, frame in mine.items():
        stored = res.probe(name)
        assert list(stored.columns) == ["run_id", "seed", *frame.columns], name
        pd.testing.assert_frame_equal(stored.drop(columns=["run_id", "seed"]), frame, check_dtype=False)
    assert sorted(set(res.probe("backprop_signal")["epoch"])) == [0, 20, 40]
    config = json.loads((path / "config.json").read_text())
    assert config["kind"] == "watch" and config["watch"]["clock"] == "step"
    assert [layer["role"] for layer in config["watch"]["layers"]] == ["hidden"] * 6 + ["output"]
    summary = json.loads((path / "summary.json").read_text())
    assert summary["verdicts"] == w.diagnose().kinds == ["vanishing"]

    assert main(["diagnose", str(root)]) == 0
    out = capsys.readouterr().out
    assert "VANISHING" in out and "watched run watch-" in out and "at step 40" in out and "1. Use a ReLU" in out
    assert main(["diagnose", str(path), "--json", "--at", "0", "--figure", str(tmp_path / "fig.png")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc[0]["snapshot"] == 0 and doc[0]["clock"] == "step" and doc[0]["verdicts"][0]["kind"] == "vanishing"
    assert (tmp_path / "fig.png").exists()
    assert main(["status", str(root)]) == 0  # a watched run sits in a results root like any other
    assert main(["diagnose", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert diagnose_run(path).kinds == ["vanishing"]
    w.save(root, name="again")
    assert sorted(p.name for p in (root / "runs").iterdir()) == sorted([path.name, "again"])


def blobs_dataset() -> Dataset:
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(4, 8, generator=g) * 2
    y = torch.arange(160) % 4
    x = centers[y] + torch.randn(160, 8, generator=g)
    return Dataset("blobs", x, y, x[:40], y[:40], x[:40], y[:40], tuple("abcd"), True, "synthetic blobs")


def test_diagnose_a_vanishing_run_result(tmp_path, capsys):
    base = {"model.hidden": [16] * 5, "model.activation": "sigmoid", "model.init": "torch_default", "train.epochs": 2,
            "train.batch_size": 20, "probes.probe_per_class": 10}
    with_delta = resolve(with_overrides(RunConfig(), {**base, "probes.enabled": ["default"]}))
    result = run(with_delta, ExecConfig(results=str(tmp_path / "a"), threads=1), data=blobs_dataset())
    assert result.status == "done"
    assert main(["diagnose", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert f"run {result.run_id} at epoch 2" in out and "VANISHING" in out and "hidden1" in out
    assert main(["diagnose", str(result.path), "--at", "0"]) == 0
    assert "at epoch 0" in capsys.readouterr().out
    no_delta = resolve(with_overrides(RunConfig(), {**base, "probes.enabled": ["minimal"]}))
    result = run(no_delta, ExecConfig(results=str(tmp_path / "b"), threads=1), data=blobs_dataset())
    assert main(["diagnose", str(result.path)]) == 2
    err = capsys.readouterr().err
    assert "backprop_signal" in err and "--probes" in err
