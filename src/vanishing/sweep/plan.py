"""From the runs of a sweep to tasks: single runs and seed batches.

A task is what one worker trains at a time: one run, or the seeds of one
config trained together by :func:`vanishing.seedbatch.fit_batch`. The plan
depends only on the sweep, the results root and the worker count, so
re-running an interrupted sweep finds the same batches:

1. a batch that already has a joint checkpoint in the results root
   (``batches/<id>/``) is resumed with exactly its seeds — even if this
   invocation would group them differently;
2. a run with progress of its own (epochs recorded) outside such a batch
   resumes unbatched;
3. the remaining fresh runs of a config are split into chunks of at most
   :data:`~vanishing.seedbatch.MAX_K` seeds (more chunks when there are
   fewer configs than workers, so that every worker gets a task), and a
   chunk trains as one batch when :func:`~vanishing.seedbatch.should_batch`
   says batching pays for that config and chunk size; otherwise its runs
   train one by one.

Runs already final (done, diverged) are not trained again. A batch replays
exactly from its joint checkpoint, so its seeds that finished after that
checkpoint are trained along but not recorded again.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..seedbatch import MAX_K, MIN_K, existing_batches, should_batch
from ..store.atomic import read_json
from .spec import SweepRun


@dataclass
class Task:
    """Runs that one worker trains together: one run, or one seed batch."""

    id: int
    runs: list[SweepRun]
    batched: bool

    @property
    def run_ids(self) -> list[str]:
        return [r.run_id for r in self.runs]

    def describe(self) -> str:
        if not self.batched:
            return "1 run"
        return f"seed batch of {len(self.runs)} (seeds {', '.join(str(r.seed) for r in self.runs)})"


def _has_progress(root: Path, rid: str) -> bool:
    return bool(read_json(root / "runs" / rid / "epochs.json"))


def _split(items: list, n: int) -> list[list]:
    """``items`` in ``n`` contiguous, near-equal parts (the first ones one longer)."""
    n = max(1, min(n, len(items)))
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        out.append(items[start:end])
        start = end
    return out


def plan(
    runs: Sequence[SweepRun],
    final: set[str],
    root: str | Path,
    workers: int,
    batching: bool = True,
    device: str = "cpu",
    engine: str = "auto",
) -> list[Task]:
    """Tasks for the runs of a sweep that are not in ``final`` (see the module docstring)."""
    root = Path(root)
    groups: OrderedDict[str, list[SweepRun]] = OrderedDict()
    for r in runs:
        groups.setdefault(r.config_hash, []).append(r)
    records: dict[str, list[dict]] = {}
    for rec in existing_batches(root) if batching else []:
        records.setdefault(rec["config_hash"], []).append(rec)
    n_groups = len(groups)
    tasks: list[Task] = []

    def add(task_runs: list[SweepRun], batched: bool) -> None:
        if batched:
            tasks.append(Task(len(tasks), task_runs, True))
        else:
            for r in task_runs:
                tasks.append(Task(len(tasks), [r], False))

    for digest, group in groups.items():
        pending = [r for r in group if r.run_id not in final]
        if not pending:
            continue
        by_seed = {r.seed: r for r in group}
        taken: set[int] = set()
        # 1. unfinished batches with a joint checkpoint resume with their own seeds
        for rec in records.get(digest, []):
            seeds = [int(s) for s in rec["seeds"]]
            if all(s in by_seed for s in seeds) and not taken.intersection(seeds):
                if any(by_seed[s].run_id not in final for s in seeds):
                    add([by_seed[s] for s in seeds], True)
                taken.update(seeds)
        rest = [r for r in pending if r.seed not in taken]
        # 2. runs with progress of their own resume unbatched
        resumed = [r for r in rest if _has_progress(root, r.run_id)]
        add(resumed, False)
        fresh = [r for r in rest if r not in resumed]
        if not fresh:
            continue
        # 3. chunks of the config's seeds; more chunks when configs are fewer than workers
        n_chunks = math.ceil(len(group) / MAX_K)
        if n_groups < workers:
            n_chunks = max(n_chunks, min(math.ceil(workers / n_groups), len(group) // MIN_K))
        fresh_ids = {r.run_id for r in fresh}
        for chunk in _split(list(group), n_chunks):
            mine = [r for r in chunk if r.run_id in fresh_ids]
            if not mine:
                continue
            ok = batching and should_batch(mine[0].config, len(mine), device, engine)
            add(mine, ok)
    return tasks
