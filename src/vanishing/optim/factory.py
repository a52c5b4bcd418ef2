"""Optimizer registry: name → defaults, default learning rate and builder.

Optimizers are named in call syntax, e.g. ``"sgd(momentum=0.9, nesterov=True)"``
or ``"adam(beta2=0.98)"``; every option not given takes the default listed in
:data:`REGISTRY`. Default learning rates follow SPEC §4: 0.01 for sgd and
adagrad, 1e-3 for adam/adamw/rmsprop, 1.0 for adadelta and sdagd (ours, see
:mod:`vanishing.optim.sdagd`).

The torch optimizers are built with ``fused=True`` where the installed torch
supports it for the parameters' device (one kernel for all parameters — the
fastest path on CPU and GPU), else ``foreach=True``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import torch

from ..callspec import Spec, as_call, check_kwargs, spec_of
from ..errors import ConfigError


@dataclass(frozen=True)
class OptimizerEntry:
    """One optimizer: its options with defaults, default lr and a builder."""

    name: str
    defaults: Mapping[str, Any]
    default_lr: float
    build: Callable[[list, float, dict], torch.optim.Optimizer]
    check: Callable[[dict], None] | None = None
    doc: str = ""


REGISTRY: dict[str, OptimizerEntry] = {}


def register(entry: OptimizerEntry) -> None:
    """Add an optimizer to the registry; a second entry with the same name is an error."""
    if entry.name in REGISTRY:
        raise ValueError(f"optimizer {entry.name!r} is already registered")
    REGISTRY[entry.name] = entry


def names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def _fast_path(cls: type, params: list) -> dict[str, bool]:
    """``fused=True`` when the class accepts it (torch ≥ 2.4 on CPU/CUDA), else ``foreach=True``."""
    accepted = inspect.signature(cls.__init__).parameters
    if "fused" in accepted:
        try:
            probe = [torch.nn.Parameter(torch.zeros(1, device=params[0].device))]
            cls(probe, lr=0.1, fused=True)
            return {"fused": True}
        except (RuntimeError, TypeError, ValueError):
            pass
    return {"foreach": True} if "foreach" in accepted else {}


def _torch_builder(cls: type, rename: Mapping[str, str] | None = None, betas: bool = False):
    def build(params: list, lr: float, options: dict) -> torch.optim.Optimizer:
        kwargs = dict(options)
        if betas:
            kwargs["betas"] = (kwargs.pop("beta1"), kwargs.pop("beta2"))
        for ours, theirs in (rename or {}).items():
            kwargs[theirs] = kwargs.pop(ours)
        return cls(params, lr=lr, **kwargs, **_fast_path(cls, params))

    return build


def _check_sgd(options: dict) -> None:
    if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
        raise ConfigError("optim.optimizer: sgd(nesterov=True) needs momentum > 0 and dampening = 0")


def _check_ranges(options: dict) -> None:
    for key in ("momentum", "beta1", "beta2", "rho", "alpha"):
        if key in options and not 0.0 <= options[key] < 1.0:
            raise ConfigError(f"optim.optimizer: {key} must lie in [0, 1), got {options[key]}")
    if "dampening" in options and not 0.0 <= options["dampening"] <= 1.0:
        raise ConfigError(f"optim.optimizer: dampening must lie in [0, 1], got {options['dampening']}")
    for key in ("eps", "weight_decay", "lr_decay", "initial_accumulator_value"):
        if key in options and options[key] < 0:
            raise ConfigError(f"optim.optimizer: {key} must be non-negative, got {options[key]}")


def _both(*checks):
    def check(options: dict) -> None:
        for c in checks:
            c(options)

    return check


_ADAM = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "amsgrad": False}
register(OptimizerEntry(
    "sgd", {"momentum": 0.0, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0}, 0.01,
    _torch_builder(torch.optim.SGD), _both(_check_ranges, _check_sgd), "stochastic gradient descent (torch.optim.SGD)"))
register(OptimizerEntry(
    "adagrad", {"lr_decay": 0.0, "initial_accumulator_value": 0.0, "eps": 1e-10, "weight_decay": 0.0}, 0.01,
    _torch_builder(torch.optim.Adagrad), _check_ranges, "Duchi et al. 2011 (torch.optim.Adagrad)"))
register(OptimizerEntry(
    "adadelta", {"rho": 0.9, "eps": 1e-6, "weight_decay": 0.0}, 1.0,
    _torch_builder(torch.optim.Adadelta), _check_ranges, "Zeiler 2012 (torch.optim.Adadelta)"))
register(OptimizerEntry(
    "rmsprop", {"alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "centered": False, "weight_decay": 0.0}, 1e-3,
    _torch_builder(torch.optim.RMSprop), _check_ranges, "Tieleman & Hinton 2012 (torch.optim.RMSprop)"))
register(OptimizerEntry(
    "adam", {**_ADAM, "weight_decay": 0.0}, 1e-3,
    _torch_builder(torch.optim.Adam, betas=True), _check_ranges, "Kingma & Ba 2015 (torch.optim.Adam)"))
register(OptimizerEntry(
    "adamw", {**_ADAM, "weight_decay": 0.01}, 1e-3,
    _torch_builder(torch.optim.AdamW, betas=True), _check_ranges, "Loshchilov & Hutter 2019 (torch.optim.AdamW)"))

from . import sdagd as _sdagd  # ours (vanishing.optim.sdagd), registered after the torch ones

register(OptimizerEntry(
    "sdagd", dict(_sdagd.DEFAULTS), _sdagd.DEFAULT_LR, _sdagd.build, _sdagd.check_options,
    "stochastic diagonal approximate greatest descent, Tan & Lim 2019 (vanishing.optim.SDAGD)"))


def canonical(text: str, field_name: str = "optim.optimizer") -> tuple[str, dict[str, Any]]:
    """Parse and validate an optimizer spec; return its name and full options.

    A resolved :class:`~vanishing.callspec.Spec` is taken as is (no parsing).
    """
    done = spec_of(text, "optimizer")
    if done is not None:
        return done.name, dict(done.kwargs)
    spec = as_call(text, field_name)
    if spec.name not in REGISTRY:
        raise ConfigError(f"{field_name}: unknown optimizer {spec.name!r} (valid: {', '.join(REGISTRY)})")
    entry = REGISTRY[spec.name]
    options = check_kwargs(spec, entry.defaults, field_name)
    if entry.check is not None:
        entry.check(options)
    return spec.name, options


def format_optimizer(name: str, options: Mapping[str, Any]) -> str:
    """Canonical text of an optimizer spec (all options, sorted)."""
    return Spec(name, options, "optimizer")


def default_lr(name: str) -> float:
    return REGISTRY[name].default_lr


def build_optimizer(params: Iterable[torch.nn.Parameter], spec: str, lr: float) -> torch.optim.Optimizer:
    """Build the optimizer named by ``spec`` (call syntax) over ``params``."""
    name, options = canonical(spec)
    return REGISTRY[name].build(list(params), lr, options)
