"""Recording probes during training without per-step host synchronisation.

:class:`ProbeRecorder` is engine-agnostic: it owns, for every step probe, a
device buffer of shape (rows, layers, columns) preallocated from the schedule
(the most scheduled steps any epoch has), writes each scheduled step's row
into it on the device, and copies the epoch's rows to the host once, at the
epoch's end. Snapshot probes run on the probe set at scheduled epochs and
return host tables directly (one synchronisation per snapshot, at an epoch
boundary). Everything finished so far is in :meth:`ProbeRecorder.state_dict`,
which the engine saves in every checkpoint, so a killed and resumed run ends
with complete tables: the rows of an unfinished epoch are dropped and
recorded again when the resumed run replays that epoch.

:class:`ProbeCallback` adapts a recorder to the training engine's
:class:`~vanishing.train.Callback` hooks and the MLP (see ``docs/probes.md``).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from ..train import Callback, FitContext, StepInfo
from .base import Columns, Probe, ProbeSetView, SnapshotProbe, StepProbe
from .capture import MLPLayers, capture_probe_set, eval_mode
from .probe_set import ProbeSet, make_probe_set

STATE_FORMAT = 1


# --------------------------------------------------------------------------- column encoding (checkpoint-safe)


def encode_columns(columns: Columns) -> dict:
    """Columns → tensors and lists of str only (loadable with ``torch.load(weights_only=True)``)."""
    out: dict[str, Any] = {}
    for name, col in columns.items():
        if col.dtype.kind in "US":
            categories, codes = np.unique(col, return_inverse=True)
            out[name] = {"categories": [str(c) for c in categories], "codes": torch.from_numpy(codes.astype(np.int64))}
        else:
            out[name] = torch.from_numpy(np.ascontiguousarray(col).copy())
    return out


def decode_columns(encoded: dict) -> Columns:
    out: Columns = {}
    for name, col in encoded.items():
        if isinstance(col, dict):
            out[name] = np.asarray(col["categories"], dtype=str)[col["codes"].numpy()] if col["categories"] else np.zeros(0, dtype=str)
        else:
            out[name] = col.numpy()
    return out


def concat_columns(parts: list[Columns]) -> Columns:
    if not parts:
        return {}
    return {col: np.concatenate([p[col] for p in parts]) for col in parts[0]}


# --------------------------------------------------------------------------- the recorder


class _StepSlot:
    """Buffers and bookkeeping of one step probe."""

    def __init__(self, probe: StepProbe, layers: list[str], epochs: int, steps_per_epoch: int, device: torch.device) -> None:
        self.probe = probe
        self.layers = layers
        self.steps_per_epoch = steps_per_epoch
        self.by_epoch: list[list[int]] = [[] for _ in range(epochs)]
        for s in probe.schedule.select(1, epochs * steps_per_epoch):
            self.by_epoch[(s - 1) // steps_per_epoch].append(s)
        rows = max((len(b) for b in self.by_epoch), default=0)
        self.buffer = torch.full((rows, len(layers), len(probe.columns)), float("nan"), device=device)
        self.row_of: dict[int, int] = {}
        self.epoch = -1
        self.done_values: list[torch.Tensor] = []  # host (rows, L, Q) per finished epoch
        self.done_steps: list[torch.Tensor] = []

    def begin_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        steps = self.by_epoch[epoch] if 0 <= epoch < len(self.by_epoch) else []
        self.row_of = {s: r for r, s in enumerate(steps)}
        if steps:
            self.buffer[: len(steps)].fill_(float("nan"))

    def flush(self, last_step: int | None = None) -> None:
        """Copy this epoch's rows (up to ``last_step``) to the host."""
        steps = [s for s in self.row_of if last_step is None or s <= last_step]
        if steps:
            self.done_values.append(self.buffer[: len(steps)].detach().to("cpu", copy=True))
            self.done_steps.append(torch.tensor(sorted(steps), dtype=torch.int64))
        self.row_of = {}

    def table(self) -> Columns:
        values = torch.cat(self.done_values).numpy() if self.done_values else np.zeros((0, len(self.layers), len(self.probe.columns)))
        steps = torch.cat(self.done_steps).numpy() if self.done_steps else np.zeros(0, dtype=np.int64)
        n_layers = len(self.layers)
        table: Columns = {
            "step": np.repeat(steps, n_layers),
            "epoch": np.repeat((steps - 1) // self.steps_per_epoch + 1, n_layers),
            "layer": np.tile(np.asarray(self.layers, dtype=str), len(steps)),
        }
        for q, col in enumerate(self.probe.columns):
            table[col] = values[:, :, q].reshape(-1).astype(np.float64)
        return table


class ProbeRecorder:
    """Buffers, schedules and finished tables of a set of probes for one run (or one seed).

    ``weight_layers`` / ``hidden_layers`` name the rows of the step probes
    (``layer_kind`` "weight" / "hidden"). Use: :meth:`begin_epoch` before an
    epoch's steps; per step :meth:`due` → compute → :meth:`record`;
    :meth:`end_epoch` after the epoch's last step; :meth:`snapshot_due` /
    :meth:`record_snapshot` at epoch boundaries; :meth:`tables` at the end.
    """

    def __init__(
        self,
        probes: Sequence[Probe],
        weight_layers: list[str],
        hidden_layers: list[str],
        epochs: int,
        steps_per_epoch: int,
        device: torch.device | str = "cpu",
    ) -> None:
        names = [p.name for p in probes]
        if len(set(names)) != len(names):
            raise ValueError(f"a probe appears twice: {names}")
        self.probes = list(probes)
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.step_slots = [
            _StepSlot(p, weight_layers if p.layer_kind == "weight" else hidden_layers, epochs, steps_per_epoch, torch.device(device))
            for p in probes
            if isinstance(p, StepProbe)
        ]
        self.snapshot_probes = [p for p in probes if isinstance(p, SnapshotProbe)]
        self.snapshots: dict[str, list[Columns]] = {}
        self.snapshot_epochs: dict[str, list[int]] = {p.name: [] for p in self.snapshot_probes}

    # -- steps
    def begin_epoch(self, epoch: int) -> None:
        """Prepare the buffers for 0-based ``epoch`` (its steps are epoch·S + 1 … (epoch + 1)·S)."""
        for slot in self.step_slots:
            slot.begin_epoch(epoch)

    def due(self, step: int) -> list[_StepSlot]:
        """The step probes scheduled at ``step`` (a dict lookup each; no tensor work)."""
        return [slot for slot in self.step_slots if step in slot.row_of]

    def wants_deltas(self, step: int) -> bool:
        return any(slot.probe.needs_deltas and step in slot.row_of for slot in self.step_slots)

    @staticmethod
    def record(slot: _StepSlot, step: int, row: torch.Tensor) -> None:
        """Write ``row`` (layers, columns) into the device buffer; no host sync."""
        slot.buffer[slot.row_of[step]].copy_(row)

    def end_epoch(self, last_step: int | None = None) -> None:
        """Move the epoch's rows to the host (rows after ``last_step`` dropped: a diverged run's tail)."""
        for slot in self.step_slots:
            slot.flush(last_step)

    # -- snapshots
    def snapshot_due(self, epoch: int) -> list[SnapshotProbe]:
        """Snapshot probes scheduled after ``epoch`` finished epochs (0 = at init) and not yet taken."""
        return [p for p in self.snapshot_probes if p.schedule(epoch) and epoch not in self.snapshot_epochs[p.name]]

    def record_snapshot(self, epoch: int, view: ProbeSetView, probes: Sequence[SnapshotProbe]) -> None:
        for probe in probes:
            for table, cols in probe.compute(view).items():
                n = len(next(iter(cols.values()))) if cols else 0
                self.snapshots.setdefault(table, []).append({"epoch": np.full(n, epoch, dtype=np.int64), **cols})
            self.snapshot_epochs[probe.name].append(epoch)

    # -- results
    def tables(self) -> dict[str, Columns]:
        """Every finished table, long format (see ``vanishing.store.results``)."""
        out = {slot.probe.tables[0]: slot.table() for slot in self.step_slots}
        for name, parts in self.snapshots.items():
            out[name] = concat_columns(parts)
        return out

    def state_dict(self) -> dict:
        return {
            "format": STATE_FORMAT,
            "steps": {
                slot.probe.name: {"values": list(slot.done_values), "steps": list(slot.done_steps)} for slot in self.step_slots
            },
            "snapshots": {name: [encode_columns(p) for p in parts] for name, parts in self.snapshots.items()},
            "snapshot_epochs": {k: list(v) for k, v in self.snapshot_epochs.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        if not state:
            return
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"probe state format {state.get('format')!r} is not {STATE_FORMAT}")
        for slot in self.step_slots:
            saved = state["steps"].get(slot.probe.name, {"values": [], "steps": []})
            slot.done_values = [v.clone() for v in saved["values"]]
            slot.done_steps = [s.clone() for s in saved["steps"]]
        self.snapshots = {name: [decode_columns(p) for p in parts] for name, parts in state["snapshots"].items()}
        for name in self.snapshot_epochs:
            self.snapshot_epochs[name] = list(state["snapshot_epochs"].get(name, []))


# --------------------------------------------------------------------------- the engine adapter


class ProbeCallback(Callback):
    """Records probes in :func:`vanishing.train.fit` and writes their tables to ``sink`` at the end.

    ``probes``: :class:`Probe` instances, or probe specs in the config's call
    syntax (``"grad_norms(every=1)"``, preset names) built once the number of
    epochs and steps is known. The probe set is ``per_class`` examples of each
    class from ``split`` (seeded by ``seed``), or ``probe_set`` if given.
    Snapshot probes run in eval mode on the probe set at scheduled epochs
    (0 = before training, in ``on_fit_start``; e = after epoch e's evaluation).
    Tables are written through ``sink.write_probe(name, columns)`` when the
    run ends (done, diverged — including the diverging epoch's steps — or
    interrupted — finished epochs only) and are kept in :attr:`results`.
    """

    def __init__(
        self,
        probes: Sequence[Probe | str],
        sink: Any = None,
        *,
        per_class: int = 100,
        split: str = "train",
        seed: int = 0,
        probe_set: ProbeSet | None = None,
    ) -> None:
        self.specs = list(probes)
        self.sink = sink
        self.per_class, self.split, self.seed = per_class, split, seed
        self.probe_set = probe_set
        self.recorder: ProbeRecorder | None = None
        self.results: dict[str, Columns] = {}
        self._state: dict | None = None
        self._pending: list[tuple[Any, Any]] = []
        self._last_step = 0
        self._delta_steps: bool = False

    # -- setup
    def _build(self, ctx: FitContext) -> list[Probe]:
        from .spec import build_probes

        specs = [s for s in self.specs if isinstance(s, str)]
        built = build_probes(specs, ctx.config.train.epochs, ctx.steps_per_epoch) if specs else []
        return [*built, *(p for p in self.specs if isinstance(p, Probe))]

    def on_fit_start(self, ctx: FitContext, start_epoch: int) -> None:
        self.layers = MLPLayers(ctx.model)
        probes = self._build(ctx)
        self.recorder = ProbeRecorder(
            probes, self.layers.weight_layers, self.layers.hidden_layers, ctx.config.train.epochs, ctx.steps_per_epoch, ctx.device
        )
        if self._state:
            self.recorder.load_state_dict(self._state)
        self._delta_steps = any(p.needs_deltas for p in probes if isinstance(p, StepProbe))
        if self.recorder.snapshot_probes and self.probe_set is None:
            self.probe_set = make_probe_set(ctx.data, self.split, self.per_class, self.seed)
        if self.probe_set is not None:
            self.probe_set = self.probe_set.to(ctx.device)
        if start_epoch == 0:
            self._snapshot(ctx, 0)
        self.recorder.begin_epoch(start_epoch)

    def _snapshot(self, ctx: FitContext, epoch: int) -> None:
        due = self.recorder.snapshot_due(epoch)
        if not due:
            return
        ps = self.probe_set
        with eval_mode(ctx.model):
            view = capture_probe_set(
                ctx.model, ps.x, ps.y, ctx.loss, epoch, ps.n_classes, any(p.needs_deltas for p in due), self.layers
            )
            self.recorder.record_snapshot(epoch, view, due)

    # -- per step: device work only
    def wants_intermediates(self, step: int) -> bool:
        return self._delta_steps and self.recorder.wants_deltas(step)

    def on_after_backward(self, ctx: FitContext, info: StepInfo) -> None:
        due = self.recorder.due(info.step)
        if not due:
            return
        deltas = [a.grad for a in info.pre] if info.pre is not None else None
        view = self.layers.step_view(info.step, deltas, info.x.shape[0])
        self._pending = [(slot, slot.probe.before_update(view)) for slot in due]

    def on_step_end(self, ctx: FitContext, info: StepInfo) -> None:
        self._last_step = info.step
        if not self._pending:
            return
        view = self.layers.step_view(info.step)
        for slot, stash in self._pending:
            ProbeRecorder.record(slot, info.step, slot.probe.after_update(view, stash))
        self._pending = []

    # -- epoch boundaries
    def on_epoch_end(self, ctx: FitContext, metrics: dict) -> None:
        epoch = int(metrics["epoch"])  # finished epochs, 1-based
        self.recorder.end_epoch()
        self._snapshot(ctx, epoch)
        self.recorder.begin_epoch(epoch)

    def on_fit_end(self, ctx: FitContext, status: str, summary: dict) -> None:
        if status == "diverged":
            self.recorder.end_epoch(self._last_step)
        self.results = self.recorder.tables()
        write = getattr(self.sink, "write_probe", None)
        if write is not None:
            for name, columns in self.results.items():
                write(name, columns)

    # -- resume
    def state_dict(self) -> dict:
        return self.recorder.state_dict() if self.recorder is not None else {}

    def load_state_dict(self, state: dict) -> None:
        self._state = state
