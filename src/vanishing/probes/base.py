"""The probe base classes, the views they read, and the registry.

A probe is split in two (see ``docs/probes.md``):

* the **quantity** — a pure function of tensors in the probe's own file
  (``grad_norm_stats(weight_grads, bias_grads)``, ``layer_sparsity(outputs)``,
  ``node_stats(values, labels, n_classes)`` …), usable on any network, on one
  seed's slice of a stacked computation, or on hooked activations of an
  arbitrary module;
* the **recording** — a :class:`Probe` subclass that says *when* (a
  :mod:`schedule <vanishing.probes.schedules>`) and turns the quantity into
  rows of a table. The :class:`~vanishing.probes.recorder.ProbeRecorder` owns
  buffers and state; :class:`~vanishing.probes.recorder.ProbeCallback` wires it
  into the training engine.

Two kinds of probe:

``StepProbe``
    runs inside a training step on a :class:`StepView` (weights, their
    gradients, optionally δ of the mini-batch) and returns a device tensor of
    shape (layers, columns) that the recorder writes into a preallocated row
    — no host synchronisation.
``SnapshotProbe``
    runs on a :class:`ProbeSetView` — the pre-activations a, the activation
    outputs f(a) and optionally the per-example δ of every hidden layer on
    the fixed probe set, taken in eval mode — at scheduled epochs (0 = at
    initialisation) and returns host-side table columns.

"Node" means a unit of a fully connected layer (dim 1 of an (N, width)
tensor) or a channel of a convolution (dim 1 of (N, C, H, W); every spatial
position of an example counts as one more sample of that channel):
:func:`samples_by_node` makes both (N·S, C).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping

import numpy as np
import torch

from ..errors import ConfigError
from .schedules import Schedule, epoch_schedule, step_schedule

Columns = dict[str, np.ndarray]  # one long-format table: equal-length 1-d columns


# --------------------------------------------------------------------------- views


@dataclass
class StepView:
    """The tensors of one training step, as step probes read them.

    ``weights[i]``/``weight_grads[i]``/``biases[i]``/``bias_grads[i]`` belong
    to ``weight_layers[i]`` (``hidden1`` … ``hiddenL``, ``output`` for the
    MLP); ``deltas[i]`` = ∂E/∂a of hidden layer ``hidden_layers[i]`` for the
    mini-batch loss E = (1/B) Σ_n E_n (shape (B, width)), or None when no
    probe asked for it this step. A missing bias or gradient is None.
    """

    step: int
    weight_layers: list[str]
    weights: list[torch.Tensor]
    weight_grads: list[torch.Tensor | None]
    biases: list[torch.Tensor | None]
    bias_grads: list[torch.Tensor | None]
    hidden_layers: list[str]
    deltas: list[torch.Tensor] | None = None
    batch_size: int = 0


@dataclass
class ProbeSetView:
    """The probe set seen by one network at one epoch, in eval mode.

    Per hidden layer ``layers[i]``: ``pre[i]`` = a (the input of the
    activation function), ``out[i]`` = f(a) (its output, before any batch
    norm placed after it or a residual addition), ``deltas[i]`` = ∂E_n/∂a_n
    of each example's own loss (row n; None unless a probe needs it), and
    ``activations[i]`` = the :class:`~vanishing.activations.Activation` (None
    when unknown, e.g. an arbitrary module under ``watch``). ``hidden_fn``
    maps inputs to the last hidden layer's output (for the Jacobian).
    """

    epoch: int
    layers: list[str]
    activations: list[Any]
    pre: list[torch.Tensor]
    out: list[torch.Tensor]
    labels: torch.Tensor
    n_classes: int
    deltas: list[torch.Tensor] | None = None
    x: torch.Tensor | None = None
    hidden_fn: Callable[[torch.Tensor], torch.Tensor] | None = None


def samples_by_node(values: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Reshape (N, C) or (N, C, *spatial) to (N·S, C) with S spatial positions per example.

    Labels (N,) are repeated S times to match. A 1-d tensor is one node.
    """
    if values.dim() == 1:
        return values[:, None], labels
    if values.dim() == 2:
        return values, labels
    n, c = values.shape[:2]
    s = values[0, 0].numel()
    flat = values.reshape(n, c, s).transpose(1, 2).reshape(n * s, c)
    return flat, (labels.repeat_interleave(s) if labels is not None else None)


# --------------------------------------------------------------------------- probes


class Probe:
    """Base class: a named quantity with a schedule. Subclasses set ``name``, ``defaults`` and ``tables``."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = ""  # "step" | "snapshot"
    defaults: ClassVar[dict[str, Any]] = {}
    tables: ClassVar[tuple[str, ...]] = ()  # names of the tables this probe writes
    needs_deltas: ClassVar[bool] = False

    def __init__(self, schedule: Schedule, **options: Any) -> None:
        self.schedule = schedule
        self.options = {**self.defaults, **options}

    @classmethod
    def check_options(cls, options: Mapping[str, Any], field_name: str) -> None:
        """Validate the filled options (ConfigError naming ``field_name``)."""

    @classmethod
    def from_options(cls, options: Mapping[str, Any], epochs: int, steps_per_epoch: int) -> Probe:
        raise NotImplementedError

    def __repr__(self) -> str:
        schedule_keys = ("every", "log", "epochs", "k")
        extra = "".join(f", {k}={v!r}" for k, v in self.options.items() if k not in schedule_keys)
        return f"{type(self).__name__}({self.schedule!r}{extra})"


class StepProbe(Probe):
    """A per-step probe: one row of shape (len(layers), len(columns)) per scheduled step.

    ``layer_kind`` says which layers the rows are for: ``"weight"`` (every
    layer with weights, ``output`` included) or ``"hidden"`` (hidden layers).
    The default protocol computes everything in :meth:`before_update` (after
    the backward pass, before clipping and the optimizer step);
    :class:`~vanishing.probes.update_ratio.UpdateRatio` overrides both halves.
    """

    kind = "step"
    columns: ClassVar[tuple[str, ...]] = ()
    layer_kind: ClassVar[str] = "weight"
    defaults = {"every": 1, "log": 0}

    @classmethod
    def check_options(cls, options, field_name):
        if not isinstance(options["every"], int) or options["every"] < 1:
            raise ConfigError(f"{field_name}: {cls.name}(every=...) must be an integer >= 1, got {options['every']!r}")
        if not isinstance(options["log"], int) or options["log"] < 0:
            raise ConfigError(f"{field_name}: {cls.name}(log=...) must be an integer >= 0 (0 = use every), got {options['log']!r}")

    @classmethod
    def from_options(cls, options, epochs, steps_per_epoch):
        schedule = step_schedule(options["every"], options["log"], epochs * steps_per_epoch)
        return cls(schedule, **options)

    def before_update(self, view: StepView) -> Any:
        """Called after backward; returns the row (or what :meth:`after_update` needs)."""
        return self._compute(view)

    def after_update(self, view: StepView, stash: Any) -> torch.Tensor:
        """Called after the optimizer step with what :meth:`before_update` returned; returns the row."""
        return stash

    def _compute(self, view: StepView) -> torch.Tensor:
        raise NotImplementedError


class SnapshotProbe(Probe):
    """A probe-set probe, run at scheduled epochs (0 = the untrained network)."""

    kind = "snapshot"
    defaults = {"epochs": "log", "k": 5}
    needs_hidden_fn: ClassVar[bool] = False

    @classmethod
    def check_options(cls, options, field_name):
        from .schedules import check_epoch_text

        check_epoch_text(options["epochs"], f"{field_name}: {cls.name}(epochs=...)")
        if not isinstance(options["k"], int) or options["k"] < 1:
            raise ConfigError(f"{field_name}: {cls.name}(k=...) must be an integer >= 1, got {options['k']!r}")

    @classmethod
    def from_options(cls, options, epochs, steps_per_epoch):
        return cls(epoch_schedule(options["epochs"], epochs, options["k"]), **options)

    def compute(self, view: ProbeSetView) -> dict[str, Columns]:
        """Table name → long-format columns for this snapshot (the recorder adds ``epoch``)."""
        raise NotImplementedError


REGISTRY: dict[str, type[Probe]] = {}


def register(cls: type[Probe]) -> type[Probe]:
    """Class decorator: add a probe to the registry under ``cls.name`` (twice is an error)."""
    if not cls.name:
        raise RuntimeError(f"{cls.__name__} has no name")
    if cls.name in REGISTRY:
        raise RuntimeError(f"probe {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls
    return cls


# --------------------------------------------------------------------------- small helpers


def layer_column(names: list[str], repeat: int) -> np.ndarray:
    """Layer names repeated ``repeat`` times each, as a numpy unicode column."""
    return np.repeat(np.asarray(names, dtype=str), repeat)


def to_numpy(t: torch.Tensor, dtype=np.float64) -> np.ndarray:
    return t.detach().to("cpu").numpy().astype(dtype, copy=False)
