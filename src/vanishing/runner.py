"""``vanishing.run(config)``: validate, load data, claim the run in the store, train, record.

The order matters for the "no half-written output" rule: the config is
resolved and the data loaded before anything is written, so bad input fails
with one message and leaves the results root untouched.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch

from .config import ExecConfig, RunConfig, resolve, resolve_exec, run_id
from .data import Dataset, load_dataset
from .errors import StoreError
from .store import Store
from .store.atomic import read_json
from .train import Callback, fit, resolve_device


@dataclass
class RunResult:
    """What ``run`` returns: the run's id, directory, status, summary and per-epoch metrics."""

    run_id: str
    path: Path
    status: str  # done | diverged | interrupted | failed | busy
    summary: dict
    history: list[dict] = field(default_factory=list)
    resumed_from_epoch: int = 0
    already_done: bool = False
    data_source: str = ""


class RunBusyError(RuntimeError):
    """Another live process holds the run's lease."""


def load_run_data(config: RunConfig, ex: ExecConfig, device: torch.device | str = "cpu") -> Dataset:
    """The data set of a resolved config, preprocessed and split as it specifies."""
    d = config.data
    return load_dataset(
        d.dataset,
        data_dir=ex.data_dir,
        mirror=ex.mirror,
        val_fraction=d.val_fraction,
        split_seed=d.split_seed,
        pixel_divisor=d.pixel_divisor,
        standardize=d.standardize,
        train_subset=d.train_subset,
        device=device,
    )


def run(
    config: RunConfig,
    exec_config: ExecConfig | None = None,
    *,
    callbacks: Sequence[Callback] = (),
    on_epoch: Callable[[dict], None] | None = None,
    on_start: Callable[[RunResult], None] | None = None,
    data: Dataset | None = None,
) -> RunResult:
    """Train one configuration and record it in the results root ``exec_config.results``.

    A run that already finished (same resolved config and seed) is not
    trained again: its stored summary is returned with ``already_done``.
    An unfinished run resumes from its last checkpoint. The probes of
    ``config.probes`` are recorded and written to the run directory
    (``probes/<table>.npz``; see :mod:`vanishing.probes`). ``on_start`` is
    called once the run is claimed, before training. Raises UsageError
    subclasses for bad input (before anything is written) and
    RunBusyError when another live process trains the same run.
    """
    config = resolve(config)
    ex = resolve_exec(exec_config or ExecConfig())
    if ex.threads is not None:
        torch.set_num_threads(ex.threads)
    device = resolve_device(ex.device)
    if data is None:
        data = load_run_data(config, ex, device)
    store = Store(ex.results)
    state, handle = store.open(config, exec_info={**asdict(ex), "device_resolved": str(device)})
    rid = run_id(config)
    path = store.run_path(rid)
    if state == "final":
        history = read_json(path / "epochs.json") or []
        return RunResult(rid, path, handle["status"], handle, history, already_done=True, data_source=data.source)
    if state == "busy":
        raise RunBusyError(
            f"run {rid} is being trained by pid {handle['pid']} on {handle['host']} (lease heartbeat "
            f"{handle['heartbeat']:.0f}); wait for it or remove the stale lease by stopping that process"
        )
    checkpoint_epochs = len(read_json(path / "epochs.json") or [])
    result = RunResult(rid, path, "running", {}, resumed_from_epoch=checkpoint_epochs, data_source=data.source)
    if on_start is not None:
        on_start(result)
    from .probes import probe_callback

    probes = probe_callback(config, handle)  # first, so its checkpoint slot does not depend on the caller's callbacks
    try:
        outcome = fit(config, data, handle, ex, callbacks=[*([probes] if probes else []), *callbacks], on_epoch=on_epoch)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        try:
            handle.finish("failed", {"epochs_done": len(read_json(path / 'epochs.json') or [])}, message)
        except StoreError:
            pass  # the disk that failed the run refuses the summary too (the index still records the failure)
        raise
    result.status, result.summary, result.history = outcome.status, outcome.summary, outcome.history
    return result
