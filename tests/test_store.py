"""The results store: atomic writes, the index's leases, load() schema."""

import json
import os
import subprocess
import sys
import time

import pytest

from vanishing.errors import StoreError
from vanishing.store import Index
from vanishing.store.atomic import torch_load, write_json, write_atomic


def test_write_json_is_atomic_and_leaves_no_temp_on_failure(tmp_path):
    target = tmp_path / "x.json"
    write_json(target, {"a": 1})

    def boom(fh):
        fh.write(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(StoreError, match="x.json: cannot write \\(No space left on device\\)"):
        write_atomic(target, boom)
    assert json.loads(target.read_text()) == {"a": 1}  # old content intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]  # no temp file left


def test_unreadable_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "checkpoint.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(StoreError, match="checkpoint.pt: unreadable checkpoint"):
        torch_load(bad)
    assert torch_load(tmp_path / "missing.pt") is None


def test_checkpoint_loading_refuses_pickled_code(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    import torch

    path = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, path, pickle_module=pickle)
    with pytest.raises(StoreError):
        torch_load(path)
    assert not (tmp_path / "pwned").exists()


def test_claim_is_exclusive_until_finished(tmp_path):
    index = Index(tmp_path)
    assert index.claim("r1", "h", 0, {})[0] == "claimed"
    # while it runs nobody may claim it, not even the same process a second time
    assert index.claim("r1", "h", 0, {})[0] == "busy"
    index.finish("r1", "done", {"epochs_done": 3, "test_acc": 0.9})
    state, row = index.claim("r1", "h", 0, {})
    assert state == "final" and row["status"] == "done" and row["epochs_done"] == 3


def test_lease_of_a_live_other_process_is_respected_and_a_dead_one_reclaimed(tmp_path):
    index = Index(tmp_path)
    code = (
        "import sys, time; sys.path.insert(0, %r); from vanishing.store import Index; "
        "print(Index(%r).claim('r2', 'h', 0, {})[0], flush=True); time.sleep(30)"
    ) % (str(__import__('pathlib').Path(__file__).parents[1] / "src"), str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "claimed"
        state, row = index.claim("r2", "h", 0, {})
        assert state == "busy" and row["pid"] == proc.pid
    finally:
        proc.kill()
        proc.wait()
    assert index.claim("r2", "h", 0, {})[0] == "claimed"  # holder is dead on this host


def test_stale_heartbeat_is_reclaimed(tmp_path):
    index = Index(tmp_path, lease_timeout=60)
    index.claim("r3", "h", 0, {})
    with index._transaction() as con:  # another host holds it with a fresh heartbeat
        con.execute("UPDATE runs SET host='elsewhere', pid=1, heartbeat=? WHERE run_id='r3'", (time.time(),))
    assert index.claim("r3", "h", 0, {})[0] == "busy"
    with index._transaction() as con:  # its heartbeat is now older than the lease
        con.execute("UPDATE runs SET heartbeat=? WHERE run_id='r3'", (time.time() - 61,))
    assert index.claim("r3", "h", 0, {})[0] == "claimed"


def test_unwritable_results_root(tmp_path):
    from vanishing.store import Store

    root = tmp_path / "ro"
    root.mkdir()
    os.chmod(root, 0o500)
    try:
        if os.access(root, os.W_OK):  # running as root: permissions are not enforced
            root = tmp_path / "file-in-the-way"
            root.write_text("x")
        with pytest.raises(StoreError, match="results root|cannot create"):
            Store(root / "results" if root.is_file() else root)
    finally:
        os.chmod(tmp_path / "ro", 0o700)


def test_probe_tables_round_trip_without_pickle(tmp_path):
    import numpy as np

    from vanishing.store.results import read_probe_tables
    from vanishing.store.rundir import write_probe_table

    table = {
        "epoch": np.array([0, 0, 5]),
        "layer": np.array(["hidden1", "hidden2", "hidden1"]),
        "sparsity": np.array([0.5, np.nan, 0.8]),
        "defined": np.array([True, False, True]),
    }
    write_probe_table(tmp_path / "probes", "sparsity", table)
    assert [p.name for p in (tmp_path / "probes").iterdir()] == ["sparsity.npz"]  # no temp file left
    frame = read_probe_tables(tmp_path / "probes")["sparsity"]
    assert list(frame.columns) == list(table) and frame["layer"].tolist() == ["hidden1", "hidden2", "hidden1"]
    assert frame["sparsity"].isna().tolist() == [False, True, False] and frame["defined"].tolist() == [True, False, True]
    with pytest.raises(StoreError, match="expected a 1-d numeric"):
        write_probe_table(tmp_path / "probes", "bad", {"x": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(StoreError, match="letters, digits and underscores"):
        write_probe_table(tmp_path / "probes", "../escape", table)
    np.savez(tmp_path / "probes" / "evil.npz", x=np.array([{"code": 1}], dtype=object))  # a pickled column
    with pytest.raises(StoreError, match="unreadable probe table"):
        read_probe_tables(tmp_path / "probes")


def test_atomic_files_get_the_usual_permissions(tmp_path):
    import stat

    from vanishing.store.atomic import FILE_MODE, write_bytes

    write_bytes(tmp_path / "r.html", b"x")
    assert stat.S_IMODE((tmp_path / "r.html").stat().st_mode) == FILE_MODE
    assert FILE_MODE & 0o044  # readable by others under a usual umask (022), unlike mkstemp's 0600


def test_a_crash_between_checkpoint_and_epochs_json_loses_no_epoch(tmp_path):
    """Killed after checkpoint.pt of the last epoch but before epochs.json: the resumed run ends with every epoch."""
    import vanishing
    from vanishing.config import RunConfig, with_overrides
    from vanishing.store import atomic

    config = with_overrides(RunConfig(), {"data.train_subset": 300, "model.hidden": [8], "train.epochs": 2,
                                          "probes.enabled": ["none"]})
    ex = vanishing.ExecConfig(results=str(tmp_path))
    real = atomic.write_json

    class Killed(BaseException):
        pass

    def crash_on_last_epochs_json(path, obj):
        if path.name == "epochs.json" and len(obj) == 2:
            raise Killed  # as if SIGKILLed right after the checkpoint of epoch 2
        real(path, obj)

    import vanishing.store.rundir as rundir

    rundir.write_json, saved = crash_on_last_epochs_json, rundir.write_json
    try:
        with pytest.raises(Killed):
            vanishing.run(config, ex)
    finally:
        rundir.write_json = saved
    run_dir = next((tmp_path / "runs").iterdir())
    assert len(json.loads((run_dir / "epochs.json").read_text())) == 1  # one epoch behind the checkpoint
    with Index(tmp_path)._transaction() as con:  # the "killed" holder's lease is stale, as a dead process's would be
        con.execute("UPDATE runs SET heartbeat = 0, host = 'gone'")
    result = vanishing.run(config, ex)
    assert result.status == "done"
    assert len(json.loads((run_dir / "epochs.json").read_text())) == 2
    assert len(vanishing.load(tmp_path).epochs) == 2


@pytest.mark.parametrize(
    "file, content, message",
    [
        ("config.json", ["not", "a", "run"], "config.json: not a run's config"),
        ("config.json", {"run_id": "r", "config_hash": "h"}, "config.json: not a run's config"),
        ("summary.json", [1, 2], "summary.json: not a run summary"),
        ("epochs.json", {"epoch": 1}, "epochs.json: not per-epoch metrics"),
        ("epochs.json", [1, 2], "epochs.json: not per-epoch metrics"),
        ("probes/sparsity.npz", b"PK\x03\x04 torn", "sparsity.npz: unreadable probe table"),
    ],
)
def test_a_malformed_run_directory_is_one_line_naming_the_file(tmp_path, file, content, message):
    """A hand-edited or foreign folder under runs/ must not surface as a KeyError deep inside pandas."""
    import vanishing

    run = tmp_path / "runs" / "r-s0"
    (run / "probes").mkdir(parents=True)
    write_json(run / "config.json", {"run_id": "r-s0", "config_hash": "h", "config": {"seed": 0}})
    target = run / file
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(json.dumps(content))
    with pytest.raises(StoreError) as err:
        vanishing.load(tmp_path)
    assert message in str(err.value) and "\n" not in str(err.value)
