"""The SQLite index of a results root: one row per run, keyed by run id.

The index answers "what is the state of every run" without opening run
directories, and arbitrates who trains a run: a process *claims* a run in
one ``BEGIN IMMEDIATE`` transaction, which sets status ``running`` with a
lease (pid, host, heartbeat). Another process may take the run over only
when the lease is stale: the heartbeat is older than ``lease_timeout`` or
the holder is a dead process on this host. Final statuses (``done``,
``diverged``) are never claimed again, so a run is never recorded twice.

Statuses: pending, running, done, diverged, interrupted, failed.

The database uses WAL journaling and must live on a local disk (SQLite's
locking is unreliable on network file systems); a sweep on a cluster keeps
the index with the driver.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..errors import StoreError

FINAL = ("done", "diverged")
STATUSES = ("pending", "running", "done", "diverged", "interrupted", "failed")
LEASE_TIMEOUT_S = 600.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id       TEXT PRIMARY KEY,
    config_hash  TEXT NOT NULL,
    seed         INTEGER NOT NULL,
    status       TEXT NOT NULL,
    pid          INTEGER,
    host         TEXT,
    heartbeat    REAL,
    created      REAL NOT NULL,
    started      REAL,
    finished     REAL,
    epochs_done  INTEGER NOT NULL DEFAULT 0,
    test_acc     REAL,
    test_mcr     REAL,
    train_time_s REAL,
    message      TEXT,
    config       TEXT NOT NULL
);
"""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Index:
    """The run index at ``<root>/index.sqlite``."""

    def __init__(self, root: str | Path, lease_timeout: float = LEASE_TIMEOUT_S) -> None:
        self.path = Path(root) / "index.sqlite"
        self.lease_timeout = lease_timeout
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            con = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the run index ({exc})") from None
        try:
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA busy_timeout=60000")
            yield con
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: run index error ({exc})") from None
        finally:
            con.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def add_pending(self, run_id: str, config_hash: str, seed: int, config: dict) -> None:
        """Record a run as pending unless it is already known."""
        with self._transaction() as con:
            con.execute(
                "INSERT OR IGNORE INTO runs (run_id, config_hash, seed, status, created, config) VALUES (?,?,?,?,?,?)",
                (run_id, config_hash, seed, "pending", time.time(), json.dumps(config, sort_keys=True)),
            )

    def claim(self, run_id: str, config_hash: str, seed: int, config: dict) -> tuple[str, dict | None]:
        """Try to take the run for this process.

        Returns ``("claimed", None)``, ``("final", row)`` when the run has
        already finished, or ``("busy", row)`` when another live process
        holds a fresh lease.
        """
        now, pid, host = time.time(), os.getpid(), socket.gethostname()
        with self._transaction() as con:
            row = con.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is not None:
                row = dict(row)
                if row["status"] in FINAL:
                    return "final", row
                if row["status"] == "running" and not self._stale(row, now):
                    return "busy", row
                con.execute(
                    "UPDATE runs SET status='running', pid=?, host=?, heartbeat=?, started=?, message=NULL WHERE run_id=?",
                    (pid, host, now, now, run_id),
                )
            else:
                con.execute(
                    "INSERT INTO runs (run_id, config_hash, seed, status, pid, host, heartbeat, created, started, config)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (run_id, config_hash, seed, "running", pid, host, now, now, now, json.dumps(config, sort_keys=True)),
                )
        return "claimed", None

    def claim_many(self, entries: list[tuple[str, str, int, dict]]) -> tuple[str, dict[str, dict | None]]:
        """Claim several runs (a seed batch) in one transaction, all or none.

        ``entries``: (run_id, config_hash, seed, config). Returns
        ``("claimed", {run_id: None for each claimed, row for each final})``,
        or ``("busy", {run_id: row})`` — nothing claimed — when another live
        process holds a fresh lease on any of them.
        """
        now, pid, host = time.time(), os.getpid(), socket.gethostname()
        with self._transaction() as con:
            rows = {}
            for rid, *_ in entries:
                row = con.execute("SELECT * FROM runs WHERE run_id = ?", (rid,)).fetchone()
                rows[rid] = dict(row) if row is not None else None
            busy = {rid: r for rid, r in rows.items() if r is not None and r["status"] == "running" and not self._stale(r, now)}
            if busy:
                return "busy", busy
            out: dict[str, dict | None] = {}
            for rid, digest, seed, config in entries:
                row = rows[rid]
                if row is not None and row["status"] in FINAL:
                    out[rid] = row
                    continue
                if row is not None:
                    con.execute(
                        "UPDATE runs SET status='running', pid=?, host=?, heartbeat=?, started=?, message=NULL WHERE run_id=?",
                        (pid, host, now, now, rid),
                    )
                else:
                    con.execute(
                        "INSERT INTO runs (run_id, config_hash, seed, status, pid, host, heartbeat, created, started, config)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (rid, digest, seed, "running", pid, host, now, now, now, json.dumps(config, sort_keys=True)),
                    )
                out[rid] = None
        return "claimed", out

    def add_pending_many(self, entries: list[tuple[str, str, int, dict]]) -> None:
        """:meth:`add_pending` for many runs in one transaction."""
        now = time.time()
        with self._transaction() as con:
            con.executemany(
                "INSERT OR IGNORE INTO runs (run_id, config_hash, seed, status, created, config) VALUES (?,?,?,?,?,?)",
                [(rid, digest, seed, "pending", now, json.dumps(config, sort_keys=True)) for rid, digest, seed, config in entries],
            )

    def heartbeat_many(self, run_ids: list[str]) -> None:
        """Renew the leases of ``run_ids`` (a driver's heartbeat thread, also during long epochs)."""
        now = time.time()
        with self._transaction() as con:
            con.executemany("UPDATE runs SET heartbeat=? WHERE run_id=? AND status='running'", [(now, rid) for rid in run_ids])

    def _stale(self, row: dict, now: float) -> bool:
        if row["heartbeat"] is None or now - row["heartbeat"] > self.lease_timeout:
            return True
        if row["host"] == socket.gethostname() and row["pid"] is not None:
            return row["pid"] != os.getpid() and not _pid_alive(row["pid"])
        return False

    def heartbeat(self, run_id: str, epochs_done: int) -> None:
        with self._transaction() as con:
            con.execute(
                "UPDATE runs SET heartbeat=?, epochs_done=? WHERE run_id=? AND status='running'",
                (time.time(), epochs_done, run_id),
            )

    def finish(self, run_id: str, status: str, summary: dict, message: str | None = None) -> None:
        """Record the final status and headline metrics; the lease is released."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        with self._transaction() as con:
            con.execute(
                "UPDATE runs SET status=?, finished=?, epochs_done=?, test_acc=?, test_mcr=?, train_time_s=?,"
                " message=?, pid=NULL, heartbeat=NULL WHERE run_id=?",
                (
                    status,
                    time.time(),
                    summary.get("epochs_done", 0),
                    summary.get("test_acc"),
                    summary.get("test_mcr"),
                    summary.get("train_time_s"),
                    message,
                    run_id,
                ),
            )

    def get(self, run_id: str) -> dict | None:
        with self._connect() as con:
            row = con.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return dict(row) if row is not None else None

    def rows(self) -> list[dict[str, Any]]:
        with self._connect() as con:
            return [dict(r) for r in con.execute("SELECT * FROM runs ORDER BY created, run_id")]
