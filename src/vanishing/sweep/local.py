"""The local executor: worker processes on this machine, one single-threaded worker per core.

Why one thread per process (SPEC §9, §13): on the build machines two
single-threaded torch processes give ×1.39 the throughput of one 2-thread
process, while processes with default OpenMP threads that share cores slow
each other 2.4–39× (spin-waiting). Each worker is started with the
``spawn`` method and ``OMP_NUM_THREADS=1`` (``MKL_NUM_THREADS=1``) in its
environment before it imports torch, and calls ``torch.set_num_threads(1)``
(or ``ExecConfig.threads`` when the sweep sets it; then the default worker
count is cores ÷ threads).

Each worker takes one task at a time from the driver over a pipe and sends
back events. A worker that dies (killed, out of memory) is noticed through
its process sentinel; the driver retries its task on a fresh worker (the
runs resume from their last checkpoints) or, after the retries, records
them as failed. Workers die with the driver: on Linux they ask the kernel
for SIGKILL when their parent dies (``PR_SET_PDEATHSIG``) and, everywhere,
a watchdog thread exits when the parent pid changes — so a SIGKILLed sweep
leaves no orphan writing into the results root.

Ctrl-C: SIGINT reaches the workers (same process group, or forwarded by
the driver); each ends its runs as ``interrupted`` with the last epoch's
checkpoint kept, ignores further SIGINTs while it records that, and exits.

``workers=0`` runs the tasks in the driver's own process (no parallelism;
handy in notebooks and for debugging).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .worker import TaskSpec, execute

THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def default_workers(threads: int = 1) -> int:
    """One worker per available core (per ``threads`` cores when workers use several threads)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, threads))


# --------------------------------------------------------------------------- inside a worker process


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass
    if os.getppid() != parent_pid:
        os._exit(1)

    def watchdog() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watchdog, name="vanishing-parent-watchdog", daemon=True).start()


def _interrupt_once(signum, frame) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # later Ctrl-Cs must not cut the "interrupted" bookkeeping
    raise KeyboardInterrupt


def worker_main(conn, parent_pid: int, threads: int) -> None:
    """Entry point of a worker process: receive TaskSpecs, execute, send events; None ends it."""
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, _interrupt_once)
    import torch

    torch.set_num_threads(threads)
    try:
        while True:
            spec = conn.recv()
            if spec is None:
                break
            execute(spec, conn.send)
    except (KeyboardInterrupt, EOFError, BrokenPipeError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


# --------------------------------------------------------------------------- in the driver


class _Worker:
    def __init__(self, ctx, threads: int) -> None:
        parent, child = ctx.Pipe(duplex=True)
        self.conn = parent
        saved = {k: os.environ.get(k) for k in THREAD_ENV}
        os.environ.update({k: str(threads) for k in THREAD_ENV})
        try:
            self.process = ctx.Process(target=worker_main, args=(child, os.getpid(), threads), daemon=True,
                                       name="vanishing-sweep-worker")
            self.process.start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        child.close()
        self.task: int | None = None


class LocalExecutor:
    """Worker processes on this machine (see the module docstring)."""

    name = "local"

    def __init__(self, workers: int | None = None, threads: int = 1) -> None:
        self.threads = threads
        self.n = default_workers(threads) if workers is None else workers
        self.ctx = multiprocessing.get_context("spawn")
        self.workers: list[_Worker] = []
        self.events: list[tuple] = []

    def task_root(self, root: Path) -> str:
        return str(root)

    def start(self) -> None:
        pass  # workers start on demand, so a sweep with nothing to do spawns none

    def capacity(self) -> int:
        if self.n == 0:
            return 1
        idle = sum(1 for w in self.workers if w.task is None)
        return idle + (self.n - len(self.workers))

    def submit(self, spec: TaskSpec) -> None:
        if self.n == 0:  # in-process: runs to completion here, with the workers' thread count
            import torch

            previous = torch.get_num_threads()
            torch.set_num_threads(self.threads)
            try:
                execute(spec, self.events.append)
            finally:
                torch.set_num_threads(previous)
            if any(e[0] == "end" and e[2] == "interrupted" for e in self.events):
                raise KeyboardInterrupt  # fit() absorbed Ctrl-C; the driver must stop too
            return
        worker = next((w for w in self.workers if w.task is None), None)
        if worker is None:
            worker = _Worker(self.ctx, self.threads)
            self.workers.append(worker)
        worker.task = spec.task_id
        worker.conn.send(spec)

    def poll(self, timeout: float) -> list[tuple]:
        events, self.events = self.events, []
        if self.n == 0 or not self.workers:
            if not events and timeout:
                time.sleep(min(timeout, 0.05))
            return events
        waitables: dict[Any, _Worker] = {}
        for w in self.workers:
            waitables[w.conn] = w
            waitables[w.process.sentinel] = w
        ready = multiprocessing.connection.wait(list(waitables), timeout=0 if events else timeout)
        for obj in ready:
            w = waitables[obj]
            if obj is w.conn:
                _drain(w, events)
        for w in list(self.workers):
            if not w.process.is_alive():
                _drain(w, events)  # what it sent before dying
                if w.task is not None:
                    code = w.process.exitcode
                    reason = f"worker pid {w.process.pid} died ({_exit_text(code)})"
                    events.append(("task_lost", w.task, reason))
                self.workers.remove(w)
                w.conn.close()
        return events

    def interrupt(self) -> None:
        for w in self.workers:
            if w.process.is_alive() and w.process.pid:
                try:
                    os.kill(w.process.pid, signal.SIGINT)
                except ProcessLookupError:
                    pass

    def stop(self, force: bool = False) -> None:
        for w in self.workers:
            try:
                w.conn.send(None)
            except (OSError, BrokenPipeError):
                pass
        deadline = time.monotonic() + (2.0 if force else 10.0)
        for w in self.workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                w.process.kill()
                w.process.join(5.0)
        self.workers = []


def _exit_text(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def _drain(worker, events: list) -> None:
    """Append every event waiting on ``worker``'s pipe to ``events``; a ``task_end`` frees the worker."""
    try:
        while worker.conn.poll():
            event = worker.conn.recv()
            if event[0] == "task_end":
                worker.task = None
            events.append(event)
    except (EOFError, OSError):
        pass  # the pipe closed: the worker is dead, which the caller checks next
