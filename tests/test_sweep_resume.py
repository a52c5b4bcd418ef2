"""Sweeps survive SIGKILL, dead workers and concurrent sweeps: every run exactly once, identical results.

The sweeps run as real ``vanishing sweep`` processes with two single-threaded
worker processes, on small ``mnist-sample`` subsets: seed batches (relu) and
single runs (rrelu, which may not be batched) side by side.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import vanishing

SWEEP = """
name = "resume-test"
seeds = [0, 1, 2]
[data]
dataset = "mnist-sample"
train_subset = 1500
[train]
epochs = 4
batch_size = 64
[probes]
enabled = ["minimal"]
[grid]
model.hidden = [[24], [24, 24]]
[zip]
model.activation = ["relu", "rrelu"]
optim.optimizer = ["adam", "sgd(momentum=0.9)"]
"""
N_RUNS = 12  # 2 depths × 2 (activation, optimizer) × 3 seeds


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sweepfile") / "sweep.toml"
    path.write_text(SWEEP)
    return path


def start(sweep_file: Path, root: Path, workers: int = 2, session: bool = False) -> subprocess.Popen:
    env = {**os.environ, "CI": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "vanishing", "sweep", str(sweep_file), "--results", str(root), "--workers", str(workers), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=session,
    )


class Lines:
    """The output lines of a process, read by a thread (so waiting never blocks on the pipe)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc) -> None:
        for line in proc.stdout:
            self.lines.append(line)

    def wait_for(self, predicate, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.lines):
                return True
            time.sleep(0.02)
        return False


def children(pid: int) -> list[int]:
    """Child pids of ``pid`` (Linux /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def count(prefix: str):
    return lambda lines: sum(1 for line in lines if line.split("] ", 1)[-1].startswith(prefix))


def complete(sweep_file: Path, root: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "vanishing", "sweep", str(sweep_file), "--results", str(root), "--workers", "2", "--quiet"],
        capture_output=True, text=True, env={**os.environ, "CI": "1"}, timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def comparable(root: Path) -> tuple[pd.DataFrame, dict]:
    results = vanishing.load(root)
    epochs = results.epochs.drop(columns=["epoch_time_s", "eval_time_s"]).sort_values(["run_id", "epoch"]).reset_index(drop=True)
    probes = {}
    for rid in results.runs["run_id"]:
        with np.load(root / "runs" / rid / "probes" / "grad_norms.npz") as f:
            probes[rid] = {k: f[k] for k in f.files}
    return epochs, probes


def index_rows(root: Path) -> list[tuple]:
    with sqlite3.connect(root / "index.sqlite") as con:
        return con.execute("SELECT run_id, status, pid FROM runs ORDER BY run_id").fetchall()


def assert_same_results(reference: Path, root: Path) -> None:
    rows = index_rows(root)
    assert len(rows) == N_RUNS and len({r[0] for r in rows}) == N_RUNS  # every run exactly once
    assert {r[1] for r in rows} == {"done"} and all(r[2] is None for r in rows)  # finished, leases released
    runs = vanishing.load(root).runs
    assert len(runs) == N_RUNS and runs["run_id"].is_unique and set(runs["status"]) == {"done"}
    ref_epochs, ref_probes = comparable(reference)
    got_epochs, got_probes = comparable(root)
    assert len(got_epochs) == N_RUNS * 4
    pd.testing.assert_frame_equal(got_epochs, ref_epochs, check_exact=True)
    for rid, table in ref_probes.items():
        for col, values in table.items():
            np.testing.assert_array_equal(got_probes[rid][col], values, err_msg=f"{rid} {col}")
    assert not (root / "batches").exists()  # every joint checkpoint cleaned up


@pytest.fixture(scope="module")
def reference(sweep_file, tmp_path_factory) -> Path:
    """The uninterrupted sweep, in this process (one torch thread, as the workers): the same numbers."""
    root = tmp_path_factory.mktemp("reference")
    result = vanishing.sweep(sweep_file, workers=0, results=root, display="silent")
    assert result.complete
    return root


def test_a_sweep_killed_three_times_ends_like_an_uninterrupted_one(sweep_file, reference, tmp_path):
    root = tmp_path / "killed"
    moments = [
        # 1. during the first epochs: the first batch's joint checkpoint exists, nothing finished
        lambda lines: any(root.glob("batches/*/checkpoint.pt")),
        # 2. after the second run of this invocation ended
        lambda lines: count("done")(lines) >= 2,
        # 3. in the middle of the next batch or run: as soon as a task starts after one more run ended
        lambda lines: count("done")(lines) >= 1 and count("batch")(lines) + count("start")(lines) >= 2,
    ]
    killed_with_work_left = 0
    for moment in moments:
        proc = start(sweep_file, root)
        lines = Lines(proc)
        assert lines.wait_for(lambda ls: moment(ls) or proc.poll() is not None, timeout=90)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed_with_work_left += 1
        proc.wait(timeout=30)
        lines.thread.join(timeout=10)
        time.sleep(0.3)  # the workers die with their driver (PR_SET_PDEATHSIG / watchdog)
    assert killed_with_work_left == 3
    states = {r[1] for r in index_rows(root)}
    assert states - {"done"}  # the last kill left work: leases of a dead driver
    complete(sweep_file, root)
    assert_same_results(reference, root)


def test_two_sweeps_on_one_results_root_keep_the_index_consistent(sweep_file, reference, tmp_path):
    root = tmp_path / "concurrent"
    a, b = start(sweep_file, root, workers=1), start(sweep_file, root, workers=1)  # one core each
    out_a, out_b = Lines(a), Lines(b)
    assert a.wait(timeout=180) == 0 and b.wait(timeout=180) == 0
    out_a.thread.join(timeout=10)
    out_b.thread.join(timeout=10)
    trained_a = count("done")(out_a.lines)
    trained_b = count("done")(out_b.lines)
    assert trained_a + trained_b == N_RUNS, "".join(out_a.lines + out_b.lines)  # each run trained by exactly one of them
    assert_same_results(reference, root)


def worker_pids(driver_pid: int) -> list[int]:
    return [pid for pid in children(driver_pid) if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def test_ctrl_c_stops_cleanly_then_a_killed_worker_is_retried(sweep_file, reference, tmp_path):
    root = tmp_path / "ctrl-c"
    # 1. Ctrl-C: the driver and its workers all get SIGINT (own process group, as a terminal's foreground job)
    proc = start(sweep_file, root, session=True)
    lines = Lines(proc)
    assert lines.wait_for(lambda ls: any(root.glob("runs/*/epochs.json")), timeout=90)
    os.killpg(proc.pid, signal.SIGINT)
    code = proc.wait(timeout=60)
    lines.thread.join(timeout=10)
    text = "".join(lines.lines)
    assert code == 130 and "interrupted: run the same sweep again to resume" in text, text
    rows = index_rows(root)
    assert "interrupted" in {r[1] for r in rows} and "running" not in {r[1] for r in rows} and all(r[2] is None for r in rows)
    # 2. resume; a worker killed in the middle of a task is replaced and its task retried
    proc = start(sweep_file, root)
    lines = Lines(proc)
    assert lines.wait_for(lambda ls: count("batch")(ls) + count("start")(ls) >= 1 and worker_pids(proc.pid), timeout=90)
    time.sleep(0.3)
    os.kill(worker_pids(proc.pid)[0], signal.SIGKILL)
    code = proc.wait(timeout=120)
    lines.thread.join(timeout=10)
    text = "".join(lines.lines)
    assert code == 0 and "worker lost" in text and "retrying" in text, text
    assert_same_results(reference, root)
