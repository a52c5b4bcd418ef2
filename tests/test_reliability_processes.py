"""Reliability, processes: a sweep worker that keeps dying.

Covered elsewhere (tests/test_sweep_resume.py): a sweep SIGKILLed three
times at different moments ends exactly like an uninterrupted one; two
sweeps on one root train every run once; Ctrl-C stops cleanly; one worker
SIGKILLed mid-task is replaced and its task retried.

Added here: a worker that dies on *every* attempt at one run — as an
out-of-memory kill would — after finishing an epoch each time. The fault is
injected into the worker processes with a ``sitecustomize`` module on
``PYTHONPATH`` (the local executor starts its workers with ``spawn``, so a
monkeypatch in the test process would not reach them): it wraps
``vanishing.train.fit`` so that a run of width 13 SIGKILLs its own process
right after each epoch's checkpoint. Expected: the task is retried
(``--retries 1``), then the run is recorded ``failed`` with a message naming
the signal and the attempts; the other run of the sweep finishes; the exit
code is 1; the store is consistent and the dead run keeps the epochs its
attempts finished. The next sweep (no fault) resumes it from its last
checkpoint to the metrics of an uninterrupted run and does not touch the
finished run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import vanishing
from vanishing.config import ExecConfig, RunConfig, resolve, with_overrides

SITECUSTOMIZE = '''
import os
import signal

_WIDTH = os.environ.get("VANISHING_TEST_DIE_WIDTH")
if _WIDTH:
    import vanishing.train as _train

    _fit = _train.fit

    def fit(config, data, sink=None, exec_config=None, callbacks=(), on_epoch=None):
        if config.model.hidden == (int(_WIDTH),):
            inner = on_epoch

            def on_epoch(metrics):
                if inner is not None:
                    inner(metrics)
                os.kill(os.getpid(), signal.SIGKILL)  # after the epoch's checkpoint: an OOM kill, say

        return _fit(config, data, sink, exec_config, callbacks=callbacks, on_epoch=on_epoch)

    _train.fit = fit
'''

SWEEP = """
name = "dying-worker"
seeds = [0]
[data]
dataset = "mnist-sample"
train_subset = 300
[train]
epochs = 3
batch_size = 64
[probes]
enabled = ["minimal"]
[grid]
model.hidden = [[14], [13]]
"""


def test_a_worker_that_always_dies_fails_its_run_only_and_the_next_sweep_resumes_it(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    sweep_file = tmp_path / "sweep.toml"
    sweep_file.write_text(SWEEP)
    root = tmp_path / "root"
    env = {**os.environ, "CI": "1", "VANISHING_TEST_DIE_WIDTH": "13",
           "PYTHONPATH": os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run(
        [sys.executable, "-m", "vanishing", "sweep", str(sweep_file), "--results", str(root), "--workers", "1",
         "--retries", "1", "--no-batch", "--quiet"],
        capture_output=True, text=True, env=env, timeout=240,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Traceback" not in out and "worker lost" in out and "retrying" in out, out

    runs = vanishing.load(root).runs.set_index("hidden")
    assert runs.loc["14", "status"] == "done"
    dead = runs.loc["13"]
    assert dead["status"] == "failed"
    assert "died (signal SIGKILL)" in dead["message"] and "after 2 attempt(s)" in dead["message"], dead["message"]
    dead_dir = Path(dead["path"])
    assert len(vanishing.store.atomic.read_json(dead_dir / "epochs.json")) == 2  # one epoch per attempt, kept
    assert not list(dead_dir.rglob(".*.tmp"))
    index = {r["run_id"]: r for r in vanishing.store.Index(root).rows()}
    assert len(index) == 2 and index[dead_dir.name]["status"] == "failed" and index[dead_dir.name]["pid"] is None
    done_dir = Path(runs.loc["14", "path"])
    kept = {p: p.read_bytes() for p in done_dir.rglob("*") if p.is_file()}

    again = vanishing.sweep(sweep_file, results=root, workers=0, display="silent", batch=False)  # no fault now
    assert again.complete
    final = vanishing.load(root)
    assert sorted(final.runs["status"]) == ["done", "done"] and final.runs["run_id"].is_unique
    assert {p: p.read_bytes() for p in done_dir.rglob("*") if p.is_file()} == kept  # not trained again

    reference_root = tmp_path / "reference"
    config = resolve(with_overrides(RunConfig(), {
        "data.dataset": "mnist-sample", "data.train_subset": 300, "train.epochs": 3, "train.batch_size": 64,
        "probes.enabled": ["minimal"], "model.hidden": [13]}))
    reference = vanishing.run(config, ExecConfig(results=str(reference_root), device="cpu", threads=1, progress=False))
    assert reference.run_id == dead_dir.name
    strip = lambda frame: frame.drop(columns=["epoch_time_s", "eval_time_s"]).reset_index(drop=True)
    got = final.epochs[final.epochs.run_id == dead_dir.name]
    assert strip(got).equals(strip(vanishing.load(reference_root).epochs))  # resumed, identical
