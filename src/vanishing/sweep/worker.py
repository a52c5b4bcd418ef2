"""What a worker does with one task: load the data, train, write the run directories, report events.

Workers never touch the SQLite index: they write run directories
(``Store(root, index=False)``) and report events to the driver, which alone
records them in the index (SPEC §9: the index stays on the driver's local
disk). Used by the local executor's worker processes, by its in-process
mode (``workers=0``) and by the Ray tasks.

Events, as plain tuples (picklable, sent over a pipe or returned by Ray)::

    ("epoch", run_id, metrics)                 after each finished epoch
    ("end", run_id, status, summary, message)  after the run's summary.json is written
    ("task_end", task_id)                      the task returned
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, replace
from typing import Any, Callable

from ..config import ExecConfig, RunConfig, config_hash

Emit = Callable[[tuple], None]
HEADLINE_KEYS = ("epochs_done", "test_acc", "test_mcr", "train_time_s", "diverged_step", "headline_epoch", "stopped_early")


@dataclass
class TaskSpec:
    """One task as sent to a worker (picklable)."""

    task_id: int
    configs: list[RunConfig]  # resolved; one, or the seeds of one config
    run_ids: list[str]
    live: list[bool]  # False: already final in the store (a batch replays it, records nothing)
    batched: bool
    root: str  # results root as the worker sees it
    exec: ExecConfig
    exec_info: dict  # written into each run's config.json


_DATA_CACHE: dict[Any, Any] = {}


def _data_for(config: RunConfig, ex: ExecConfig):
    """The run's data set, kept in memory for the next task of this worker (at most two data sets)."""
    from ..runner import load_run_data
    from ..train import resolve_device

    key = (config.data, ex.data_dir, ex.mirror, ex.device)
    if key not in _DATA_CACHE:
        while len(_DATA_CACHE) >= 2:
            _DATA_CACHE.pop(next(iter(_DATA_CACHE)))
        _DATA_CACHE[key] = load_run_data(config, ex, resolve_device(ex.device))
    return _DATA_CACHE[key]


def small_summary(summary: dict) -> dict:
    return {k: summary.get(k) for k in HEADLINE_KEYS}


def execute(spec: TaskSpec, emit: Emit) -> None:
    """Train the task's runs into ``spec.root`` and report every epoch and end through ``emit``.

    A failure inside training records ``failed`` with the message for every
    run of the task that had not ended; a KeyboardInterrupt records
    ``interrupted`` (checkpoints stay; the next sweep resumes them).
    """
    from ..seedbatch import BatchDir, NullSink, fit_batch
    from ..store import RunDir, Store
    from ..train import fit

    ended: set[str] = set()
    sinks: dict[str, Any] = {}
    ex = replace(spec.exec, progress=False)

    def end(rid: str, status: str, summary: dict, message: str | None = None) -> None:
        ended.add(rid)
        emit(("end", rid, status, small_summary(summary), message))

    try:
        from ..train import resolve_device

        data = _data_for(spec.configs[0], ex)
        store = Store(spec.root, index=False)
        exec_info = {**spec.exec_info, "device_resolved": str(resolve_device(ex.device))}
        for config, rid, live in zip(spec.configs, spec.run_ids, spec.live):
            if live:
                sink = RunDir(store, rid, config)
                sink.write_config(exec_info)
                sinks[rid] = sink
        if spec.batched:
            by_seed = dict(zip((c.seed for c in spec.configs), spec.run_ids))
            fit_batch(
                spec.configs,
                data,
                [sinks.get(rid, NullSink()) for rid in spec.run_ids],
                ex,
                batch_dir=BatchDir(spec.root, config_hash(spec.configs[0]), [c.seed for c in spec.configs]),
                on_epoch=lambda seed, m: emit(("epoch", by_seed[seed], m)) if by_seed[seed] in sinks else None,
                on_finish=lambda seed, status, summary: end(by_seed[seed], status, summary) if by_seed[seed] in sinks else None,
            )
        else:
            from ..probes import probe_callback

            config, rid = spec.configs[0], spec.run_ids[0]
            sink = sinks[rid]
            probes = probe_callback(config, sink)  # first, as vanishing.run does: its checkpoint slot is "0"
            outcome = fit(config, data, sink, ex, callbacks=[probes] if probes else [],
                          on_epoch=lambda m: emit(("epoch", rid, m)))
            end(rid, outcome.status, outcome.summary)
    except KeyboardInterrupt:
        for rid, sink in sinks.items():
            if rid not in ended:
                _finish_quietly(sink, "interrupted", "interrupted before training started")
                end(rid, "interrupted", {}, None)
        raise
    except Exception as exc:  # a bug or a bad file: record it, do not take the whole sweep down
        message = f"{type(exc).__name__}: {exc}"
        detail = traceback.format_exc(limit=6)
        for rid in spec.run_ids:
            if rid in ended or not spec.live[spec.run_ids.index(rid)]:
                continue
            if rid in sinks:
                _finish_quietly(sinks[rid], "failed", message)
            end(rid, "failed", {}, message + "\n" + detail)
    finally:
        emit(("task_end", spec.task_id))


def _finish_quietly(sink, status: str, message: str) -> None:
    from ..store.atomic import read_json

    try:
        done = len(read_json(sink.path / "epochs.json") or [])
        sink.finish(status, {"epochs_done": done}, message)
    except Exception:  # the disk itself may be the problem; the driver still records the status
        pass
