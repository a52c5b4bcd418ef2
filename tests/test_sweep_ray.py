"""The Ray executor on a local Ray instance: same results as the local executor; a killed Ray worker is retried.

Ray is a dev dependency (``vanishing[ray]`` for users): these tests run in CI
and fail, not skip, when it is missing.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import ray

import vanishing

BASE = {"data": {"dataset": "mnist-sample", "train_subset": 900}, "train": {"batch_size": 64},
        "model": {"hidden": [24]}, "probes": {"enabled": ["minimal"]}}


def sweep_kwargs(root: Path, epochs: int) -> dict:
    return dict(base={**BASE, "train": {**BASE["train"], "epochs": epochs}},
                grid={"model.activation": ["relu", "rrelu"]}, seeds=[0, 1], results=root, display="silent")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})
    yield
    ray.shutdown()


def epochs_of(root: Path) -> pd.DataFrame:
    frame = vanishing.load(root).epochs.drop(columns=["epoch_time_s", "eval_time_s"])
    return frame.sort_values(["run_id", "epoch"]).reset_index(drop=True)


def index_statuses(root: Path) -> list[tuple]:
    with sqlite3.connect(root / "index.sqlite") as con:
        return con.execute("SELECT run_id, status FROM runs ORDER BY run_id").fetchall()


@pytest.mark.parametrize("storage", ["shared", "return"])
def test_ray_gives_the_same_results_table_as_local(local_ray, tmp_path, storage):
    local = vanishing.sweep(**sweep_kwargs(tmp_path / "local", 3), workers=0)
    remote = vanishing.sweep(**sweep_kwargs(tmp_path / "ray", 3), executor="ray", ray_storage=storage)
    assert remote.complete and len(remote.runs) == 4
    assert [len(t.runs) for t in remote.tasks] == [len(t.runs) for t in local.tasks]  # same batching: relu seeds together
    pd.testing.assert_frame_equal(remote.runs.drop(columns=["path", "train_time_s"]), local.runs.drop(columns=["path", "train_time_s"]))
    pd.testing.assert_frame_equal(epochs_of(tmp_path / "ray"), epochs_of(tmp_path / "local"), check_exact=True)
    assert {s for _, s in index_statuses(tmp_path / "ray")} == {"done"}
    assert not list((tmp_path / "ray").glob(".ray-driver-*"))  # the driver's token is removed


def ray_task_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"ray::vanishing_train"):
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def test_a_killed_ray_worker_is_retried_and_the_sweep_completes(local_ray, tmp_path):
    root = tmp_path / "ray"
    kwargs = sweep_kwargs(root, 12)
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(r=vanishing.sweep(**kwargs, executor="ray")), daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    killed = None
    while time.monotonic() < deadline and killed is None and thread.is_alive():
        if list(root.glob("runs/*/epochs.json")):
            pids = ray_task_pids()
            if pids:
                os.kill(pids[0], signal.SIGKILL)
                killed = pids[0]
        time.sleep(0.05)
    assert killed is not None, "no Ray task process to kill"
    thread.join(timeout=180)
    assert not thread.is_alive()
    res = result["r"]
    assert res.complete and res.counts["done"] == 4
    assert sorted(s for _, s in index_statuses(root)) == ["done"] * 4
    reference = vanishing.sweep(**sweep_kwargs(tmp_path / "reference", 12), workers=0)
    assert reference.complete
    # the retried task resumed from its last checkpoint (shared storage): the numbers are those of an uninterrupted run
    pd.testing.assert_frame_equal(epochs_of(root), epochs_of(tmp_path / "reference"), check_exact=True)
