"""``vanishing.watch(model, probe_batch=(x, y), loss_fn=...)``: the probes on any PyTorch model, in the user's own loop.

The user's loop stays plain PyTorch::

    w = vanishing.watch(model, probe_batch=(x_probe, y_probe), loss_fn=F.cross_entropy, every=100)
    with w:
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
    print(w.diagnose())
    w.save("vanishing-results")

What is recorded (see ``docs/watch.md``):

* **every step** — per weight layer, the probes' ``grad_norm_stats``:
  ‖∇W‖₂, mean|∇W|, ‖∇b‖₂, mean|∇b| of that step's backward pass. A step is
  one backward pass that reaches the watched weights (``step_on="backward"``,
  the default: a multi-gradient hook, no call needed) or one call of
  :meth:`Watch.step` (``step_on="call"``, reads ``.grad``; use it with
  gradient accumulation). Rows go into a preallocated device buffer with one
  ``copy_`` each — no host synchronisation — and move to the host in bulk
  when the buffer (``chunk`` rows) is full and at every snapshot.
* **at the start and every** ``every`` **steps** — a snapshot on the probe
  batch, in eval mode, of every hidden weight layer: per-example δ (the
  ``backprop_signal`` table), activation statistics per node and class
  (``activation_stats``, ``activation_hist``), ``sparsity``, ``dead_units`` and
  ``saturation`` — the probe classes of :mod:`vanishing.probes` run on a
  :class:`~vanishing.probes.ProbeSetView` built from forward hooks. With
  ``step_on="backward"`` the snapshot of step s runs at the start of the next
  forward pass (after the optimizer step), or at :meth:`close`.

A snapshot never changes weights, gradients, batch-norm statistics or the
random state, so a watched loop trains exactly like an unwatched one (tested).
"""

from __future__ import annotations

import math
import time
import warnings
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils._pytree import tree_map

from .. import activations as act_registry
from ..probes import (
    ActivationStats,
    BackpropSignal,
    DeadUnits,
    ProbeRecorder,
    ProbeSetView,
    Saturation,
    Schedule,
    Sparsity,
    at_init,
    eval_mode,
    every as every_schedule,
    grad_norm_stats,
)
from ..probes.grad_norms import COLUMNS as GRAD_COLUMNS
from .hooks import Capture, Layout, discover, nodes_first, pair_events
from .per_example import check_reduction, probe_size, resolve_reduction, summed_loss
from .recurrent import gate_summary, lag_rows
from .verdicts import TIME_STEPS

STEP_MODES = ("backward", "call")
AUTO_EVERY = 100  # every="auto": a snapshot every 100 steps …
MAX_OVERHEAD = 0.05  # … or further apart, so that snapshots take at most this share of the training time


class SnapshotPace:
    """When ``every="auto"`` takes the next snapshot: after at least ``every`` steps, and after at least

        k = ⌈ s / (max_overhead · τ) ⌉ steps

    since the last one, with s the median duration of the last three snapshots and τ an
    exponential moving average (weight 0.1) of the training step's wall time, measured
    between consecutive steps with the snapshots' own time taken out; an interval over 20 τ
    (an evaluation loop, a pause) is not a training step and is left out. Then s ≤
    max_overhead · k τ: the snapshots' share of the time stays ≤ max_overhead / (1 +
    max_overhead) however large the model or the probe batch.
    """

    def __init__(self, every: int, max_overhead: float, clock=None) -> None:
        self.every, self.max_overhead = int(every), float(max_overhead)
        self.clock = clock if clock is not None else time.perf_counter
        self.step_s: float | None = None
        self.last_step = 0
        self._seconds: list[float] = []
        self._t: float | None = None
        self._excluded = 0.0

    def tick(self) -> None:
        now = self.clock()
        if self._t is not None:
            dt = now - self._t - self._excluded
            if dt > 0 and (self.step_s is None or dt < 20 * self.step_s):
                self.step_s = dt if self.step_s is None else 0.9 * self.step_s + 0.1 * dt
        self._t, self._excluded = now, 0.0

    def snapped(self, step: int, seconds: float) -> None:
        self.last_step = int(step)
        self._seconds = (self._seconds + [float(seconds)])[-3:]
        self._excluded += float(seconds)

    def interval(self) -> int:
        """Steps from the last snapshot to the next."""
        if not self._seconds or not self.step_s:
            return self.every
        s = sorted(self._seconds)[len(self._seconds) // 2]
        return max(self.every, math.ceil(s / (self.max_overhead * self.step_s)))

    def due(self, step: int) -> bool:
        return step - self.last_step >= self.interval()


MAX_CLASSES = 100  # per-class activation statistics up to this many classes; pooled only above
# activation-statistics quantiles from at most this many strided samples per (node, class): exact below it (an MLP's
# probe batch), ±√(q(1−q)/4096) ≈ ±0.7 percentile points of rank above it (a language model's N × T tokens, a
# CNN's N × H × W positions), where the sort dominated the snapshot; mean and std stay exact
QUANTILE_SAMPLES = 4096


class UnknownActivation:
    """Stand-in for an activation whose f is unknown: no saturation test, no hard zero, unbounded range."""

    spec = "unknown"
    name = "unknown"
    lo = -math.inf
    hi = math.inf
    saturates = False
    hard_zero = False

    def __repr__(self) -> str:
        return "UnknownActivation()"


UNKNOWN = UnknownActivation()


def _call(model: nn.Module, x: Any) -> Any:
    if isinstance(x, (tuple, list)):
        return model(*x)
    if isinstance(x, Mapping):
        return model(**x)
    return model(x)


def _labels(y: Any, n: int, device: torch.device) -> tuple[torch.Tensor, int]:
    """Class labels for the per-class statistics: y itself when it is (N,) integer labels of ≤ MAX_CLASSES classes."""
    if isinstance(y, torch.Tensor) and y.dim() == 1 and len(y) == n and not y.is_floating_point() and not y.is_complex():
        if n and int(y.min()) >= 0 and int(y.max()) < MAX_CLASSES:
            return y.long(), int(y.max()) + 1
    return torch.zeros(n, dtype=torch.long, device=device), 1


class Watch:
    """Probes attached to an arbitrary ``nn.Module`` (build with :func:`watch`; see the module docstring).

    Attributes: ``layers`` (weight layers, execution order), ``hidden`` (the
    ones whose δ and activations are snapshotted: every weight layer that
    runs once per forward pass except the last one, the output layer),
    ``output_layer``, ``activations`` (hidden layer → activation spec or
    ``"unknown"``), ``steps`` (steps seen), ``snapshot_steps``.
    """

    def __init__(
        self,
        model: nn.Module,
        probe_batch: tuple[Any, Any],
        loss_fn: Callable[..., torch.Tensor],
        *,
        every: int | Schedule | str = "auto",
        max_overhead: float = MAX_OVERHEAD,
        step_on: str = "backward",
        unknown: str = "warn",
        activations: Mapping[str, str] | None = None,
        loss_reduction: str = "auto",
        saturation_threshold: float = 0.05,
        bins: int = 50,
        tensorboard: Any = None,
        chunk: int = 1024,
        name: str | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"watch: model must be a torch.nn.Module, got {type(model).__name__}")
        if step_on not in STEP_MODES:
            raise ValueError(f"watch: step_on={step_on!r} must be one of {', '.join(STEP_MODES)}")
        auto = isinstance(every, str) and every == "auto"
        if not auto and (isinstance(every, bool) or not isinstance(every, (int, Schedule))
                         or (isinstance(every, int) and every < 1)):
            raise ValueError(f"watch: every must be 'auto', an integer >= 1 (steps between snapshots) or a schedule, "
                             f"got {every!r}")
        if isinstance(max_overhead, bool) or not isinstance(max_overhead, (int, float)) or not 0 < max_overhead <= 1:
            raise ValueError(f"watch: max_overhead must be a fraction in (0, 1] of the training time, got {max_overhead!r}")
        if not isinstance(chunk, int) or chunk < 1:
            raise ValueError(f"watch: chunk must be an integer >= 1, got {chunk!r}")
        if not 0.0 < saturation_threshold < 1.0:
            raise ValueError(f"watch: saturation_threshold must lie in (0, 1), got {saturation_threshold!r}")
        if not isinstance(probe_batch, (tuple, list)) or len(probe_batch) != 2:
            raise ValueError("watch: probe_batch must be a pair (x, y) of inputs and targets")
        self.model = model
        self.loss_fn = loss_fn
        self.auto = auto
        self.max_overhead = float(max_overhead)
        self.schedule: Schedule = every_schedule(AUTO_EVERY if auto else every) if auto or isinstance(every, int) else every
        self.snapshot_seconds: list[float] = []  # wall time of each snapshot
        self._pace = SnapshotPace(AUTO_EVERY, self.max_overhead)
        self.step_on = step_on
        self.unknown_policy = unknown
        self.chunk = chunk
        self.name = name
        self.saturation_threshold = float(saturation_threshold)
        self.bins = int(bins)
        params = list(model.parameters())
        self.device = params[0].device if params else torch.device("cpu")
        to_device = lambda t: t.to(self.device) if isinstance(t, torch.Tensor) else t  # noqa: E731
        self.x = tree_map(to_device, probe_batch[0])
        self.y = tree_map(to_device, probe_batch[1])
        self.n = probe_size(self.x, self.y)
        self.layout: Layout = discover(model, unknown)
        self.reduction = resolve_reduction(loss_fn, loss_reduction)
        self._total = summed_loss(loss_fn, self.reduction)
        self.labels, self.n_classes = _labels(self.y, self.n, self.device)
        self._overrides = self._check_overrides(activations or {})
        self._probes = [
            BackpropSignal(at_init()),
            ActivationStats(at_init(), bins=self.bins, max_samples=QUANTILE_SAMPLES),
            Sparsity(at_init()),
            DeadUnits(at_init()),
            Saturation(at_init(), threshold=self.saturation_threshold),
        ]
        self.started = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        self.steps = 0
        self.snapshot_steps: list[int] = []
        self._pending = False
        self._busy = False
        self._closed = False
        self._handles: list[Any] = []
        self._tt_rows: list[tuple] = []  # through time, fused recurrent layers: (step, layer, t, rms, lag, n, rms_cell)
        self._cs_rows: list[tuple] = []  # cell state of nn.LSTMCell loops: (step, layer, t, lag, n, rms_cell)
        self._gate_rows: list[tuple] = []  # gate saturation: (step, layer, gate, n, low, high, mean)
        self._tb = None
        self._discover_order()  # one eval-mode forward pass: execution order, hidden layers, pairing
        if tensorboard is not None:
            from .tensorboard import TensorBoardLogger

            self._tb = TensorBoardLogger(tensorboard)
        self.recorder = ProbeRecorder(self._probes, [], self.hidden, 0, 1)
        n_layers = len(self.layers)
        self._buffer = torch.full((chunk, n_layers, len(GRAD_COLUMNS)), float("nan"), device=self.device)
        self._rows: list[int] = []
        self._host_steps: list[np.ndarray] = []
        self._host_values: list[np.ndarray] = []
        self._snapshot()  # step 0: the network as handed over
        self._attach()

    # ------------------------------------------------------------------ setup

    def _check_overrides(self, given: Mapping[str, str]) -> dict[str, Any]:
        out = {}
        for layer, spec in given.items():
            if layer not in self.layout.weight:
                raise ValueError(f"watch: activations={{{layer!r}: ...}}: no weight layer named {layer!r} "
                                 f"(weight layers: {', '.join(self.layout.weight)})")
            out[layer] = act_registry.get(spec, f"watch activations[{layer!r}]")
        return out

    def _discover_order(self) -> None:
        with eval_mode(self.model), torch.no_grad(), Capture(self.layout) as cap:
            output = _call(self.model, self.x)
        check_reduction(self.loss_fn, self.reduction, output, self.y, self.n)
        calls = Counter(e.name for e in cap.events if e.kind == "weight")
        ran = list(dict.fromkeys(e.name for e in cap.events if e.kind == "weight"))
        if not ran:
            raise RuntimeError("watch: no Linear or convolution layer ran on the probe batch (called through forward hooks)")
        idle = [n for n in self.layout.weight if n not in calls]
        if idle:
            warnings.warn(f"watch: layers {', '.join(idle)} did not run on the probe batch: gradient norms only", stacklevel=4)
        self.layers: list[str] = ran + idle  # weight modules: one gradient-norm row each, however often they run
        self._calls = dict(calls)
        pairs = self._applications(cap.events)  # application name → (weight call, activation call or None)
        apps = list(pairs)
        self.output_layer = apps[-1]
        # a module called k > 1 times is k applications, name@1 … name@k, in execution order, each with its own δ
        self.hidden: list[str] = apps[:-1]
        self.app_module: dict[str, str] = {a: pairs[a][0].name for a in apps}
        self.activation_module: dict[str, str | None] = {n: (pairs[n][1].name if pairs[n][1] else None) for n in self.hidden}
        self._activation: dict[str, Any] = {}
        for n in self.hidden:
            base = self.app_module[n]
            if base in self._overrides:
                self._activation[n] = self._overrides[base]
            elif self.activation_module[n] is not None:
                self._activation[n] = self.layout.activation[self.activation_module[n]][1] or UNKNOWN
            else:
                self._activation[n] = UNKNOWN
        self.activations = {n: getattr(a, "spec", "unknown") for n, a in self._activation.items()}
        self.widths = {}
        for n in self.hidden:
            out = pairs[n][0].output
            self.widths[n] = int(nodes_first(out, self.layout.node_dim[self.app_module[n]]).shape[1]) if out.dim() > 1 else 1
        self._param_index: list[tuple[int, int]] = []
        self._param_tensors: list[torch.Tensor] = []
        for i, n in enumerate(self.layers):
            w, b = self.layout.params[n]
            for k, p in enumerate((w, b)):
                if isinstance(p, torch.Tensor) and p.requires_grad:
                    self._param_index.append((i, k))
                    self._param_tensors.append(p)

    def _applications(self, events) -> dict[str, tuple[Any, Any]]:
        """Weight-layer calls of one forward pass by application name (``name``, or ``name@k`` for the k-th call)."""
        seen: Counter = Counter()
        out: dict[str, tuple[Any, Any]] = {}
        for w_event, a_event in pair_events(events):
            seen[w_event.name] += 1
            app = w_event.name if self._calls.get(w_event.name, 1) == 1 else f"{w_event.name}@{seen[w_event.name]}"
            out[app] = (w_event, a_event)
        return out

    def _attach(self) -> None:
        if self.step_on == "backward":
            if not self._param_tensors:
                raise ValueError("watch: no watched weight requires a gradient; nothing to step on (step_on='backward')")
            self._handles.append(torch.autograd.graph.register_multi_grad_hook(self._param_tensors, lambda g: self._on_grads(g)))
            self._handles.append(self.model.register_forward_pre_hook(lambda m, inputs: self._before_forward()))

    # ------------------------------------------------------------------ per step (device work only)

    def _on_grads(self, grads) -> None:
        if self._busy:
            return
        n_layers = len(self.layers)
        wg: list[torch.Tensor | None] = [None] * n_layers
        bg: list[torch.Tensor | None] = [None] * n_layers
        for (i, k), g in zip(self._param_index, grads):
            (wg if k == 0 else bg)[i] = g
        self._record(wg, bg)
        if self._pending_due():
            self._pending = True

    def _before_forward(self) -> None:
        if self._pending and not self._busy:
            self._snapshot()

    def _pending_due(self) -> bool:
        if self.auto:
            return self._pace.due(self.steps)
        return self.schedule(self.steps)

    def step(self) -> None:
        """Count one training step (``step_on="call"``): record the ``.grad`` norms; snapshot if scheduled.

        Call it after ``loss.backward()`` — before or after ``optimizer.step()``
        (gradients are read as they are then: after any clipping you did).
        """
        if self.step_on != "call":
            raise RuntimeError("watch: step() is for step_on='call'; with step_on='backward' every backward pass is a step")
        if self._closed:
            raise RuntimeError("watch: this watch is closed")
        wg, bg = [], []
        for n in self.layers:
            w, b = self.layout.params[n]
            wg.append(w.grad)
            bg.append(b.grad if isinstance(b, torch.Tensor) else None)
        self._record(wg, bg)
        if self._pending_due():
            self._snapshot()

    def _record(self, weight_grads, bias_grads) -> None:
        self.steps += 1
        self._pace.tick()
        if all(g is None for g in weight_grads) and all(g is None for g in bias_grads):
            return
        row = len(self._rows)
        self._buffer[row].copy_(grad_norm_stats(weight_grads, bias_grads))
        self._rows.append(self.steps)
        if len(self._rows) == self.chunk:
            self._flush_steps()

    # ------------------------------------------------------------------ bulk transfer and snapshots

    def _flush_steps(self) -> None:
        """Move the buffered rows to the host (one transfer) and hand them to TensorBoard."""
        if not self._rows:
            return
        values = self._buffer[: len(self._rows)].detach().to("cpu", copy=True).numpy().astype(np.float64)
        steps = np.asarray(self._rows, dtype=np.int64)
        self._host_steps.append(steps)
        self._host_values.append(values)
        self._rows = []
        if self._tb is not None:
            self._tb.log_grad_norms(self.layers, steps, values)

    def flush(self) -> None:
        """Move buffered step rows to the host and take a due snapshot (both happen by themselves too)."""
        self._flush_steps()
        if self._pending and not self._busy:
            self._snapshot()
        if self._tb is not None:
            self._tb.flush()

    def snapshot(self) -> None:
        """Take a probe-batch snapshot now (at the current step), unless one exists for this step."""
        if not self.snapshot_steps or self.snapshot_steps[-1] != self.steps:
            self._snapshot()

    def _snapshot(self) -> None:
        self._busy = True
        start = time.perf_counter()
        try:
            self._flush_steps()
            view = self._capture()
            if view.layers:  # no hidden weight layer: nothing for the snapshot probes (diagnose says so)
                self.recorder.record_snapshot(self.steps, view, self._probes)
            self.snapshot_steps.append(self.steps)
            if self._tb is not None:
                latest = {name: parts[-1] for name, parts in self.recorder.snapshots.items()}
                self._tb.log_snapshot(self.steps, latest, view)
        finally:
            self._busy = False
            self._pending = False
            seconds = time.perf_counter() - start
            self.snapshot_seconds.append(seconds)
            self._pace.snapped(self.steps, seconds)

    def _capture(self) -> ProbeSetView:
        """Per-example δ, pre-activations and activation outputs of the hidden layers on the probe batch (eval mode)."""
        with torch.inference_mode(False), torch.enable_grad(), eval_mode(self.model), Capture(self.layout) as cap:
            if self.device.type in ("cpu", "cuda"):
                with torch.autocast(self.device.type, enabled=False):
                    output = _call(self.model, self.x)
            else:
                output = _call(self.model, self.x)
            pairs = self._applications(cap.events)
            layers = [n for n in self.hidden if n in pairs]
            total = self._total(output, self.y, self.n)
            targets = [pairs[n][0].output for n in layers]
            recurrent = self._recurrent_events(cap.events)
            steps = [s for e in recurrent for s in e.track.hs + (e.track.cs or [])]
            cells = self._cell_states(cap.events)
            states = [c for cs in cells.values() for c in cs]
            wrt = targets + steps + states
            grads = list(torch.autograd.grad(total, wrt, allow_unused=True)) if wrt else []
            self._record_through_time(recurrent, grads[len(targets): len(targets) + len(steps)])
            self._record_cell_states(cells, grads[len(targets) + len(steps):])
            self._record_gates(cap.events, recurrent)
            grads = grads[: len(targets)]
        pre, out, deltas, acts = [], [], [], []
        for n, g in zip(layers, grads):
            w_event, a_event = pairs[n]
            dim = self.layout.node_dim[self.app_module[n]]
            a = w_event.output.detach()
            deltas.append(nodes_first(g.detach() if g is not None else torch.zeros_like(a), dim))
            act = self._activation[n]
            if a_event is not None:
                p, o = a_event.pre, a_event.out
            elif self.app_module[n] in self._overrides:
                p, o = a, act.f(a)
            else:
                p, o = a, a
            pre.append(nodes_first(p, dim))
            out.append(nodes_first(o, dim))
            acts.append(act)
        return ProbeSetView(
            epoch=self.steps, layers=layers, activations=acts, pre=pre, out=out,
            labels=self.labels, n_classes=self.n_classes, deltas=deltas,
        )

    @staticmethod
    def _recurrent_events(events) -> list[Any]:
        """Stepped fused recurrent layers of one forward pass, in call order.

        A module called k > 1 times per forward pass (a shared encoder applied to two sequences) is k layers,
        ``name@1`` … ``name@k`` (the convention of repeated weight layers), each read through time on its own.
        """
        stepped = [e for e in events if e.kind == "recurrent" and e.steps and all(h.requires_grad for h in e.steps)]
        calls = Counter(e.name for e in stepped)
        seen: Counter = Counter()
        out = []
        for e in stepped:
            seen[e.name] += 1
            out.append(e if calls[e.name] == 1 else replace(e, name=f"{e.name}@{seen[e.name]}"))
        return out

    def _record_through_time(self, recurrent, grads) -> None:
        """Per stepped (layer, direction) and lag k: RMS over probe examples of the total ‖∂(Σ_n E_n)/∂h‖ (and ∂c).

        See :func:`.recurrent.lag_rows`; ``grads`` are those of every track's h_t, then its c_t, track by track.
        """
        i = 0
        for e in recurrent:
            tr = e.track
            gh = grads[i: i + tr.steps]
            i += tr.steps
            gc = None
            if tr.cs is not None:
                gc = grads[i: i + tr.steps]
                i += tr.steps
            for lag, t, n, rms, rms_c in lag_rows(tr, gh, gc):
                self._tt_rows.append((self.steps, e.name, t, rms, lag, n, rms_c))

    @staticmethod
    def _cell_states(events) -> dict[str, list[torch.Tensor]]:
        """``nn.LSTMCell`` modules called at least TIME_STEPS times in one forward pass: name → c_1 … c_T (in order).

        Only batched calls with one batch size throughout (the c_t rows are the probe examples)."""
        cells: dict[str, list[torch.Tensor]] = {}
        for e in events:
            if e.kind == "weight" and e.cell is not None:
                cells.setdefault(e.name, []).append(e.cell)
        return {name: cs for name, cs in cells.items()
                if len(cs) >= TIME_STEPS and len({tuple(c.shape) for c in cs}) == 1 and cs[0].requires_grad}

    def _record_cell_states(self, cells: Mapping[str, list[torch.Tensor]], grads) -> None:
        """Per LSTMCell loop and application t: RMS over the probe examples of the total ‖∂(Σ_n E_n)/∂c_t‖.

        rms_cell(t) = sqrt(mean_n ‖∂(Σ_m E_m)/∂c_{t,n}‖²), the same statistic as ``rms`` of the h path; lag = T − t.
        c_T reaches the loss through h_T = o_T ⊙ tanh(c_T) whenever h_T is read out; a c_t nothing later uses (the
        model reads an earlier h, or drops the state) has gradient 0 there, not NaN.
        """
        i = 0
        for name, cs in cells.items():
            T = len(cs)
            for t, (c, g) in enumerate(zip(cs, grads[i: i + T]), start=1):
                g = torch.zeros_like(c) if g is None else g.detach()
                rms = float(g.double().flatten(1).norm(dim=1).square().mean().sqrt())
                self._cs_rows.append((self.steps, name, t, T - t, int(c.shape[0]), rms))
            i += T

    def _record_gates(self, events, recurrent) -> None:
        """Forget (LSTM) / update (GRU) gate saturation per recurrent layer: fused tracks and LSTMCell/GRUCell modules."""
        counts: dict[str, tuple[str, torch.Tensor]] = {}
        for e in recurrent:
            if e.track.gates is not None:
                counts[e.name] = (e.track.gate, e.track.gates)
        for e in events:
            if e.kind == "weight" and e.gates is not None:
                gate = "forget" if isinstance(self.layout.weight[e.name], nn.LSTMCell) else "update"
                old = counts.get(e.name)
                counts[e.name] = (gate, e.gates if old is None else old[1] + e.gates)
        for layer, (gate, c) in counts.items():
            self._gate_rows.append((self.steps, layer, gate, *gate_summary(c)))

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Remove the hooks, take a final snapshot of the trained network, move everything to the host."""
        if self._closed:
            return
        self._detach()
        self._flush_steps()
        if not self.snapshot_steps or self.snapshot_steps[-1] != self.steps:
            self._snapshot()
        self._closed = True
        if self._tb is not None:
            self._tb.close()

    def _detach(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:  # leave the model clean; no snapshot of a loop that failed
            self._detach()
            self._flush_steps()
            self._closed = True
            if self._tb is not None:
                self._tb.close()

    # ------------------------------------------------------------------ results

    def columns(self) -> dict[str, dict[str, np.ndarray]]:
        """Every table as numpy columns, in the store's long format (``epoch`` columns hold the step)."""
        self._flush_steps()
        if self._pending and not self._busy and not self._closed:
            self._snapshot()
        steps = np.concatenate(self._host_steps) if self._host_steps else np.zeros(0, dtype=np.int64)
        values = np.concatenate(self._host_values) if self._host_values else np.zeros((0, len(self.layers), len(GRAD_COLUMNS)))
        n_layers = len(self.layers)
        grad = {
            "step": np.repeat(steps, n_layers),
            "epoch": np.repeat(steps, n_layers),
            "layer": np.tile(np.asarray(self.layers, dtype=str), len(steps)),
        }
        for q, col in enumerate(GRAD_COLUMNS):
            grad[col] = values[:, :, q].reshape(-1)
        tables = {"grad_norms": grad}
        tables.update(self.recorder.tables())
        if self._tt_rows:
            st, layer, t, rms, lag, n, rms_c = zip(*self._tt_rows)
            tables["through_time"] = {"epoch": np.asarray(st, dtype=np.int64), "layer": np.asarray(layer, dtype=str),
                                      "t": np.asarray(t, dtype=np.int64), "rms": np.asarray(rms, dtype=np.float64),
                                      "lag": np.asarray(lag, dtype=np.int64), "n": np.asarray(n, dtype=np.int64),
                                      "rms_cell": np.asarray(rms_c, dtype=np.float64)}
        if self._cs_rows:
            st, layer, t, lag, n, rms_c = zip(*self._cs_rows)
            tables["cell_state"] = {"epoch": np.asarray(st, dtype=np.int64), "layer": np.asarray(layer, dtype=str),
                                    "t": np.asarray(t, dtype=np.int64), "lag": np.asarray(lag, dtype=np.int64),
                                    "n": np.asarray(n, dtype=np.int64), "rms_cell": np.asarray(rms_c, dtype=np.float64)}
        if self._gate_rows:
            st, layer, gate, n, low, high, mean = zip(*self._gate_rows)
            tables["gate_saturation"] = {
                "epoch": np.asarray(st, dtype=np.int64), "layer": np.asarray(layer, dtype=str),
                "gate": np.asarray(gate, dtype=str), "n": np.asarray(n, dtype=np.int64),
                "low": np.asarray(low, dtype=np.float64), "high": np.asarray(high, dtype=np.float64),
                "mean": np.asarray(mean, dtype=np.float64)}
        return tables

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table as a DataFrame (the schema of ``vanishing.load(...).probes``, without run_id/seed)."""
        return {name: pd.DataFrame(cols) for name, cols in self.columns().items()}

    def context(self) -> dict[str, Any]:
        """What the diagnosis needs to know about this watch besides the tables."""
        return {
            "clock": "step",
            "source": f"watched {type(self.model).__name__}" + (f" {self.name!r}" if self.name else ""),
            "activations": dict(self.activations),
            "n_samples": self.n,
            "snapshot": self.snapshot_steps[-1] if self.snapshot_steps else 0,
            "unwatched": [f"{n} ({t})" for n, t in self.layout.unknown],
        }

    def diagnose(self, thresholds=None, *, at: int | None = None):
        """Verdicts on the latest snapshot (one is taken now if the net changed since): see :mod:`.diagnose`."""
        from .diagnose import diagnose_tables

        if not self._closed and self.snapshot_steps and self.snapshot_steps[-1] != self.steps and not self._busy:
            self._snapshot()
        return diagnose_tables(self.tables(), thresholds, at=at, context=self.context())

    def save(self, root: str | Path, name: str | None = None) -> Path:
        """Write this watch as a run of the results root ``root`` (see :mod:`.save`); returns the run directory."""
        from .save import save_watch

        return save_watch(self, root, name or self.name)

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"step_on={self.step_on!r}"
        return (
            f"Watch({type(self.model).__name__}, hidden=[{', '.join(self.hidden)}], output={self.output_layer!r}, "
            f"steps={self.steps}, snapshots={len(self.snapshot_steps)}, {state})"
        )


def watch(
    model: nn.Module,
    probe_batch: tuple[Any, Any],
    loss_fn: Callable[..., torch.Tensor],
    **options: Any,
) -> Watch:
    """Attach the probes to ``model`` for the user's own training loop and return the :class:`Watch`.

    ``probe_batch=(x, y)``: a fixed batch (a few hundred examples, class-
    balanced if you can) on which the snapshots look at the network; ``x`` is
    passed as ``model(x)`` (``model(*x)`` for a tuple, ``model(**x)`` for a
    dict). ``loss_fn(model(x), y)``: your loss (see
    :mod:`vanishing.watch.per_example` for how per-example losses are had from
    a mean). Options: ``every`` ("auto" — every 100 steps, spaced further apart
    when a snapshot is slow so that snapshots take at most ``max_overhead``
    (0.05) of the training time, see :class:`SnapshotPace` — or a fixed number
    of steps between snapshots, or a schedule),
    ``step_on`` ("backward" — every backward pass is a step, no call needed —
    or "call" — call ``w.step()`` once per step), ``unknown`` (policy for
    modules with parameters of an unknown type: "warn", "error", "skip"),
    ``activations`` ({layer: "relu"} for functional activations the hooks
    cannot see), ``loss_reduction`` ("auto", "mean", "sum", "none"),
    ``saturation_threshold`` (0.05), ``bins`` (50), ``tensorboard`` (a log
    folder or a SummaryWriter), ``chunk`` (step rows per host transfer, 1024),
    ``name``. Use it as a context manager (``with watch(...) as w:``) or call
    ``w.close()`` when done. The first snapshot (step 0) is taken at once.
    """
    return Watch(model, probe_batch, loss_fn, **options)
