"""What the Lightning and Hugging Face callbacks share: one :class:`~vanishing.watch.Watch` per training run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np


class WatchSession:
    """Start a watch on a model (``step_on="call"``), step it, close it and keep the diagnosis."""

    def __init__(self, probe_batch: tuple[Any, Any], loss_fn: Callable, *, save_to: str | Path | None = None,
                 **options: Any) -> None:
        if options.get("step_on", "call") != "call":
            raise ValueError("the vanishing callbacks step the watch once per optimizer step: step_on must be 'call'")
        options["step_on"] = "call"
        self.probe_batch = probe_batch
        self.loss_fn = loss_fn
        self.options = options
        self.save_to = save_to
        self.watch = None
        self.diagnosis = None
        self.run_dir: Path | None = None

    def start(self, model) -> None:
        from .watcher import watch

        if self.watch is not None and not self.watch._closed:
            self.watch.close()
        self.diagnosis = None
        self.watch = watch(model, self.probe_batch, self.loss_fn, **self.options)

    def step(self) -> dict[str, float]:
        """Record this optimizer step; the latest scalars when a snapshot was just taken, else {}."""
        w = self.watch
        if w is None or w._closed:
            return {}
        before = len(w.snapshot_steps)
        w.step()
        return self.scalars() if len(w.snapshot_steps) > before else {}

    def scalars(self) -> dict[str, float]:
        """Latest per-layer ‖∇W‖ (host rows only: no device sync) and RMS δ of the latest snapshot."""
        w = self.watch
        out: dict[str, float] = {}
        if w._host_values:
            last = w._host_values[-1][-1]  # (layers, columns); column 0 is ‖∇W‖₂
            for name, v in zip(w.layers, last[:, 0]):
                if np.isfinite(v):
                    out[f"vanishing/grad_norm/{name}"] = float(v)
        parts = w.recorder.snapshots.get("backprop_signal") if hasattr(w.recorder, "snapshots") else None
        if parts:
            latest = parts[-1]
            try:
                layers, rms = latest["layer"], latest["rms"]
                for name, v in zip(layers, rms):
                    if math.isfinite(float(v)):
                        out[f"vanishing/rms_delta/{name}"] = float(v)
            except (KeyError, TypeError, IndexError):
                pass
        return out

    def finish(self) -> None:
        if self.watch is None or self.watch._closed:
            return
        self.watch.close()
        self.diagnosis = self.watch.diagnose()
        if self.save_to is not None:
            self.run_dir = self.watch.save(self.save_to)

    def abort(self) -> None:
        if self.watch is not None and not self.watch._closed:
            self.watch.__exit__(RuntimeError, None, None)
