"""Probe specs in config text, presets, and building probes from them.

``probes.enabled`` is a list of preset names and probe specs in the call
syntax of :mod:`vanishing.callspec` (literals only, nothing evaluated)::

    enabled = ["default"]                                   # the preset
    enabled = ["default", "jacobian_spectrum"]              # preset + one more probe
    enabled = ["grad_norms(every=10)", "sparsity(epochs='init,last')"]

Presets, ordered by cost (each contains the one before):

========  ==================================================================
none      nothing
minimal   grad_norms every step
default   minimal + activation_stats, sparsity, dead_units, saturation and
          per-example backprop_signal on the probe set at init and at
          log-spaced epochs (SPEC §6 "modest")
full      default + backprop_signal_batch and update_ratio every 10 steps +
          jacobian_spectrum at init
========  ==================================================================

An explicit spec replaces the same probe of a preset (``default,
activation_stats(epochs='all')``); naming a probe twice explicitly is an
error. :func:`canonical_probes` returns the resolved list — every probe with
all its options filled, in registry order — which is what the run's identity
(config hash) sees, so ``["default"]`` and its expansion are the same run.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from ..callspec import check_kwargs, format_call, parse_call
from ..errors import ConfigError

PRESETS: dict[str, tuple[str, ...]] = {
    "none": (),
    "minimal": ("grad_norms(every=1)",),
}
PRESETS["default"] = (
    *PRESETS["minimal"],
    "activation_stats(epochs='log')",
    "sparsity(epochs='log')",
    "dead_units(epochs='log')",
    "saturation(epochs='log')",
    "backprop_signal(epochs='log')",
)
PRESETS["full"] = (
    *PRESETS["default"],
    "backprop_signal_batch(every=10)",
    "update_ratio(every=10)",
    "jacobian_spectrum(epochs='init')",
)


def _registry():
    from .catalog import REGISTRY  # importing the catalogue registers every probe

    return REGISTRY


def parse_probe(text: str, field_name: str = "probes.enabled") -> tuple[str, dict]:
    """(name, options with defaults filled) of one probe spec; ConfigError naming the field otherwise."""
    registry = _registry()
    call = parse_call(text, field_name)
    cls = registry.get(call.name)
    if cls is None:
        raise ConfigError(
            f"{field_name}: unknown probe or preset {call.name!r} (probes: {', '.join(registry)}; presets: {', '.join(PRESETS)})"
        )
    options = check_kwargs(call, cls.defaults, field_name)
    cls.check_options(options, field_name)
    return call.name, options


def canonical_probes(enabled: Iterable[str], field_name: str = "probes.enabled") -> tuple[str, ...]:
    """Expand presets, validate, fill defaults; return canonical specs in registry order."""
    if isinstance(enabled, str):
        raise ConfigError(f"{field_name}: expected a list of probe names or presets, got the text {enabled!r}")
    registry = _registry()
    from_presets: dict[str, dict] = {}
    explicit: dict[str, dict] = {}
    for item in enabled:
        if not isinstance(item, str):
            raise ConfigError(f"{field_name}: expected probe names or presets as text, got {item!r}")
        key = item.strip().lower()
        if key in PRESETS:
            for spec in PRESETS[key]:
                name, options = parse_probe(spec, field_name)
                from_presets[name] = options
            continue
        name, options = parse_probe(item, field_name)
        if name in explicit:
            raise ConfigError(f"{field_name}: probe {name!r} is given twice")
        explicit[name] = options
    chosen = {**from_presets, **explicit}
    return tuple(format_call(name, chosen[name]) for name in registry if name in chosen)


def build_probes(specs: Sequence[str], epochs: int, steps_per_epoch: int) -> list:
    """Probe instances for canonical (or any valid) specs, with schedules for this run's length."""
    registry = _registry()
    probes = []
    for spec in canonical_probes(specs):
        name, options = parse_probe(spec)
        probes.append(registry[name].from_options(options, epochs, steps_per_epoch))
    return probes
