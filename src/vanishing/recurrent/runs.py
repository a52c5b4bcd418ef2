"""Recurrent runs on disk: one directory per run, written atomically, resumable, loaded as DataFrames.

The MLP store (:mod:`vanishing.store`) is keyed by :class:`vanishing.config.RunConfig`;
recurrent runs have their own config, so they live beside it in the same
spirit, under ``<results root>/recurrent/``::

    <root>/recurrent/<run_id>/config.json          {"run_id", "config_hash", "config", "environment", "created"}
    <root>/recurrent/<run_id>/history.json         one record per evaluation point (.train)
    <root>/recurrent/<run_id>/probes/time_grad.npz  step, k, grad_rms, grad_median, cell_rms, linear, meanfield, bound
    <root>/recurrent/<run_id>/probes/spectral.npz   step, block, radius, norm2
    <root>/recurrent/<run_id>/summary.json         status and final metrics — written last
    <root>/recurrent/<run_id>/checkpoint.pt        training state at the last evaluation point (until finished)

``run_id`` = ``<first 12 hex digits of the config hash>-s<seed>``. Every file
is written with :mod:`vanishing.store.atomic` (temp file, fsync, rename);
``config.json`` is written when the run starts; ``history.json`` and the
probe tables when it ends, then ``summary.json`` last. A run counts as
finished exactly when its ``summary.json`` exists: :func:`run_all` skips those.
An unfinished run resumes from ``checkpoint.pt``, the training state written
(atomically) at every evaluation point and removed when the run finishes —
at the paper scale a T = 200 gated run is tens of minutes, so a stop loses at
most one evaluation interval of it.

:func:`load` reads a root back: ``.runs`` (one row per run: config fields,
``label``, summary fields, ``path``), ``.history`` (one row per run and
evaluation point) and ``.probes`` (``time_grad``, ``spectral``; every row
starting with ``run_id, seed``).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from ..errors import StoreError
from ..store.atomic import read_json, torch_load, torch_save, write_json
from ..store.results import read_probe_tables
from ..store.rundir import environment, write_probe_table
from .config import RecurrentConfig

FOLDER = "recurrent"


def run_path(root: str | Path, cfg: RecurrentConfig) -> Path:
    return Path(root) / FOLDER / cfg.run_id


def finished(root: str | Path, cfg: RecurrentConfig) -> bool:
    return (run_path(root, cfg) / "summary.json").exists()


class RunWriter:
    """The sink of :func:`.train.fit`: writes one run directory (see the module docstring)."""

    def __init__(self, root: str | Path, cfg: RecurrentConfig) -> None:
        self.path = run_path(root, cfg)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot create the run directory ({exc.strerror or exc})") from None
        (self.path / "summary.json").unlink(missing_ok=True)
        write_json(self.path / "config.json", {
            "run_id": cfg.run_id, "config_hash": cfg.config_hash, "config": cfg.to_dict(),
            "environment": environment(), "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        })
        self._config_hash = cfg.config_hash

    def save(self, history: list[dict], tables: dict[str, dict[str, list]]) -> None:
        """Called at every evaluation point; the files are written by :meth:`finish`."""
        self._history, self._tables = history, tables

    def checkpoint(self, state: dict) -> None:
        """The training state at an evaluation point (:func:`.train.fit`), written atomically to checkpoint.pt."""
        torch_save(self.path / "checkpoint.pt", {**state, "config_hash": self._config_hash})

    def resume_state(self) -> dict | None:
        """The state of the last :meth:`checkpoint` of this config, or None (none yet, or another config's)."""
        state = torch_load(self.path / "checkpoint.pt")
        if not isinstance(state, dict) or state.get("config_hash") != self._config_hash:
            return None
        self._history, self._tables = state["history"], state["tables"]
        return state

    def finish(self, summary: dict) -> None:
        """Write history.json and the probe tables, then summary.json last."""
        write_json(self.path / "history.json", self._history)
        for name, table in self._tables.items():
            if table:
                write_probe_table(self.path / "probes", name, table)
        write_json(self.path / "summary.json", summary)
        (self.path / "checkpoint.pt").unlink(missing_ok=True)


def train_one(cfg_dict: dict, root: str) -> dict:
    """Train one run into ``root`` (the task a worker process executes); returns the summary with timing."""
    from .train import fit

    cfg = RecurrentConfig.from_dict(cfg_dict)
    started = time.time()
    summary = fit(cfg, RunWriter(root, cfg))
    return {**summary, "run_id": cfg.run_id, "wall_s": time.time() - started}


def train_returning(cfg_dict: dict) -> tuple[dict, dict[str, bytes]]:
    """Train one run in a scratch folder and return (summary, the run directory's files as bytes) — a Ray task."""
    import shutil
    import tempfile

    import torch

    torch.set_num_threads(1)
    scratch = Path(tempfile.mkdtemp(prefix="vanishing-recurrent-"))
    try:
        summary = train_one(cfg_dict, str(scratch))
        folder = run_path(scratch, RecurrentConfig.from_dict(cfg_dict))
        files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        return summary, files
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_returned(root: Path, cfg: RecurrentConfig, files: dict[str, bytes]) -> None:
    """Write a run directory returned by :func:`train_returning`; ``summary.json`` last."""
    from ..store.atomic import write_bytes

    folder = run_path(root, cfg)
    for rel in sorted(files, key=lambda r: r == "summary.json"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        write_bytes(folder / rel, files[rel])


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


def run_all(configs: Sequence[RecurrentConfig], root: str | Path, *, workers: int = 0,
            log: Callable[[str], None] = print, executor: str = "local", address: str | None = None) -> int:
    """Train every config whose run has not finished; returns how many were trained.

    ``executor="local"``: ``workers = 0`` trains in this process, ``workers ≥
    1`` in that many single-threaded ``spawn`` processes (one per core is
    fastest on a small machine). ``executor="ray"``: one single-CPU Ray task
    per run (``address`` None starts a local Ray instance, ``"auto"`` joins a
    cluster); each task trains in a scratch folder on its node and returns
    the run directory, which this process writes into ``root`` (so no shared
    file system is needed). Finished runs (``summary.json`` present) are
    skipped, so an interrupted call resumes where it stopped.
    """
    root = Path(root)
    todo, seen = [], set()
    for cfg in configs:
        if cfg.run_id not in seen and not finished(root, cfg):
            todo.append(cfg)
        seen.add(cfg.run_id)
    skipped = len(seen) - len(todo)
    log(f"[recurrent] {len(todo)} runs to train, {skipped} already finished in {root / FOLDER}")
    if not todo:
        return 0
    (root / FOLDER).mkdir(parents=True, exist_ok=True)
    started = time.time()

    def report(i: int, cfg: RecurrentConfig, s: dict) -> None:
        trained = f"clipped {100 * s['clipped_fraction']:.0f}% of steps, " if cfg.steps else "untrained, "
        log(f"[recurrent] {i}/{len(todo)} {cfg.task} T={cfg.length} {cfg.label} seed {cfg.seed}: {s['status']}, "
            f"test error {100 * s['test_error']:.1f}% (chance {100 * s['chance_error']:.1f}%), loss ÷ chance "
            f"{s['test_loss_ratio']:.3f}, {trained}{s['wall_s']:.0f} s [{time.time() - started:.0f} s elapsed]")

    if executor == "ray":
        _run_ray(todo, root, workers, address, report)
        return len(todo)
    if workers <= 0:
        for i, cfg in enumerate(todo, 1):
            report(i, cfg, train_one(cfg.to_dict(), str(root)))
        return len(todo)
    order = sorted(todo, key=lambda c: -c.length * (4 if c.cell in ("lstm", "gru") else 1))  # longest first
    ctx = multiprocessing.get_context("spawn")
    env = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")  # read by the workers' torch at import
    try:
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init) as pool:
            futures = {pool.submit(train_one, cfg.to_dict(), str(root)): cfg for cfg in order}
            for i, fut in enumerate(concurrent.futures.as_completed(futures), 1):
                report(i, futures[fut], fut.result())
    finally:
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return len(todo)


def _run_ray(todo: list[RecurrentConfig], root: Path, workers: int, address: str | None, report) -> None:
    try:
        import ray
    except ImportError:
        raise StoreError("--executor ray needs Ray: pip install 'vanishing[ray]'") from None
    owns = not ray.is_initialized()
    if owns:
        env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        kwargs = {"runtime_env": {"env_vars": env}, "include_dashboard": False, "logging_level": "ERROR",
                  "log_to_driver": False}
        if address is None:
            from ..sweep.local import default_workers

            kwargs["num_cpus"] = workers if workers > 0 else default_workers()
        else:
            kwargs["address"] = address
        ray.init(**kwargs)
    try:
        remote = ray.remote(num_cpus=1, max_retries=3)(train_returning)
        pending = {remote.remote(cfg.to_dict()): cfg for cfg in todo}
        done = 0
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            cfg = pending.pop(ready[0])
            summary, files = ray.get(ready[0])
            write_returned(root, cfg, files)
            done += 1
            report(done, cfg, summary)
    finally:
        if owns:
            ray.shutdown()


@dataclass
class RecurrentResults:
    root: Path
    runs: pd.DataFrame
    history: pd.DataFrame
    probes: dict[str, pd.DataFrame] = field(default_factory=dict)

    def probe(self, name: str) -> pd.DataFrame:
        return self.probes.get(name, pd.DataFrame(columns=["run_id", "seed"]))

    def __repr__(self) -> str:
        return f"RecurrentResults({self.root}: {len(self.runs)} runs, probes {', '.join(self.probes) or 'none'})"


def load(root: str | Path, run_ids: Sequence[str] | None = None) -> RecurrentResults:
    """Read the recurrent runs of a results root (only ``run_ids`` when given) into DataFrames."""
    root = Path(root)
    folder = root / FOLDER
    wanted = set(run_ids) if run_ids is not None else None
    rows, hist, probes = [], [], {}
    for path in sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []:
        if wanted is not None and path.name not in wanted:
            continue
        doc = read_json(path / "config.json")
        if doc is None:
            continue
        rid, conf = doc["run_id"], doc["config"]
        summary = read_json(path / "summary.json") or {"status": "unfinished"}
        cfg = RecurrentConfig.from_dict(conf)
        rows.append({"run_id": rid, "config_hash": doc["config_hash"], **conf, "label": cfg.label, **summary,
                     "path": str(path)})
        for rec in read_json(path / "history.json") or []:
            hist.append({"run_id": rid, "seed": conf["seed"], "step": rec.get("step"), **rec})
        for name, frame in read_probe_tables(path / "probes").items():
            frame.insert(0, "seed", conf["seed"])
            frame.insert(0, "run_id", rid)
            probes.setdefault(name, []).append(frame)
    return RecurrentResults(root, pd.DataFrame(rows), pd.DataFrame(hist),
                            {k: pd.concat(v, ignore_index=True) for k, v in probes.items()})
