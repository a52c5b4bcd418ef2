"""Reliability, disk: a full disk and an unwritable results root, injected and real.

How the faults are made:

* ENOSPC injected — ``vanishing.store.atomic.write_atomic`` is wrapped so
  that the file object handed to the writer accepts N bytes and then raises
  ``OSError(ENOSPC)``, as a full disk does (the bytes that fit are written);
* a real full disk — the results root on a 200 KiB ``tmpfs`` (skipped where
  ``mount`` is not permitted), later remounted larger;
* an unwritable root — as root ``chmod`` changes nothing, so: a path under
  a regular file (always), and ``chattr +i`` on the root or on a run
  directory in the middle of a run (skipped where chattr is not permitted).

Every case ends with one clear line naming the file, a consistent store
(the last finished epoch's checkpoint whole, no temporary file, a status
that is not ``done``), a finished run untouched, and a retry that resumes
to the metrics of an uninterrupted run.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

import vanishing
from vanishing.config import ExecConfig, RunConfig, resolve, with_overrides
from vanishing.errors import DataError, StoreError, UsageError
from vanishing.store.atomic import torch_load

TINY = {
    "data.dataset": "mnist-sample", "data.train_subset": 300, "model.hidden": [8], "train.epochs": 3,
    "train.batch_size": 64, "probes.enabled": ["minimal"],
}
NO_SPACE = os.strerror(errno.ENOSPC)  # "No space left on device"


def tiny_config(**overrides) -> RunConfig:
    return resolve(with_overrides(RunConfig(), {**TINY, **overrides}))


def exec_config(root: Path) -> ExecConfig:
    return ExecConfig(results=str(root), device="cpu", threads=1, progress=False)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> vanishing.store.Results:
    root = tmp_path_factory.mktemp("reference")
    assert vanishing.run(tiny_config(), exec_config(root)).status == "done"
    return vanishing.load(root)


def assert_like_reference(root: Path, reference, run_id: str) -> None:
    got = vanishing.load(root)
    row = got.runs.set_index("run_id").loc[run_id]
    assert row["status"] == "done"
    cols = [c for c in reference.epochs.columns if not c.endswith("time_s")]
    assert got.epochs[got.epochs.run_id == run_id][cols].to_dict("records") == reference.epochs[cols].to_dict("records")
    for name, table in reference.probes.items():
        mine = got.probes[name]
        assert mine[mine.run_id == run_id].reset_index(drop=True).equals(table), name
    with sqlite3.connect(root / "index.sqlite") as con:
        assert con.execute("SELECT status, pid FROM runs WHERE run_id=?", (run_id,)).fetchall() == [("done", None)]


def assert_failed_cleanly(run: Path, epochs_kept: int, message_part: str) -> None:
    """The last finished epoch's files whole, no temporary file, recorded ``failed`` (not done) with the reason."""
    assert not [p.name for p in run.rglob(".*.tmp")]
    history = json.loads((run / "epochs.json").read_text()) if epochs_kept else []
    assert len(history) == epochs_kept
    checkpoint = torch_load(run / "checkpoint.pt")
    assert (checkpoint is None and epochs_kept == 0) or checkpoint["history"] == history
    root = run.parent.parent
    row = vanishing.load(root).runs.set_index("run_id").loc[run.name]
    assert row["status"] == "failed" and message_part in row["message"]
    with sqlite3.connect(root / "index.sqlite") as con:
        status, pid = con.execute("SELECT status, pid FROM runs WHERE run_id=?", (run.name,)).fetchone()
    assert (status, pid) == ("failed", None)  # the lease is released: a retry may take the run at once


# --------------------------------------------------------------------------- ENOSPC injected


class FullFile:
    """A file object on a disk with ``room`` bytes left: writes what fits, then raises ENOSPC."""

    def __init__(self, fh, room: int) -> None:
        self.fh, self.room = fh, room

    def write(self, data) -> int:
        data = bytes(data)
        if len(data) > self.room:
            self.fh.write(data[: self.room])
            self.room = 0
            raise OSError(errno.ENOSPC, NO_SPACE)
        self.room -= len(data)
        return self.fh.write(data)

    def __getattr__(self, name):
        return getattr(self.fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.fh.close()


@pytest.fixture
def disk(monkeypatch):
    """``disk.fill(predicate)``: from now on, atomic writes to paths where ``predicate(path)`` hit a full disk."""
    import vanishing.store.atomic as atomic

    original = atomic.write_atomic

    class Disk:
        full = staticmethod(lambda path: False)
        hits: list[str] = []

        def fill(self, predicate, room: int = 100) -> None:
            self.full = predicate
            self.room = room

        def free(self) -> None:
            self.full = lambda path: False

    state = Disk()

    def write_atomic(path, write):
        if state.full(Path(path)):
            state.hits.append(Path(path).name)
            return original(path, lambda fh: write(FullFile(fh, state.room)))
        return original(path, write)

    import vanishing.store.rundir as rundir

    monkeypatch.setattr(atomic, "write_atomic", write_atomic)
    monkeypatch.setattr(rundir, "write_atomic", write_atomic)  # probe tables (imported by name there)
    return state


class FillAfterEpoch:
    """on_epoch hook: after ``epoch`` finished epochs, fill the disk for the paths ``predicate`` selects."""

    def __init__(self, disk, epoch: int, predicate) -> None:
        self.disk, self.epoch, self.predicate = disk, epoch, predicate

    def __call__(self, metrics: dict) -> None:
        if metrics["epoch"] == self.epoch:
            self.disk.fill(self.predicate)


def test_disk_full_at_a_checkpoint_write_fails_the_run_and_a_retry_resumes(disk, reference, tmp_path):
    root = tmp_path / "root"
    neighbour = vanishing.run(tiny_config(seed=1), exec_config(root))  # a finished run in the same root
    kept = {p: p.read_bytes() for p in neighbour.path.rglob("*") if p.is_file()}
    config = tiny_config()
    with pytest.raises(StoreError) as err:
        vanishing.run(config, exec_config(root), on_epoch=FillAfterEpoch(disk, 1, lambda p: p.name == "checkpoint.pt"))
    message = str(err.value)
    assert message.endswith(f"checkpoint.pt: cannot write ({NO_SPACE})") and "\n" not in message
    run = root / "runs" / vanishing.config.run_id(config)
    assert_failed_cleanly(run, epochs_kept=1, message_part=NO_SPACE)
    assert {p: p.read_bytes() for p in neighbour.path.rglob("*") if p.is_file()} == kept  # untouched
    disk.free()
    result = vanishing.run(config, exec_config(root))
    assert result.status == "done" and result.resumed_from_epoch == 1
    assert_like_reference(root, reference, result.run_id)


def test_disk_full_everywhere_keeps_the_cause_and_releases_the_lease(disk, reference, tmp_path):
    """Checkpoint and summary.json both refused: the error names the first failure, and a retry in the SAME
    process (a notebook, after freeing space) resumes instead of finding its own lease "busy"."""
    root = tmp_path / "root"
    config = tiny_config()
    with pytest.raises(StoreError, match=rf"checkpoint.pt: cannot write \({NO_SPACE}\)$"):
        vanishing.run(config, exec_config(root), on_epoch=FillAfterEpoch(disk, 1, lambda p: True))
    assert disk.hits[:2] == ["checkpoint.pt", "summary.json"]
    run = root / "runs" / vanishing.config.run_id(config)
    assert not (run / "summary.json").exists()
    assert_failed_cleanly(run, epochs_kept=1, message_part="checkpoint.pt: cannot write")
    disk.free()
    result = vanishing.run(config, exec_config(root))
    assert result.status == "done" and result.resumed_from_epoch == 1
    assert_like_reference(root, reference, result.run_id)


def test_disk_full_at_the_probe_tables_loses_no_training(disk, reference, tmp_path):
    root = tmp_path / "root"
    config = tiny_config()
    disk.fill(lambda p: p.suffix == ".npz")
    with pytest.raises(StoreError, match=rf"grad_norms.npz: cannot write \({NO_SPACE}\)$"):
        vanishing.run(config, exec_config(root))
    run = root / "runs" / vanishing.config.run_id(config)
    assert_failed_cleanly(run, epochs_kept=3, message_part=NO_SPACE)
    disk.free()
    result = vanishing.run(config, exec_config(root))
    assert result.status == "done" and result.resumed_from_epoch == 3  # every epoch kept: nothing trained again
    assert_like_reference(root, reference, result.run_id)


def test_disk_full_at_report_write_is_one_line_and_keeps_the_old_page(disk, reference, tmp_path, capsys):
    from vanishing.cli import main

    root = tmp_path / "root"
    shutil.copytree(reference.root, root)
    (root / "report.html").write_text("old page")
    disk.fill(lambda p: p.name == "report.html")
    assert main(["report", str(root), "--no-figure-files"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {root / 'report.html'}: cannot write ({NO_SPACE})\n"
    assert (root / "report.html").read_text() == "old page" and not list(root.glob(".*.tmp"))
    vanishing.load(root)


def test_disk_full_during_a_download_leaves_no_file(tmp_path, monkeypatch):
    import hashlib

    from vanishing.data import download

    served = tmp_path / "mirror" / "file.bin"
    served.parent.mkdir()
    served.write_bytes(os.urandom(3 << 20))
    md5 = hashlib.md5(served.read_bytes()).hexdigest()
    dest = tmp_path / "cache" / "file.bin"
    real_fdopen = os.fdopen
    monkeypatch.setattr(download.os, "fdopen", lambda fd, mode: FullFile(real_fdopen(fd, mode), 1 << 20))
    with pytest.raises(DataError) as err:
        download.fetch([served.as_uri()], dest, md5, note=lambda line: None)
    assert str(err.value) == f"{dest.parent}: cannot write the download ({NO_SPACE})"
    assert list(dest.parent.iterdir()) == []  # neither the file nor its .part
    monkeypatch.undo()
    assert download.fetch([served.as_uri()], dest, md5, note=lambda line: None) == dest
    assert dest.read_bytes() == served.read_bytes()


# --------------------------------------------------------------------------- a real full disk


@pytest.fixture
def small_tmpfs(tmp_path):
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({made.stderr.decode().strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_really_full_file_system_gives_a_clear_error_and_the_run_resumes(small_tmpfs, reference):
    """200 KiB hold the index, epoch 1's checkpoint (~115 KB) but not a second one beside it."""
    root = small_tmpfs / "results"
    config = tiny_config()
    with pytest.raises(UsageError) as err:  # a StoreError, never torch's "enforce fail at inline_container.cc"
        vanishing.run(config, exec_config(root))
    assert str(err.value).endswith(f": cannot write ({NO_SPACE})"), err.value
    run = root / "runs" / vanishing.config.run_id(config)
    assert_failed_cleanly(run, epochs_kept=1, message_part=NO_SPACE)
    subprocess.run(["mount", "-o", "remount,size=4m", str(small_tmpfs)], check=True)
    result = vanishing.run(config, exec_config(root))
    assert result.status == "done" and result.resumed_from_epoch == 1
    assert_like_reference(root, reference, result.run_id)


# --------------------------------------------------------------------------- an unwritable results root


def immutable(path: Path, on: bool) -> None:
    done = subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"chattr not permitted here ({done.stderr.decode().strip()})")


@pytest.mark.parametrize("command", ["run", "report", "status"])
def test_a_results_root_under_a_file_is_one_line_exit_2(command, tmp_path, capsys):
    from vanishing.cli import main

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    root = blocker / "results"
    args = {"run": ["run", "--dataset", "mnist-sample", "--train-subset", "200", "--hidden", "8", "--epochs", "1",
                    "--results", str(root)],
            "report": ["report", str(tmp_path), "--out", str(root / "report.html")],
            "status": ["status", str(root)]}[command]
    if command == "report":
        vanishing.run(tiny_config(**{"train.epochs": 1}), exec_config(tmp_path))
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {blocker}"), err
    assert blocker.read_text() == "x"


def test_an_immutable_results_root_is_refused_before_training(tmp_path, capsys):
    from vanishing.cli import main

    root = tmp_path / "root"
    root.mkdir()
    immutable(root, True)
    try:
        assert main(["run", "--dataset", "mnist-sample", "--train-subset", "200", "--hidden", "8", "--results", str(root)]) == 2
        assert capsys.readouterr().err == f"error: {root}: cannot create the results root (Operation not permitted)\n"
        assert list(root.iterdir()) == []
    finally:
        immutable(root, False)


def test_a_run_directory_turned_read_only_mid_run_fails_cleanly_and_resumes(reference, tmp_path):
    root = tmp_path / "root"
    config = tiny_config()
    run = root / "runs" / vanishing.config.run_id(config)
    frozen = []

    def freeze(metrics):
        if metrics["epoch"] == 1:
            immutable(run, True)
            frozen.append(run)

    try:
        with pytest.raises(StoreError, match=r"checkpoint.pt: cannot write \(Operation not permitted\)$"):
            vanishing.run(config, exec_config(root), on_epoch=freeze)
    finally:
        for path in frozen:
            immutable(path, False)
    assert_failed_cleanly(run, epochs_kept=1, message_part="Operation not permitted")
    result = vanishing.run(config, exec_config(root))
    assert result.status == "done" and result.resumed_from_epoch == 1
    assert_like_reference(root, reference, result.run_id)
