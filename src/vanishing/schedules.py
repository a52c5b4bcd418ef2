"""Learning-rate schedules, applied once per epoch.

``lr(epoch) = lr₀ · factor(epoch)`` with epoch counted from 0:

* ``constant``                        factor = 1
* ``exponential(gamma=0.99)``         factor = γ^epoch (Pretorius et al. decay 0.99 per epoch)
* ``step(step_size=10, gamma=0.1)``   factor = γ^⌊epoch / step_size⌋

The factor is a pure function of the epoch, so a resumed run needs no
scheduler state.
"""

from __future__ import annotations

from .callspec import Spec, as_call, check_kwargs, spec_of
from .errors import ConfigError

SCHEDULES = {
    "constant": {},
    "exponential": {"gamma": 0.99},
    "step": {"step_size": 10, "gamma": 0.1},
}


def _parse(text: str, field_name: str) -> tuple[str, dict]:
    done = spec_of(text, "schedule")
    if done is not None:  # resolved by config.resolve: no parsing
        return done.name, dict(done.kwargs)
    spec = as_call(text, field_name)
    if spec.name not in SCHEDULES:
        raise ConfigError(f"{field_name}: unknown schedule {spec.name!r} (valid: {', '.join(SCHEDULES)})")
    options = check_kwargs(spec, SCHEDULES[spec.name], field_name)
    if "gamma" in options and not 0.0 < options["gamma"] <= 1.0:
        raise ConfigError(f"{field_name}: gamma must lie in (0, 1], got {options['gamma']}")
    if "step_size" in options and options["step_size"] <= 0:
        raise ConfigError(f"{field_name}: step_size must be a positive integer, got {options['step_size']}")
    return spec.name, options


def canonical_schedule(text: str, field_name: str = "optim.schedule") -> str:
    """Validate a schedule spec and return it with all options filled."""
    if spec_of(text, "schedule") is not None:
        return text
    name, options = _parse(text, field_name)
    return Spec(name, options, "schedule")


def lr_factor(text: str, epoch: int) -> float:
    """Multiplier of the base learning rate during ``epoch`` (0-based)."""
    name, options = _parse(text, "optim.schedule")
    if name == "exponential":
        return options["gamma"] ** epoch
    if name == "step":
        return options["gamma"] ** (epoch // options["step_size"])
    return 1.0
