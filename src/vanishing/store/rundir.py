"""A results root and its run directories.

Layout::

    <root>/index.sqlite              the run index (see .index)
    <root>/runs/<run_id>/config.json  resolved config, run id, config hash, package version, environment
    <root>/runs/<run_id>/checkpoint.pt  model, optimizer, RNG and history after the last finished epoch
    <root>/runs/<run_id>/epochs.json   per-epoch metrics so far (list of records)
    <root>/runs/<run_id>/summary.json  final status and headline metrics (written last)
    <root>/runs/<run_id>/probes/<table>.npz  probe tables (numpy columns, no pickle; see .results)

Every file is written atomically. ``summary.json`` is written only when the
run ends, after its last checkpoint, and the index row is updated after
that, so a crash at any point never leaves a run that looks finished but is
not; the run directory is the source of truth and the index follows it.
"""

from __future__ import annotations

import os
import platform
import socket
import sys
import time
from pathlib import Path
from typing import Any

from ..config import RunConfig, config_hash, run_id, to_dict
from ..errors import StoreError
from .atomic import read_json, torch_load, torch_save, write_atomic, write_json
from .index import FINAL, Index


def environment() -> dict[str, Any]:
    """Versions and machine facts saved with every run (provenance)."""
    import numpy
    import torch

    from .. import __version__

    return {
        "vanishing": __version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "host": socket.gethostname(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
    }


class Store:
    """A results root: run directories plus the index."""

    def __init__(self, root: str | Path, index: bool = True) -> None:
        """``index=False``: run directories only, no SQLite (a worker that must leave the index to its driver)."""
        self.root = Path(root)
        try:
            (self.root / "runs").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.root}: cannot create the results root ({exc.strerror or exc})") from None
        if not os.access(self.root, os.W_OK) or not os.access(self.root / "runs", os.W_OK):
            raise StoreError(f"{self.root}: the results root is not writable")
        self.index = Index(self.root) if index else None

    def run_path(self, rid: str) -> Path:
        return self.root / "runs" / rid

    def open(self, config: RunConfig, exec_info: dict | None = None) -> tuple[str, "RunDir | dict"]:
        """Claim the run of a resolved config.

        Returns ``("claimed", RunDir)`` to train (fresh or resumed),
        ``("final", summary)`` when it already finished, or
        ``("busy", index_row)`` when a live process holds it.
        """
        rid, digest = run_id(config), config_hash(config)
        path = self.run_path(rid)
        summary = read_json(path / "summary.json")
        if summary is not None and summary.get("status") in FINAL:
            row = self.index.get(rid)
            if row is None or row["status"] not in FINAL:  # the index lags behind the run directory
                self.index.claim(rid, digest, config.seed, to_dict(config))
                self.index.finish(rid, summary["status"], summary)
            return "final", summary
        state, row = self.index.claim(rid, digest, config.seed, to_dict(config))
        if state == "final":
            return "final", read_json(path / "summary.json") or dict(row)
        if state == "busy":
            return "busy", row
        run = RunDir(self, rid, config)
        run.write_config(exec_info or {})
        return "claimed", run


class RunDir:
    """One run's directory; implements the training engine's ``Sink``."""

    def __init__(self, store: Store, rid: str, config: RunConfig) -> None:
        self.store = store
        self.run_id = rid
        self.config = config
        self.path = store.run_path(rid)

    def write_config(self, exec_info: dict) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot create the run directory ({exc.strerror or exc})") from None
        for stale in self.path.rglob(".*.tmp"):  # a write killed midway (SIGKILL, power loss); we hold the lease
            try:
                stale.unlink()
            except OSError:
                pass
        write_json(
            self.path / "config.json",
            {
                "run_id": self.run_id,
                "config_hash": config_hash(self.config),
                "config": to_dict(self.config),
                "exec": exec_info,
                "environment": environment(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "command": sys.argv,
            },
        )

    # -- Sink -------------------------------------------------------------
    def load_checkpoint(self) -> dict | None:
        """The last epoch's checkpoint, or None for a fresh run.

        The checkpoint is written before ``epochs.json``; a crash between the
        two leaves ``epochs.json`` one epoch behind, so it is rewritten here
        from the checkpoint's history (the source of truth) — otherwise a run
        whose last epoch was checkpointed would finish without it.
        """
        checkpoint = torch_load(self.path / "checkpoint.pt")
        if checkpoint is not None and read_json(self.path / "epochs.json") != checkpoint["history"]:
            write_json(self.path / "epochs.json", checkpoint["history"])
        return checkpoint

    def save_epoch(self, checkpoint: dict, history: list[dict]) -> None:
        torch_save(self.path / "checkpoint.pt", checkpoint)
        write_json(self.path / "epochs.json", history)
        if self.store.index is not None:
            self.store.index.heartbeat(self.run_id, len(history))

    def write_probe(self, name: str, table: dict[str, Any]) -> None:
        """Write probe table ``name`` to ``probes/<name>.npz`` atomically (1-d numpy columns, no pickle)."""
        write_probe_table(self.path / "probes", name, table)

    def finish(self, status: str, summary: dict, message: str | None = None) -> None:
        record = {**summary, "status": status, "run_id": self.run_id, "message": message}
        try:
            write_json(self.path / "summary.json", record)
        except StoreError as exc:  # e.g. a full disk: release the lease, so that the next call resumes the run
            if self.store.index is not None:
                self.store.index.finish(self.run_id, "failed", summary, f"{message}; {exc}" if message else str(exc))
            raise
        if self.store.index is not None:
            self.store.index.finish(self.run_id, status, summary, message)


def write_probe_table(folder: Path, name: str, table: dict[str, Any]) -> None:
    """Save equal-length 1-d columns as ``folder/<name>.npz`` (compressed, atomic, object arrays refused)."""
    import numpy as np

    if not name.replace("_", "").isalnum():
        raise StoreError(f"probe table name {name!r}: letters, digits and underscores only")
    columns = {key: np.asarray(col) for key, col in table.items()}
    for key, col in columns.items():
        if col.dtype == object or col.ndim != 1:
            raise StoreError(f"probe table {name}.{key}: expected a 1-d numeric, bool or text column, got {col.dtype} {col.shape}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{folder}: cannot create the probes folder ({exc.strerror or exc})") from None
    write_atomic(folder / f"{name}.npz", lambda fh: np.savez_compressed(fh, **columns))
