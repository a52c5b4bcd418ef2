"""The Ray executor (optional extra ``vanishing[ray]``): each run or seed batch is one Ray task.

Data flow — the driver alone writes the SQLite index, on its local disk:

* the driver (the ``vanishing sweep`` process) plans the tasks, claims
  their runs in the index, keeps their leases alive and records every
  run's end, exactly as with the local executor;
* a task trains on whichever node Ray places it (``num_cpus`` = the
  worker threads, one by default, with ``OMP_NUM_THREADS`` set to match)
  and never opens the index. Where its run directories go depends on
  ``storage``:

  ``shared``  the results root is visible at the same path on every node
              (an NFS/Lustre mount, or a one-machine cluster): the task
              writes the run directories in place, epoch by epoch, so a
              retried task resumes from the last checkpoint;
  ``return``  no shared file system: the task trains into a temporary
              folder on its node and returns the finished run directories
              as bytes; the driver writes them into the results root
              (``summary.json`` last). A retried task starts its runs over.
  ``auto``    (default) ``shared`` when the task can see a token file the
              driver wrote into the results root, else ``return``.

Failures: Ray re-executes a task whose worker process or node died
(``max_retries``); when the retries are spent the driver records the task's
runs as ``failed`` (a later sweep retries them). Python errors inside
training are recorded per run by the task itself.

``address``: ``None`` starts a local Ray instance with one CPU per worker
(``workers`` defaults to the cores here); ``"auto"`` or ``"ray://host:10001"``
joins an existing cluster. If Ray is already initialised in this process,
that instance is used as it is.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .worker import TaskSpec, execute

STORAGES = ("auto", "shared", "return")


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'vanishing[ray]'") from None
    return ray


def _run_dir_files(root: Path, run_ids: list[str]) -> dict[str, dict[str, bytes]]:
    out: dict[str, dict[str, bytes]] = {}
    for rid in run_ids:
        folder = root / "runs" / rid
        if folder.is_dir():
            out[rid] = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    return out


def ray_task(spec: TaskSpec, token: str, storage: str, threads: int) -> tuple[list[tuple], dict | None]:
    """Body of one Ray task: train ``spec``; return (events, run-directory files or None when written in place)."""
    import torch

    torch.set_num_threads(threads)
    shared = storage == "shared" or (storage == "auto" and os.path.exists(token))
    if storage == "shared" and not os.path.exists(token):
        raise RuntimeError(f"the results root {spec.root} is not visible on this node (storage='shared')")
    events: list[tuple] = []
    if shared:
        execute(spec, events.append)
        return events, None
    scratch = Path(tempfile.mkdtemp(prefix="vanishing-ray-"))
    try:
        local = TaskSpec(spec.task_id, spec.configs, spec.run_ids, spec.live, spec.batched, str(scratch), spec.exec, spec.exec_info)
        execute(local, events.append)
        return events, _run_dir_files(scratch, [rid for rid, live in zip(spec.run_ids, spec.live) if live])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class RayExecutor:
    """Tasks on a Ray cluster (see the module docstring)."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, threads: int = 1,
                 storage: str = "auto", max_retries: int = 3) -> None:
        if storage not in STORAGES:
            raise ConfigError(f"ray storage: expected one of {', '.join(STORAGES)}, got {storage!r}")
        self.ray = _import_ray()
        self.address, self.workers, self.threads, self.storage = address, workers, threads, storage
        self.max_retries = max_retries
        self.n = workers or 0
        self.owns = False
        self.pending: dict[Any, int] = {}  # object ref → task id
        self.token: Path | None = None
        self.root: Path | None = None
        self.remote = None

    def describe(self) -> str:
        where = self.address or "a local Ray instance"
        return f"Ray ({where}), {self.n} task slot(s) × {self.threads} thread, storage {self.storage}"

    def task_root(self, root: Path) -> str:
        if self.token is None:
            self.root = Path(root).resolve()
            self.token = self.root / f".ray-driver-{uuid.uuid4().hex}"
            self.token.write_text("the results root of a running sweep (the Ray tasks look for this file)\n")
        return str(self.root)

    def start(self) -> None:
        if self.remote is not None:
            return
        ray = self.ray
        env = {"OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads)}
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"runtime_env": {"env_vars": env}, "include_dashboard": False,
                                      "logging_level": "ERROR", "log_to_driver": False}
            if self.address is None:
                from .local import default_workers

                kwargs["num_cpus"] = (self.workers or default_workers(self.threads)) * self.threads
            else:
                kwargs["address"] = self.address
            ray.init(**kwargs)
            self.owns = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.n = self.workers or max(1, cpus // self.threads)
        self.remote = ray.remote(num_cpus=self.threads, max_retries=self.max_retries)(ray_task).options(
            runtime_env={"env_vars": env}, name="vanishing_train")

    def capacity(self) -> int:
        return max(0, self.n - len(self.pending))

    def submit(self, spec: TaskSpec) -> None:
        if self.remote is None:
            self.start()
        ref = self.remote.remote(spec, str(self.token), self.storage, self.threads)
        self.pending[ref] = spec.task_id

    def poll(self, timeout: float) -> list[tuple]:
        if not self.pending:
            return []
        ray = self.ray
        ready, _ = ray.wait(list(self.pending), num_returns=len(self.pending), timeout=timeout)
        events: list[tuple] = []
        for ref in ready:
            task_id = self.pending.pop(ref)
            try:
                task_events, files = ray.get(ref)
            except Exception as exc:  # worker/node died more often than max_retries, or the task could not run
                events.append(("task_lost", task_id, f"Ray task failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}", False))
                continue
            if files:
                self._write_returned(files)
            events.extend(task_events)
        return events

    def _write_returned(self, files: dict[str, dict[str, bytes]]) -> None:
        """Write run directories a task returned; ``summary.json`` last, so a crash never leaves a run that looks done."""
        from ..store.atomic import write_bytes

        for rid, entries in files.items():
            folder = self.root / "runs" / rid
            for rel in sorted(entries, key=lambda r: r == "summary.json"):
                target = folder / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                write_bytes(target, entries[rel])

    def interrupt(self) -> None:
        for ref in list(self.pending):
            try:
                self.ray.cancel(ref)  # KeyboardInterrupt inside the task: its runs end "interrupted"
            except Exception:
                pass

    def stop(self, force: bool = False) -> None:
        if self.token is not None:
            try:
                self.token.unlink()
            except OSError:
                pass
        if self.owns:
            self.ray.shutdown()
            self.owns = False
