"""``vanishing.sweep(...)``: expand a sweep, plan it, run it, summarise it.

Resume: the results root remembers everything. Re-running the same sweep
skips the runs already final (done, diverged), resumes unfinished ones from
their last checkpoints (a seed batch from its joint checkpoint, as a unit),
takes over runs whose lease holder died, waits for runs another live
process is training, and starts the rest. Nothing is trained twice to the
end and nothing is lost.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence, TextIO

import pandas as pd

from ..config import ExecConfig, RunConfig, resolve_exec
from ..errors import ConfigError
from ..store import FINAL, Store
from ..store.atomic import read_json
from .display import Display, counts, format_counts, runs_table, summary_table
from .driver import Driver, RunState, install_sigterm_as_interrupt, reconcile
from .plan import Task, plan
from .spec import SweepRun, SweepSpec, column_names, display_value, expand, load_sweep, make_spec, spec_from_dict

EXECUTORS = ("local", "ray")


@dataclass
class SweepResult:
    """What a sweep returns: its runs as a DataFrame, the tables it printed, and whether it completed."""

    spec: SweepSpec
    root: Path
    runs: pd.DataFrame  # one row per run: run_id, seed, the varied fields, status, epochs_done, test_acc, …
    table: str  # the summary table (one row per grid point)
    counts: dict[str, int]
    tasks: list[Task]
    dry_run: bool = False
    interrupted: bool = False

    @property
    def complete(self) -> bool:
        """Every run ended done or diverged."""
        return all(s in FINAL for s in self.runs["status"]) if len(self.runs) else True

    def __repr__(self) -> str:
        return f"SweepResult({self.spec.name!r}, {len(self.runs)} runs: {format_counts(self.counts)}, root={str(self.root)!r})"


def _as_spec(spec: Any, base, grid, zip, seeds, name) -> SweepSpec:
    if spec is None:
        return make_spec(base, grid, zip, seeds, name=name or "sweep")
    if isinstance(spec, SweepSpec):
        out = spec
    elif isinstance(spec, (str, Path)):
        out = load_sweep(spec)
    elif isinstance(spec, Mapping):
        out = spec_from_dict(spec)
    else:
        raise ConfigError(f"sweep: expected a TOML path, a dict or a SweepSpec, got {type(spec).__name__}")
    if any(v is not None for v in (base, grid, zip, seeds)):
        raise ConfigError("sweep: give either a sweep file/spec or base/grid/zip/seeds, not both")
    return replace(out, name=name) if name else out


def _rows(runs: Sequence[SweepRun], states: Mapping[str, RunState]) -> list[dict]:
    rows = []
    for r in runs:
        st = states[r.run_id]
        rows.append({"run_id": r.run_id, "seed": r.seed, "point": r.point, "values": dict(r.values), "status": st.status,
                     "epochs": st.epochs or (st.summary or {}).get("epochs_done"), "summary": st.summary or {},
                     "message": st.message})
    return rows


def _frame(rows: list[dict], varied: Sequence[str], root: Path) -> pd.DataFrame:
    cols = column_names(list(varied))
    records = []
    for r in rows:
        s = r["summary"]
        rec = {"run_id": r["run_id"], "seed": r["seed"], "point": r["point"]}
        rec.update({cols[p]: display_value(r["values"].get(p)) for p in varied})
        rec.update({"status": r["status"], "epochs_done": r["epochs"] or 0, "test_acc": s.get("test_acc"),
                    "test_mcr": s.get("test_mcr"), "train_time_s": s.get("train_time_s"), "diverged_step": s.get("diverged_step"),
                    "message": r["message"], "path": str(root / "runs" / r["run_id"])})
        records.append(rec)
    return pd.DataFrame(records)


def sweep(
    spec: str | Path | Mapping | SweepSpec | None = None,
    *,
    base: RunConfig | Mapping | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    zip: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Sequence[Any]]] | None = None,
    seeds: Sequence[int] | int | None = None,
    name: str | None = None,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    results: str | Path | None = None,
    exec_config: ExecConfig | Mapping | None = None,
    dry_run: bool = False,
    batch: bool = True,
    retries: int = 2,
    display: str = "auto",
    out: TextIO | None = None,
    ray_storage: str = "auto",
) -> SweepResult:
    """Run a sweep: every point of the grid/zip axes × every seed, into one results root.

    ``spec``: a sweep TOML file, its parsed dict or a :class:`SweepSpec`; or
    give ``base`` (a RunConfig or dict of sections), ``grid`` and ``zip``
    (dotted path → list of values) and ``seeds`` directly. ``executor``:
    ``local`` (worker processes here; ``workers`` defaults to one per core,
    0 = in this process) or ``ray`` (``address`` of a cluster, else a local
    Ray instance; ``ray_storage``: ``auto`` | ``shared`` | ``return``, see
    ``docs/sweeps.md``). ``results`` / ``exec_config``: where and how
    (device, data_dir, …; the file's ``[exec]`` table otherwise). ``batch``:
    allow seed batching where the rule says it pays. ``dry_run``: expand,
    plan and print the table of runs without training. ``display``:
    ``auto`` | ``live`` | ``quiet`` | ``silent``.

    Example::

        import vanishing
        res = vanishing.sweep(base={"data": {"dataset": "mnist-sample"}, "train": {"epochs": 3}},
                              grid={"model.hidden": [[128], [128, 128]], "model.activation": ["sigmoid", "relu"]},
                              seeds=[0, 1, 2], results="results/demo")
        res.runs.groupby(["hidden", "activation"]).test_acc.mean()
    """
    s = _as_spec(spec, base, grid, zip, seeds, name)
    if executor not in EXECUTORS:
        raise ConfigError(f"executor: expected one of {', '.join(EXECUTORS)}, got {executor!r}")
    if workers is not None and workers < 0:
        raise ConfigError(f"workers: expected a non-negative integer, got {workers}")
    if isinstance(exec_config, ExecConfig):
        ex = exec_config if results is None else replace(exec_config, results=str(results))
    else:
        ex = s.exec_config(**{**dict(exec_config or {}), "results": str(results) if results is not None else None})
    ex = resolve_exec(ex)
    runs = expand(s)  # every config validated before anything is written
    out = out or sys.stdout
    root = Path(ex.results)

    if dry_run:
        return _dry_run(s, runs, root, ex, workers, batch, out)

    store = Store(root)
    initial = reconcile(store, runs)
    final = {rid for rid, st in initial.items() if st in FINAL}
    states = {r.run_id: RunState(r, initial[r.run_id] if r.run_id in final else "pending") for r in runs}
    for rid in final:
        states[rid].summary = read_json(store.run_path(rid) / "summary.json") or {}
        states[rid].epochs = states[rid].summary.get("epochs_done") or 0
    threads = ex.threads or 1
    ex_run = replace(ex, threads=threads, progress=False)
    runner = _executor(executor, workers, threads, address, ray_storage)
    if len(final) < len(runs):
        runner.start()  # Ray: connect now, so the plan knows the cluster's task slots
    n_workers = getattr(runner, "n", None) or 1
    device = "cpu" if ex.device in ("auto", "cpu") else ex.device
    tasks = plan(runs, final, root, max(1, n_workers), batching=batch, device=device, engine=ex.engine)
    shown = Display(s.name, states, display, out)
    if shown.mode != "silent":
        n_batched = sum(len(t.runs) for t in tasks if t.batched)
        print(f"sweep {s.name}: {len(runs)} runs ({len(final)} already finished), {len(tasks)} tasks "
              f"({n_batched} runs in seed batches) on {_describe_executor(executor, runner)}; results in {root}", file=out)
    driver = Driver(store, states, runner, ex_run, shown, retries=retries, sweep_name=s.name)
    previous = install_sigterm_as_interrupt()
    try:
        driver.run(tasks)
    finally:
        if previous is not None:
            import signal

            signal.signal(signal.SIGTERM, previous)
    rows = _rows(runs, states)
    table = summary_table(rows, s.varied)
    c = counts([r["status"] for r in rows])
    if shown.mode != "silent":
        print(table, file=out)
        print(f"sweep {s.name}: {format_counts(c)}; results in {root} (vanishing.load({str(root)!r}))", file=out)
        if driver.interrupted:
            print("interrupted: run the same sweep again to resume", file=out)
    result = SweepResult(s, root, _frame(rows, s.varied, root), table, c, list(tasks), interrupted=driver.interrupted)
    if driver.interrupted:
        raise SweepInterrupted(result)
    return result


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) stopped the sweep; ``.result`` holds what finished. Re-run to resume."""

    def __init__(self, result: SweepResult) -> None:
        super().__init__("sweep interrupted")
        self.result = result


def _executor(kind: str, workers: int | None, threads: int, address: str | None, ray_storage: str):
    if kind == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(address=address, workers=workers, threads=threads, storage=ray_storage)
    if address is not None:
        raise ConfigError("--address: only with --executor ray")
    from .local import LocalExecutor

    return LocalExecutor(workers, threads)


def _describe_executor(kind: str, runner) -> str:
    if kind == "local":
        n = runner.n
        return "this process" if n == 0 else f"{n} local worker process{'es' if n != 1 else ''} × {runner.threads} thread"
    return runner.describe()


def _dry_run(s: SweepSpec, runs: list[SweepRun], root: Path, ex: ExecConfig, workers, batch: bool, out: TextIO) -> SweepResult:
    """Expand and plan without training or writing anything; statuses come from the store if it exists."""
    from ..store import Index

    known: dict[str, dict] = {}
    if (root / "index.sqlite").exists():
        known = {row["run_id"]: row for row in Index(root).rows()}
    states = {}
    for r in runs:
        summary = read_json(root / "runs" / r.run_id / "summary.json") or {}
        status = summary.get("status") if summary.get("status") in FINAL else (known.get(r.run_id) or {}).get("status", "new")
        st = RunState(r, status or "new", summary=summary, epochs=summary.get("epochs_done") or 0)
        states[r.run_id] = st
    final = {rid for rid, st in states.items() if st.status in FINAL}
    from .local import default_workers

    n = default_workers(ex.threads or 1) if workers is None else max(1, workers)
    device = "cpu" if ex.device in ("auto", "cpu") else ex.device
    tasks = plan(runs, final, root, n, batching=batch, device=device, engine=ex.engine)
    batched = {r.run_id: t for t in tasks if t.batched for r in t.runs}
    rows = _rows(runs, states)
    print(runs_table(rows, s.varied), file=out)
    c = counts([r["status"] for r in rows if r["status"] != "new"])
    new = sum(1 for r in rows if r["status"] == "new")
    known_text = ", ".join(f"{n} {st}" for st, n in c.items() if n)
    print(f"sweep {s.name}: {len(runs)} runs ({new} new in {root}{'; ' + known_text if known_text else ''}); "
          f"{len(tasks)} tasks for {n} worker(s), {len(batched)} runs in {sum(1 for t in tasks if t.batched)} seed batches "
          f"(dry run: nothing trained)", file=out)
    return SweepResult(s, root, _frame(rows, s.varied, root), runs_table(rows, s.varied), c, tasks, dry_run=True)
