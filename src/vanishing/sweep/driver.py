"""The sweep driver: the only writer of the index while a sweep runs.

It claims each task's runs in one transaction when it hands the task to an
executor (so a run is ``running`` only while someone trains it), keeps the
leases alive from a heartbeat thread — every :data:`HEARTBEAT_S` seconds,
also during long epochs — records every run's end from the workers' events,
and retries a task whose worker died. Runs another live process holds are
waited for; a lease whose holder died (dead pid on this host, or no
heartbeat for the lease timeout) is taken over.

Lease holder: the driver's pid and host. Workers die with their driver
(the local executor's workers get SIGKILL when it dies), so a killed sweep
leaves leases that the next sweep reclaims at once.
"""

from __future__ import annotations

import collections
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, Sequence

from ..config import ExecConfig
from ..store import FINAL, Store
from ..store.atomic import read_json
from .plan import Task
from .spec import SweepRun, run_config_dict
from .worker import TaskSpec

HEARTBEAT_S = 30.0
BUSY_RECHECK_S = 2.0


class Executor(Protocol):
    """Where tasks run. ``poll`` returns events (see :mod:`.worker`) plus ``("task_lost", task_id, reason)``."""

    name: str

    def start(self) -> None: ...

    def capacity(self) -> int: ...

    def submit(self, spec: TaskSpec) -> None: ...

    def poll(self, timeout: float) -> list[tuple]: ...

    def interrupt(self) -> None: ...

    def stop(self, force: bool = False) -> None: ...

    def task_root(self, root: Path) -> str: ...


@dataclass
class RunState:
    run: SweepRun
    status: str = "pending"
    epochs: int = 0
    summary: dict = field(default_factory=dict)
    message: str | None = None
    attempts: int = 0
    task: int | None = None
    elsewhere: bool = False  # held by another process


class Driver:
    """Runs the tasks of one sweep through an executor (see the module docstring)."""

    def __init__(self, store: Store, states: dict[str, RunState], executor: Executor, ex: ExecConfig, display: Any,
                 retries: int = 2, sweep_name: str = "sweep") -> None:
        self.store = store
        self.index = store.index
        self.executor = executor
        self.ex = ex
        self.display = display
        self.retries = retries
        self.sweep_name = sweep_name
        self.states = states  # run_id → RunState, shared with the display
        self.leased: set[str] = set()
        self.lock = threading.Lock()
        self.stop_heartbeat = threading.Event()
        self.interrupted = False

    # -- leases
    def _heartbeat_loop(self) -> None:
        while not self.stop_heartbeat.wait(HEARTBEAT_S):
            with self.lock:
                ids = sorted(self.leased)
            if ids:
                try:
                    self.index.heartbeat_many(ids)
                except Exception:  # a busy disk must not kill the thread; the next beat retries
                    pass

    def _claim(self, task: Task) -> str:
        """Claim the task's runs: "claimed", "final" (nothing left to do) or "busy"."""
        entries = [(r.run_id, r.config_hash, r.seed, run_config_dict(r)) for r in task.runs]
        state, rows = self.index.claim_many(entries)
        if state == "busy":
            for rid in rows:
                self.states[rid].elsewhere = True
                self.states[rid].status = "running"
            return "busy"
        live = [rid for rid, row in rows.items() if row is None]
        for rid, row in rows.items():
            st = self.states[rid]
            st.elsewhere = False
            if row is not None:  # final meanwhile (another sweep did it)
                st.status = row["status"]
                st.summary = read_json(self.store.run_path(rid) / "summary.json") or {}
        if not live:
            return "final"
        with self.lock:
            self.leased.update(live)
        for rid in live:
            self.states[rid].status = "running"
            self.states[rid].task = task.id
        return "claimed"

    def _spec(self, task: Task) -> TaskSpec:
        live = [self.states[r.run_id].status == "running" and r.run_id in self.leased for r in task.runs]
        info = {**asdict(self.ex), "executor": self.executor.name, "sweep": self.sweep_name,
                "driver_pid": os.getpid(), "driver_host": _host(), "seed_batch": [r.seed for r in task.runs] if task.batched else None}
        return TaskSpec(task.id, [r.config for r in task.runs], task.run_ids, live, task.batched,
                        self.executor.task_root(self.store.root), self.ex, info)

    # -- events
    def _on_event(self, event: tuple, tasks: dict[int, Task], in_flight: dict[int, Task], queue: collections.deque) -> None:
        kind = event[0]
        if kind == "epoch":
            _, rid, metrics = event
            st = self.states[rid]
            st.epochs = int(metrics["epoch"])
            self.index.heartbeat(rid, st.epochs)
            self.display.epoch(st, metrics)
        elif kind == "end":
            _, rid, status, summary, message = event
            st = self.states[rid]
            if summary.get("epochs_done") is None:  # ended outside training (e.g. Ctrl-C while loading data)
                summary = {**summary, "epochs_done": len(read_json(self.store.run_path(rid) / "epochs.json") or [])}
            st.status, st.summary, st.message = status, summary, message
            st.epochs = summary["epochs_done"] or st.epochs
            self.index.finish(rid, status, summary, message)
            with self.lock:
                self.leased.discard(rid)
            self.display.ended(st)
        elif kind in ("task_end", "task_lost"):
            task = in_flight.pop(event[1], None)
            if task is None:
                return
            open_runs = [r.run_id for r in task.runs if r.run_id in self.leased]
            if not open_runs:
                return
            reason = event[2] if kind == "task_lost" else "the worker returned without a final status"
            states = [self.states[rid] for rid in open_runs]
            for st in states:
                st.attempts += 1
            retryable = kind == "task_lost" and (len(event) < 4 or event[3])  # Ray retries dead workers itself
            if retryable and not self.interrupted and max(st.attempts for st in states) <= self.retries:
                self.display.note(f"worker lost ({reason}); retrying {task.describe()} — attempt {states[0].attempts + 1}")
                in_flight[task.id] = task
                self.executor.submit(self._spec(task))  # the leases stay ours
                return
            status = "interrupted" if self.interrupted else "failed"
            message = None if self.interrupted else f"{reason} (after {states[0].attempts} attempt(s))"
            for st in states:
                st.status, st.message = status, message
                done = len(read_json(self.store.run_path(st.run.run_id) / "epochs.json") or [])
                self.index.finish(st.run.run_id, status, {"epochs_done": done}, message)
                with self.lock:
                    self.leased.discard(st.run.run_id)
                self.display.ended(st)

    # -- the loop
    def run(self, tasks: Sequence[Task]) -> None:
        """Train every task; returns when all ended (or after Ctrl-C, once the workers stopped)."""
        queue = collections.deque(tasks)
        deferred: list[Task] = []
        in_flight: dict[int, Task] = {}
        all_tasks = {t.id: t for t in tasks}
        heartbeat = threading.Thread(target=self._heartbeat_loop, name="vanishing-lease-heartbeat", daemon=True)
        heartbeat.start()
        last_recheck = time.monotonic()
        try:
            self.executor.start()
            while queue or in_flight or deferred:
                while queue and self.executor.capacity() > 0 and not self.interrupted:
                    task = queue.popleft()
                    state = self._claim(task)
                    if state == "busy":
                        deferred.append(task)
                    elif state == "claimed":
                        in_flight[task.id] = task
                        spec = self._spec(task)
                        self.display.started(task, [self.states[rid] for rid in task.run_ids])
                        self.executor.submit(spec)
                self.display.refresh()
                if self.interrupted and not in_flight:
                    break
                for event in self.executor.poll(0.25):
                    self._on_event(event, all_tasks, in_flight, queue)
                if deferred and time.monotonic() - last_recheck > BUSY_RECHECK_S and not self.interrupted:
                    queue.extend(deferred)
                    deferred.clear()
                    last_recheck = time.monotonic()
                    self._refresh_elsewhere()
        except KeyboardInterrupt:
            self.interrupted = True
            self.display.note("interrupted: stopping the workers (their runs keep their last epoch's checkpoint) …")
            self._drain(in_flight, all_tasks)
        finally:
            self.stop_heartbeat.set()
            self.executor.stop(force=self.interrupted)
            self.display.refresh(final=True)

    def _drain(self, in_flight: dict[int, Task], all_tasks: dict[int, Task]) -> None:
        """After Ctrl-C: let the workers record ``interrupted``, then give up on the rest."""
        self.executor.interrupt()
        deadline = time.monotonic() + 60.0
        queue: collections.deque = collections.deque()
        try:
            while in_flight and time.monotonic() < deadline:
                for event in self.executor.poll(0.25):
                    self._on_event(event, all_tasks, in_flight, queue)
        except KeyboardInterrupt:
            pass
        for task in list(in_flight.values()):
            self._on_event(("task_lost", task.id, "interrupted"), all_tasks, in_flight, queue)

    def _refresh_elsewhere(self) -> None:
        """Update runs another process holds from the index (they may have finished)."""
        for st in self.states.values():
            if st.elsewhere:
                row = self.index.get(st.run.run_id)
                if row is not None and row["status"] in FINAL:
                    st.status, st.elsewhere = row["status"], False
                    st.summary = read_json(self.store.run_path(st.run.run_id) / "summary.json") or {}
                    self.display.note(f"{st.run.run_id} finished by another process ({st.status})")


def _host() -> str:
    import socket

    return socket.gethostname()


def reconcile(store: Store, runs: Sequence[SweepRun]) -> dict[str, str]:
    """Bring the index up to date with the run directories and register the sweep's runs.

    A run whose ``summary.json`` is final but whose index row is not (the
    driver died between the two writes) is recorded as final; every run of
    the sweep gets a row (``pending`` if new). Returns run_id → status.
    """
    store.index.add_pending_many([(r.run_id, r.config_hash, r.seed, run_config_dict(r)) for r in runs])
    rows = {row["run_id"]: row for row in store.index.rows()}
    status = {}
    for r in runs:
        row = rows.get(r.run_id)
        summary = read_json(store.run_path(r.run_id) / "summary.json")
        if summary is not None and summary.get("status") in FINAL and (row is None or row["status"] not in FINAL):
            state, _ = store.index.claim_many([(r.run_id, r.config_hash, r.seed, run_config_dict(r))])
            if state == "claimed":
                store.index.finish(r.run_id, summary["status"], summary)
            status[r.run_id] = summary["status"]
        else:
            status[r.run_id] = row["status"] if row is not None else "pending"
    return status


def install_sigterm_as_interrupt() -> Any:
    """Treat SIGTERM like Ctrl-C in the driver (a scheduler's polite stop); returns the previous handler."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        return None
