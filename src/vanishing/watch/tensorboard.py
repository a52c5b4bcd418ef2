"""Optional TensorBoard logging of the probes (``pip install 'vanishing[tensorboard]'``).

The same quantities as the probe tables, as TensorBoard scalars and
histograms (x axis: the global training step):

=================================  ==================================================  ===========
tag                                value                                               when
=================================  ==================================================  ===========
``grad_norm/<layer>/weight_l2``    ‖∇W‖₂ of the step (``grad_norms``)                  every step
``grad_norm/<layer>/bias_l2``      ‖∇b‖₂ of the step                                   every step
``delta_rms/<layer>``              RMS over the probe examples of ‖δ_n‖ (per example)  snapshots
``saturation/<layer>``             fraction of (example, node) pairs with small f′     snapshots
``sparsity/<layer>``               fraction of (example, node) pairs with f(a) ≤ 0     snapshots
``dead_fraction/<layer>``          fraction of nodes with f(a) ≤ 0 on every example    snapshots
``activation/<layer>`` (hist.)     every f(a) of the layer on the probe examples       snapshots
``delta_norm/<layer>`` (hist.)     the per-example ‖δ_n‖                               snapshots
``metrics/<name>``                 per-epoch metrics (``vanishing run`` only)          epochs
=================================  ==================================================  ===========

Per-step values reach the writer in bulk (when the step buffer moves to the
host: at snapshots, epoch ends, or every ``chunk`` steps), never with a
host synchronisation per step. Scalars that are undefined for a layer's
activation (saturation of a ReLU, sparsity of a sigmoid) are not written.

Two entry points: ``watch(..., tensorboard="runs/tb")`` (any model), and
``vanishing run ... --tensorboard DIR`` → :class:`TensorBoardCallback`, which
writes to ``DIR/<run_id>``. The writer is ``torch.utils.tensorboard``'s
``SummaryWriter``; it needs the ``tensorboard`` package, and without it
:class:`TensorBoardUnavailable` says what to install.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from ..errors import UsageError
from ..probes import ProbeCallback, ProbeSetView
from ..probes.capture import capture_probe_set, eval_mode

INSTALL_HINT = "pip install 'vanishing[tensorboard]'  (or: pip install tensorboard)"


class TensorBoardUnavailable(UsageError):
    """TensorBoard logging was asked for but the tensorboard package is not installed."""


def open_writer(logdir: str | Path, purge_step: int | None = None):
    """A ``torch.utils.tensorboard.SummaryWriter`` on ``logdir`` (TensorBoardUnavailable without tensorboard)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise TensorBoardUnavailable(f"TensorBoard logging needs the tensorboard package ({exc}): {INSTALL_HINT}") from None
    return SummaryWriter(log_dir=str(logdir), purge_step=purge_step)


def require_tensorboard() -> None:
    """Fail early (before training) when the writer cannot be had."""
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError as exc:
        raise TensorBoardUnavailable(f"TensorBoard logging needs the tensorboard package ({exc}): {INSTALL_HINT}") from None


def _rows(table: Mapping[str, np.ndarray], value: str, defined: bool = False):
    """(layer, value) pairs of one snapshot's table, skipping undefined rows."""
    keep = np.asarray(table["defined"], dtype=bool) if defined and "defined" in table else np.ones(len(table["layer"]), dtype=bool)
    for layer, v, ok in zip(table["layer"], table[value], keep):
        if ok and np.isfinite(v):
            yield str(layer), float(v)


class TensorBoardLogger:
    """Writes probe rows as TensorBoard scalars/histograms. ``target``: a log folder or a SummaryWriter-like object."""

    def __init__(self, target: Any, purge_step: int | None = None) -> None:
        if hasattr(target, "add_scalar"):
            self.writer, self._own = target, False
        else:
            self.writer, self._own = open_writer(target, purge_step), True

    def log_grad_norms(self, layers: Sequence[str], steps: np.ndarray, values: np.ndarray) -> None:
        """Rows of ``grad_norms``: ``values`` (steps, layers, [weight_l2, weight_mean_abs, bias_l2, bias_mean_abs])."""
        add = self.writer.add_scalar
        for s, row in zip(steps.tolist(), values):
            for i, layer in enumerate(layers):
                if np.isfinite(row[i, 0]):
                    add(f"grad_norm/{layer}/weight_l2", float(row[i, 0]), s)
                if np.isfinite(row[i, 2]):
                    add(f"grad_norm/{layer}/bias_l2", float(row[i, 2]), s)

    def log_snapshot(self, step: int, tables: Mapping[str, Mapping[str, np.ndarray]], view: ProbeSetView | None = None) -> None:
        """One snapshot's tables (name → columns) and, from ``view``, histograms of f(a) and of ‖δ_n‖."""
        add = self.writer.add_scalar
        if "backprop_signal" in tables:
            for layer, v in _rows(tables["backprop_signal"], "rms"):
                add(f"delta_rms/{layer}", v, step)
        for table, column, tag in (("saturation", "saturation", "saturation"), ("sparsity", "sparsity", "sparsity"),
                                   ("dead_units", "fraction", "dead_fraction")):
            if table in tables:
                for layer, v in _rows(tables[table], column, defined=True):
                    add(f"{tag}/{layer}", v, step)
        if view is not None:
            for i, layer in enumerate(view.layers):
                out = view.out[i].detach().float()
                if out.numel():
                    self.writer.add_histogram(f"activation/{layer}", out.reshape(-1).cpu(), step)
                if view.deltas is not None:
                    d = view.deltas[i].detach().float()
                    norms = torch.linalg.vector_norm(d.reshape(len(d), -1), dim=1)
                    if norms.numel():
                        self.writer.add_histogram(f"delta_norm/{layer}", norms.cpu(), step)

    def log_metrics(self, metrics: Mapping[str, Any], step: int) -> None:
        for key, value in metrics.items():
            if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value):
                self.writer.add_scalar(f"metrics/{key}", float(value), step)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        if self._own:
            self.writer.close()
        else:
            self.writer.flush()


class TensorBoardCallback(ProbeCallback):
    """Training-engine callback for ``vanishing run --tensorboard DIR``: the probes, as TensorBoard events in DIR/<run_id>.

    A :class:`~vanishing.probes.ProbeCallback` of its own (``grad_norms``
    every step; ``backprop_signal``, ``saturation``, ``sparsity``,
    ``dead_units`` after every epoch and at init, on ``per_class`` probe
    examples per class) whose rows go to TensorBoard at each epoch's end
    instead of to the run directory (the run's own probes still write the
    store). Its cost is that of these probes again. It keeps no checkpoint
    state: a resumed run writes from the resumed epoch on (``purge_step``
    drops the events a killed run wrote after its last checkpoint).
    """

    PROBES = ("grad_norms(every=1)", "backprop_signal(epochs='all')", "saturation(epochs='all')",
              "sparsity(epochs='all')", "dead_units(epochs='all')")

    def __init__(self, logdir: str | Path, *, per_class: int = 10, split: str = "train", seed: int = 0) -> None:
        require_tensorboard()
        super().__init__(list(self.PROBES), None, per_class=per_class, split=split, seed=seed)
        self.logdir = Path(logdir)
        self.logger: TensorBoardLogger | None = None
        self._logged_rows = 0
        self._logged_parts: dict[str, int] = {}
        self._views: dict[int, ProbeSetView] = {}

    def on_fit_start(self, ctx, start_epoch: int) -> None:
        from ..config import run_id

        s = ctx.steps_per_epoch
        self.logger = TensorBoardLogger(self.logdir / run_id(ctx.config), purge_step=start_epoch * s + 1 if start_epoch else None)
        super().on_fit_start(ctx, start_epoch)
        self._log_new(ctx)

    def _snapshot(self, ctx, epoch: int) -> None:  # ProbeCallback._snapshot, keeping the view for histograms
        due = self.recorder.snapshot_due(epoch)
        if not due:
            return
        ps = self.probe_set
        with eval_mode(ctx.model):
            view = capture_probe_set(ctx.model, ps.x, ps.y, ctx.loss, epoch, ps.n_classes, True, self.layers)
            self.recorder.record_snapshot(epoch, view, due)
        self._views[epoch] = view

    def on_epoch_end(self, ctx, metrics: dict) -> None:
        super().on_epoch_end(ctx, metrics)
        self._log_new(ctx)
        self.logger.log_metrics(metrics, int(metrics["epoch"]) * ctx.steps_per_epoch)
        self.logger.flush()

    def on_fit_end(self, ctx, status: str, summary: dict) -> None:
        super().on_fit_end(ctx, status, summary)
        self._log_new(ctx)
        self.logger.close()

    def _log_new(self, ctx) -> None:
        """Write the step rows and snapshot tables recorded since the last call."""
        slot = self.recorder.step_slots[0]
        for steps, values in zip(slot.done_steps[self._logged_rows:], slot.done_values[self._logged_rows:]):
            self.logger.log_grad_norms(slot.layers, steps.numpy(), values.numpy().astype(np.float64))
        self._logged_rows = len(slot.done_values)
        epochs = sorted(self._views)
        for epoch in epochs:
            view = self._views.pop(epoch)
            tables = {}
            for name, parts in self.recorder.snapshots.items():
                for part in parts[self._logged_parts.get(name, 0):]:
                    if len(part["epoch"]) and int(part["epoch"][0]) == epoch:
                        tables[name] = part
            self.logger.log_snapshot(epoch * ctx.steps_per_epoch, tables, view)
        for name, parts in self.recorder.snapshots.items():
            self._logged_parts[name] = len(parts)

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass
