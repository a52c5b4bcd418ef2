"""The recurrent training loop and its run directories: files, clipping record, resume, load, worker processes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from vanishing.recurrent import RecurrentConfig, fit, load, run_all
from vanishing.recurrent.runs import run_path

TINY = dict(length=8, hidden=6, steps=6, evals=3, eval_size=20, probe_size=5, batch_size=4)


def test_fit_writes_the_run_directory(tmp_path):
    cfg = RecurrentConfig(task="copy", cell="lstm", symbols=2, categories=3, **TINY)
    assert run_all([cfg], tmp_path, log=lambda s: None) == 1
    path = run_path(tmp_path, cfg)
    doc = json.loads((path / "config.json").read_text())
    assert doc["run_id"] == cfg.run_id and doc["config"] == cfg.to_dict() and "torch" in doc["environment"]
    history = json.loads((path / "history.json").read_text())
    assert [h["step"] for h in history] == cfg.eval_steps == [0, 2, 4, 6]
    assert math.isnan(history[0]["train_loss"]) and all(h["train_loss"] > 0 for h in history[1:])
    summary = json.loads((path / "summary.json").read_text())
    assert summary["status"] == "done" and summary["steps_done"] == 6
    assert summary["test_error"] == history[-1]["test_error"]
    res = load(tmp_path)
    assert len(res.runs) == 1 and res.runs.loc[0, "label"] == "lstm" and res.runs.loc[0, "status"] == "done"
    tg = res.probe("time_grad")
    assert len(tg) == 4 * 8 and set(tg["step"]) == {0, 2, 4, 6} and (tg["grad_rms"] > 0).all()
    spec = res.probe("spectral")
    assert list(spec.loc[spec["step"] == 0, "block"]) == ["i", "f", "g", "o"]
    assert list(res.history.columns[:3]) == ["run_id", "seed", "step"]


def test_resume_skips_finished_runs_and_retrains_unfinished(tmp_path):
    cfgs = [RecurrentConfig(cell="rnn_tanh", seed=s, **TINY) for s in (0, 1)]
    assert run_all(cfgs, tmp_path, log=lambda s: None) == 2
    before = (run_path(tmp_path, cfgs[0]) / "summary.json").read_text()
    assert run_all(cfgs + cfgs, tmp_path, log=lambda s: None) == 0  # nothing left to do, duplicates ignored
    (run_path(tmp_path, cfgs[1]) / "summary.json").unlink()  # as if killed before the end
    assert run_all(cfgs, tmp_path, log=lambda s: None) == 1
    assert (run_path(tmp_path, cfgs[0]) / "summary.json").read_text() == before
    assert len(load(tmp_path).runs) == 2


@pytest.mark.parametrize("cell", ["lstm", "rnn_tanh"])
def test_a_run_stopped_mid_way_resumes_from_its_checkpoint_to_the_uninterrupted_run(tmp_path, cell):
    from vanishing.recurrent.runs import RunWriter

    cfg = RecurrentConfig(task="adding", cell=cell, **{**TINY, "steps": 9})  # evaluations at 0, 3, 6, 9

    class StopAfter(RunWriter):
        def checkpoint(self, state):
            super().checkpoint(state)
            if state["step"] == 3:
                raise KeyboardInterrupt  # killed right after the checkpoint of step 3

    reference = fit(cfg, RunWriter(tmp_path / "a", cfg))
    with pytest.raises(KeyboardInterrupt):
        fit(cfg, StopAfter(tmp_path / "b", cfg))
    path = run_path(tmp_path / "b", cfg)
    assert (path / "checkpoint.pt").exists() and not (path / "summary.json").exists()
    lines = []
    resumed = fit(cfg, RunWriter(tmp_path / "b", cfg), log=lines.append)
    assert lines[0].endswith("resumed after step 3")
    timeless = lambda d: {k: v for k, v in d.items() if not k.endswith("time_s")}  # noqa: E731
    assert timeless(resumed) == timeless(reference)
    history = [json.loads((run_path(tmp_path / r, cfg) / "history.json").read_text()) for r in ("a", "b")]
    assert [timeless(h) for h in history[1]] == [timeless(h) for h in history[0]]
    assert [h["step"] for h in history[1]] == [0, 3, 6, 9]
    probes = [load(tmp_path / r).probe("time_grad").drop(columns="run_id") for r in ("a", "b")]
    assert probes[0].equals(probes[1])
    assert not (path / "checkpoint.pt").exists()  # removed once finished


def test_a_checkpoint_of_another_config_is_not_resumed(tmp_path):
    from vanishing.recurrent.runs import RunWriter

    cfg = RecurrentConfig(cell="gru", **TINY)
    writer = RunWriter(tmp_path, cfg)
    writer.checkpoint({"step": 4, "history": [], "tables": {}})
    state = torch.load(run_path(tmp_path, cfg) / "checkpoint.pt", weights_only=True)
    state["config_hash"] = "something else"
    torch.save(state, run_path(tmp_path, cfg) / "checkpoint.pt")
    assert RunWriter(tmp_path, cfg).resume_state() is None
    assert fit(cfg, RunWriter(tmp_path, cfg))["steps_done"] == 6  # trained from the start


def test_same_config_same_numbers():
    cfg = RecurrentConfig(cell="gru", **TINY)
    a, b = fit(cfg), fit(cfg)
    assert a["test_loss"] == b["test_loss"] and a["test_error"] == b["test_error"]


def test_clipped_fraction_is_recorded():
    always = fit(RecurrentConfig(cell="rnn_relu", clip_norm=1e-9, **TINY))
    never = fit(RecurrentConfig(cell="rnn_relu", clip_norm=None, **TINY))
    assert always["clipped_fraction"] == 1.0
    assert never["clipped_fraction"] == 0.0


def test_clipping_bounds_the_step():
    """As in fit: one SGD step after clip_grad_norm_ moves the weights by exactly lr × clip_norm when clipped."""
    from vanishing.recurrent import build
    from vanishing.recurrent.tasks import Task, generate
    from vanishing.recurrent.train import make_optimizer

    cfg = RecurrentConfig(cell="rnn_tanh", optimizer="sgd", lr=0.5, clip_norm=0.01, **{**TINY, "steps": 1, "evals": 1})
    model = build(cfg)
    before = torch.cat([p.detach().flatten() for p in model.parameters()])
    opt = make_optimizer(cfg, list(model.parameters()))
    task = Task(cfg.task, cfg.length)
    x, y = generate(task, cfg.batch_size, "train", cfg.seed, batch=1)
    task.loss(model(x), y).backward()
    norm = float(torch.nn.utils.clip_grad_norm_(list(model.parameters()), cfg.clip_norm))
    opt.step()
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert norm > cfg.clip_norm
    assert float((after - before).norm()) == pytest.approx(cfg.lr * cfg.clip_norm, rel=1e-4)
    assert fit(cfg)["clipped_fraction"] == 1.0


def test_untrained_run_has_only_the_init_snapshot(tmp_path):
    cfg = RecurrentConfig(cell="rnn_sigmoid", **{**TINY, "steps": 0})
    run_all([cfg], tmp_path, log=lambda s: None)
    res = load(tmp_path)
    assert list(res.history["step"]) == [0] and res.runs.loc[0, "steps_done"] == 0
    assert np.isnan(res.runs.loc[0, "clipped_fraction"])


def test_worker_processes_give_the_same_runs(tmp_path):
    cfgs = [RecurrentConfig(cell=c, **TINY) for c in ("rnn_tanh", "lstm")]
    assert run_all(cfgs, tmp_path / "pool", workers=1, log=lambda s: None) == 2  # one spawned worker process
    run_all(cfgs, tmp_path / "here", log=lambda s: None)
    a, b = load(tmp_path / "pool"), load(tmp_path / "here")
    assert sorted(a.runs["run_id"]) == sorted(b.runs["run_id"])
    merged = a.runs.merge(b.runs, on="run_id")
    np.testing.assert_array_equal(merged["test_loss_x"], merged["test_loss_y"])


def test_ray_executor_returns_the_run_directories(tmp_path):
    pytest.importorskip("ray")
    cfgs = [RecurrentConfig(cell=c, **TINY) for c in ("rnn_tanh", "gru")]
    assert run_all(cfgs, tmp_path / "ray", workers=1, executor="ray", log=lambda s: None) == 2
    run_all(cfgs, tmp_path / "here", log=lambda s: None)
    a, b = load(tmp_path / "ray"), load(tmp_path / "here")
    merged = a.runs.merge(b.runs, on="run_id")
    assert len(merged) == 2
    np.testing.assert_array_equal(merged["test_loss_x"], merged["test_loss_y"])
    assert len(a.probe("time_grad")) == len(b.probe("time_grad"))
