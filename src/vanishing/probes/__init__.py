"""The probes — instruments that watch each layer while the network learns (SPEC §6).

One quantity per file; each file holds the pure function(s) of tensors and
the :class:`Probe` subclass that schedules and records them:

=====================  ==================================  ======================================
probe                  pure function(s)                    table(s)
=====================  ==================================  ======================================
grad_norms             grad_norm_stats                     grad_norms (per step)
backprop_signal        per_example_delta_stats             backprop_signal (probe set)
backprop_signal_batch  batch_delta_stats                   backprop_signal_batch (per step)
update_ratio           update_ratio_stats                  update_ratio (per step)
activation_stats       node_stats, layer_histogram         activation_stats, activation_hist
sparsity               inactive_fraction, layer_sparsity   sparsity
dead_units             dead_mask                           dead_units
saturation             saturation_fraction                 saturation
jacobian_spectrum      input_jacobian,                     jacobian_spectrum
                       jacobian_singular_values
=====================  ==================================  ======================================

Python use::

    from vanishing.probes import ProbeCallback, GradNorms, Sparsity, every, at
    cb = ProbeCallback([GradNorms(every(1)), Sparsity(at(0, 10))])   # or ["default"]
    fit(config, data, callbacks=[cb]);  cb.results["sparsity"]       # dict of numpy columns

``vanishing.run`` builds the callback from ``config.probes`` and the tables
land in the run directory; ``vanishing.load(root).probes[name]`` returns them
as DataFrames. See ``docs/probes.md``.
"""

from __future__ import annotations

from .base import REGISTRY, Probe, ProbeSetView, SnapshotProbe, StepProbe, StepView, register, samples_by_node
from .schedules import Schedule, at, at_init, epoch_schedule, every, log_spaced, never

# one file per quantity; importing registers them in this (the canonical) order
# (.catalog holds that order; a new probe needs only its line there)
from . import catalog  # noqa: E402, F401  isort: skip
from .grad_norms import GradNorms, grad_norm_stats  # noqa: E402  isort: skip
from .backprop_signal import BackpropSignal, BatchBackpropSignal, batch_delta_stats, per_example_delta_stats  # noqa: E402  isort: skip
from .update_ratio import UpdateRatio, update_ratio_stats  # noqa: E402  isort: skip
from .activation_stats import ActivationStats, layer_histogram, node_stats  # noqa: E402  isort: skip
from .sparsity import Sparsity, inactive_fraction, layer_sparsity  # noqa: E402  isort: skip
from .dead_units import DeadUnits, dead_mask  # noqa: E402  isort: skip
from .saturation import Saturation, saturation_fraction  # noqa: E402  isort: skip
from .jacobian_spectrum import JacobianSpectrum, input_jacobian, jacobian_singular_values  # noqa: E402  isort: skip

from .capture import MLPLayers, capture_probe_set, eval_mode  # noqa: E402
from .probe_set import ProbeSet, make_probe_set, stratified_indices  # noqa: E402
from .recorder import ProbeCallback, ProbeRecorder  # noqa: E402
from .spec import PRESETS, build_probes, canonical_probes  # noqa: E402

PROBE_NAMES: tuple[str, ...] = tuple(REGISTRY)


def probe_callback(config, sink=None) -> ProbeCallback | None:
    """The :class:`ProbeCallback` for a resolved RunConfig's ``probes`` section, or None when it enables none."""
    p = config.probes
    if not p.enabled:
        return None
    return ProbeCallback(list(p.enabled), sink, per_class=p.probe_per_class, split=p.probe_split, seed=p.probe_seed)


__all__ = [
    "PRESETS", "PROBE_NAMES", "REGISTRY",
    "Probe", "StepProbe", "SnapshotProbe", "StepView", "ProbeSetView", "register", "samples_by_node",
    "Schedule", "every", "at", "at_init", "never", "log_spaced", "epoch_schedule",
    "GradNorms", "BackpropSignal", "BatchBackpropSignal", "UpdateRatio", "ActivationStats",
    "Sparsity", "DeadUnits", "Saturation", "JacobianSpectrum",
    "grad_norm_stats", "batch_delta_stats", "per_example_delta_stats", "update_ratio_stats", "node_stats",
    "layer_histogram", "inactive_fraction", "layer_sparsity", "dead_mask", "saturation_fraction", "input_jacobian",
    "jacobian_singular_values",
    "MLPLayers", "capture_probe_set", "eval_mode", "ProbeSet", "make_probe_set", "stratified_indices",
    "ProbeCallback", "ProbeRecorder", "build_probes", "canonical_probes", "probe_callback",
]
