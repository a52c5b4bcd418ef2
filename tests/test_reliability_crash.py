"""Reliability, crashes: SIGKILL at a known point of a checkpoint write, an index update and a report write.

Each case forks a child that trains a tiny run (or writes a report) with
one writer monkeypatched to stop at a precise point — half of the temporary
checkpoint written, a SQLite transaction executed but not committed, half of
report.html written — and to drop a marker file there. The test waits for
the marker and SIGKILLs the child, so the kill lands exactly at that point
every time. Then it checks that the store is consistent (every file under a
real name whole, the index intact, no run that looks done but is not,
``vanishing.load`` works), and that the next call completes the run with
the metrics and probe tables of an uninterrupted one.

Forking (instead of starting a fresh interpreter) keeps each case under a
second: the child already has torch imported. The child never returns into
pytest: it leaves with ``os._exit``.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

import vanishing
from vanishing.config import ExecConfig, RunConfig, resolve, with_overrides
from vanishing.store.atomic import torch_load

TINY = {
    "data.dataset": "mnist-sample", "data.train_subset": 300, "model.hidden": [8], "train.epochs": 3,
    "train.batch_size": 64, "probes.enabled": ["minimal"],
}


def tiny_config() -> RunConfig:
    return resolve(with_overrides(RunConfig(), TINY))


def exec_config(root: Path) -> ExecConfig:
    return ExecConfig(results=str(root), device="cpu", threads=1, progress=False)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The same run, uninterrupted."""
    root = tmp_path_factory.mktemp("reference")
    assert vanishing.run(tiny_config(), exec_config(root)).status == "done"
    return root


# --------------------------------------------------------------------------- the child and the kill


def _pause(marker: Path) -> None:
    marker.write_text(str(os.getpid()))
    time.sleep(300)  # the parent SIGKILLs us here
    os._exit(3)


def _install_fault(fault: str, marker: Path) -> None:
    """In the child: make the writer named by ``fault`` stop at its critical point."""
    import vanishing.store.atomic as atomic
    from vanishing.store.index import Index

    if fault in ("checkpoint-write", "checkpoint-renamed", "last-checkpoint-renamed", "report-write"):
        target, nth = {"checkpoint-write": ("checkpoint.pt", 2), "checkpoint-renamed": ("epochs.json", 2),
                       "last-checkpoint-renamed": ("epochs.json", 3), "report-write": ("report.html", 1)}[fault]
        original, calls = atomic.write_atomic, {"n": 0}

        def write_atomic(path, write):
            if Path(path).name == target:
                calls["n"] += 1
                if calls["n"] == nth:
                    if fault.endswith("checkpoint-renamed"):  # the epoch's checkpoint is in place, epochs.json not yet
                        _pause(marker)
                    buffer = io.BytesIO()
                    write(buffer)
                    data = buffer.getvalue()

                    def half(fh):  # the temporary file holds half of the bytes when the kill lands
                        fh.write(data[: len(data) // 2])
                        fh.flush()
                        os.fsync(fh.fileno())
                        _pause(marker)

                    return original(path, half)
            return original(path, write)

        atomic.write_atomic = write_atomic
        return

    method, nth = {"index-claim": ("claim", 1), "index-heartbeat": ("heartbeat", 2), "index-finish": ("finish", 1)}[fault]
    inside, calls = {"name": None}, {"n": 0}
    original_tx = Index._transaction
    original_method = getattr(Index, method)

    def wrapped(self, *args, **kwargs):
        inside["name"] = method
        try:
            return original_method(self, *args, **kwargs)
        finally:
            inside["name"] = None

    @contextmanager
    def transaction(self):
        with original_tx(self) as con:
            yield con
            if inside["name"] == method:  # the statements ran; COMMIT has not
                calls["n"] += 1
                if calls["n"] == nth:
                    _pause(marker)

    setattr(Index, method, wrapped)
    Index._transaction = transaction


def kill_at(fault: str, root: Path, tmp_path: Path, action) -> None:
    """Fork a child that runs ``action()`` with ``fault`` installed; SIGKILL it at the marker."""
    marker = tmp_path / f"marker-{fault}"
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            _install_fault(fault, marker)
            action()
            code = 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + 120
    while not marker.exists():
        done, status = os.waitpid(pid, os.WNOHANG)
        assert done == 0, f"the child ended (status {status}) before reaching the fault point {fault}"
        assert time.monotonic() < deadline, f"the child never reached {fault}"
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


# --------------------------------------------------------------------------- what "consistent" means


def assert_consistent(root: Path) -> None:
    """No torn file under a real name, an intact index, no run that looks done but is not, load() works."""
    if (root / "index.sqlite").exists():
        with sqlite3.connect(root / "index.sqlite") as con:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for run in (root / "runs").iterdir() if (root / "runs").is_dir() else []:
        for file in run.rglob("*"):
            if file.is_dir():
                continue
            if file.name.startswith("."):
                assert file.name.endswith(".tmp"), file  # only a killed write's temporary file, never read
                continue
            if file.suffix == ".json":
                json.loads(file.read_text())
            elif file.suffix == ".npz":
                with np.load(file, allow_pickle=False) as npz:
                    [npz[k] for k in npz.files]
        history = json.loads((run / "epochs.json").read_text()) if (run / "epochs.json").exists() else []
        checkpoint = torch_load(run / "checkpoint.pt")
        if checkpoint is not None:  # epochs.json trails the checkpoint by at most the epoch being saved
            assert checkpoint["history"][: len(history)] == history and len(checkpoint["history"]) - len(history) in (0, 1)
        summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").exists() else None
        if summary is not None and summary["status"] == "done":
            config = json.loads((run / "config.json").read_text())["config"]
            assert len(history) == summary["epochs_done"] == config["train"]["epochs"]
            assert len(checkpoint["history"]) == config["train"]["epochs"]
    runs = vanishing.load(root).runs
    for _, row in runs.iterrows():
        if row["status"] == "done":
            assert (Path(row["path"]) / "summary.json").exists()


def strip_times(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in h.items() if not k.endswith("time_s")} for h in history]


def assert_like_reference(root: Path, reference: Path) -> None:
    got, ref = vanishing.load(root), vanishing.load(reference)
    assert got.runs["status"].tolist() == ["done"] and got.runs["run_id"].tolist() == ref.runs["run_id"].tolist()
    with sqlite3.connect(root / "index.sqlite") as con:
        rows = con.execute("SELECT run_id, status, pid FROM runs").fetchall()
    assert rows == [(ref.runs["run_id"][0], "done", None)]  # recorded once, lease released
    cols = [c for c in got.epochs.columns if not c.endswith("time_s")]
    assert got.epochs[cols].to_dict("records") == ref.epochs[cols].to_dict("records")
    assert sorted(got.probes) == sorted(ref.probes)
    for name, table in ref.probes.items():
        assert got.probes[name].equals(table), name
    run = Path(got.runs["path"][0])
    assert not [p.name for p in run.rglob(".*.tmp")]  # the resumed run removed the killed write's temp file


# --------------------------------------------------------------------------- the cases


@pytest.mark.parametrize(
    "fault, epochs_kept, temp_left",
    [
        ("checkpoint-write", 1, True),  # epoch 2's checkpoint half written in its temp file
        ("checkpoint-renamed", 1, False),  # epoch 2's checkpoint renamed into place, epochs.json still at epoch 1
        ("last-checkpoint-renamed", 2, False),  # the same at the last epoch: nothing left to train, epochs.json rewritten
        ("index-claim", 0, False),  # the claim's INSERT executed, not committed
        ("index-heartbeat", 2, False),  # epoch 2 saved; its index heartbeat executed, not committed
    ],
)
def test_sigkill_mid_write_leaves_a_consistent_store_and_the_run_resumes(fault, epochs_kept, temp_left, reference, tmp_path):
    root = tmp_path / "root"
    config = tiny_config()
    kill_at(fault, root, tmp_path, lambda: vanishing.run(config, exec_config(root)))
    assert_consistent(root)
    runs = vanishing.load(root).runs
    if fault == "index-claim":  # the transaction never committed: no row, no run directory, nothing half-made
        assert runs.empty
        with sqlite3.connect(root / "index.sqlite") as con:
            assert con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
    else:
        assert runs["status"].tolist() == ["running"]  # not done: a dead process's lease, taken over below
        run = Path(runs["path"][0])
        assert len(json.loads((run / "epochs.json").read_text())) == epochs_kept
        assert not (run / "summary.json").exists()
        assert bool(list(run.glob(".checkpoint.pt.*.tmp"))) == temp_left
    result = vanishing.run(config, exec_config(root))  # the next call, in another process: resumes
    assert result.status == "done"
    assert_like_reference(root, reference)


def test_sigkill_between_summary_and_index_keeps_the_finished_run(reference, tmp_path):
    """Killed after summary.json says done, inside the index's finish transaction: the run is not lost or redone."""
    root = tmp_path / "root"
    config = tiny_config()
    kill_at("index-finish", root, tmp_path, lambda: vanishing.run(config, exec_config(root)))
    assert_consistent(root)
    with sqlite3.connect(root / "index.sqlite") as con:
        assert con.execute("SELECT status FROM runs").fetchall() == [("running",)]  # the index lags behind
    assert vanishing.load(root).runs["status"].tolist() == ["done"]  # the run directory is the source of truth
    result = vanishing.run(config, exec_config(root))
    assert result.already_done and result.status == "done"  # reconciled, not trained again
    assert_like_reference(root, reference)


def test_sigkill_during_report_write_keeps_the_old_page_and_the_store(reference, tmp_path, capsys):
    import shutil

    from vanishing.cli import main

    root = tmp_path / "root"
    shutil.copytree(reference, root)
    (root / "report.html").write_text("<html>the previous report</html>")
    def store_files() -> dict[Path, bytes]:  # everything but the page and SQLite's own files
        return {p: p.read_bytes() for p in root.rglob("*")
                if p.is_file() and p.name != "report.html" and not p.name.startswith(("index.sqlite", ".report.html."))}

    before = store_files()
    kill_at("report-write", root, tmp_path, lambda: main(["report", str(root), "--no-figure-files"]))
    assert (root / "report.html").read_text() == "<html>the previous report</html>"  # whole, the old one
    assert [p.name.startswith(".report.html.") for p in root.glob(".*.tmp")] == [True]  # half a page, hidden
    assert store_files() == before  # the store is untouched
    assert_consistent(root)
    assert main(["report", str(root), "--no-figure-files"]) == 0  # the next attempt writes the page
    page = (root / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert vanishing.load(root).runs["run_id"][0] in page
    capsys.readouterr()
