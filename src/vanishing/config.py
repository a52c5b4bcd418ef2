"""Run configuration: frozen dataclasses, parsing from dicts/TOML, validation.

A :class:`RunConfig` describes everything that affects the numbers a run
produces (data, model, optimisation, training budget, seed). How and where it
executes — device, threads, data directory, results root, progress display —
lives in :class:`ExecConfig` and is deliberately not part of the run's
identity: the same config and seed on one machine or another is the same run
in the store.

``resolve(config)`` validates every field (one :class:`ConfigError` naming
the field and the allowed values) and returns the canonical form: component
strings in canonical call syntax, the learning rate filled from the
optimizer's default. The store keys runs by ``config_hash(resolved)`` + seed.

Typed specs: in a resolved config every component field (``model.activation``
— each entry when per layer —, ``model.init``, ``model.bias_init``,
``optim.optimizer``, ``optim.schedule``) is a :class:`vanishing.callspec.Spec`:
a ``str`` whose value is the canonical call text (so ``to_dict``, json, TOML,
the hash and the run id are exactly those of the text), carrying the parsed,
validated, typed ``.name`` / ``.kwargs`` (read-only) / ``.kind``. The model,
init, activation, optimizer and schedule builders take a Spec as is and parse
only raw strings, so a run's spec strings are parsed once, in ``resolve``.
Specs are frozen and survive pickle/deepcopy; ``resolve`` is idempotent.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

from .errors import ConfigError


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "mnist-sample"  # mnist | mnist-sample | fashion-mnist | cifar10 | npz:PATH
    val_fraction: float = 0.1  # carved from the training set, stratified; 0 → the test set serves as validation
    split_seed: int = 0  # seed of the validation split and of train_subset (same for every run seed)
    pixel_divisor: float = 255.0  # inputs are pixel / pixel_divisor (Robinson's "÷784" reading: 255 * 784)
    standardize: bool = False  # per-feature z-score with training-set statistics, after the division
    train_subset: int | None = None  # keep a stratified subset of this many training examples (quick runs)


@dataclass(frozen=True)
class ModelConfig:
    hidden: tuple[int, ...] = (128, 128)  # widths of the hidden layers
    activation: str | tuple[str, ...] = "relu"  # one activation for all hidden layers, or one per layer
    output: str = "softmax"  # softmax | sigmoid | relu | linear
    batch_norm: str = "off"  # off | before (the activation) | after
    layer_norm: bool = False  # LayerNorm before each hidden activation
    residual: bool = False  # identity skips around equal-width hidden layers
    init: str = "auto"  # weight init scheme (see vanishing.init)
    bias_init: str = "zeros"  # zeros | constant(value=…) | normal(std=…) | torch_default


@dataclass(frozen=True)
class OptimConfig:
    loss: str = "ce"  # ce | mse | bce (valid output layers per loss in vanishing.losses)
    optimizer: str = "adam"  # sgd | adagrad | adadelta | rmsprop | adam | adamw | sdagd; options in call syntax: sgd(momentum=0.9, weight_decay=1e-4)
    lr: float | None = None  # None → the optimizer's default
    schedule: str = "constant"  # constant | exponential(gamma=0.99) | step(step_size=10, gamma=0.1); stepped per epoch
    clip_norm: float | None = None  # clip the global gradient norm to this value


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_size: int = 128
    early_stopping: int | None = None  # patience in epochs on `monitor`; the best weights are restored
    monitor: str = "val_acc"  # val_acc | val_loss: the metric that picks the best epoch


@dataclass(frozen=True)
class ProbesConfig:
    """The instruments (vanishing.probes, docs/probes.md). They never change the training numbers, but
    they decide which tables a run has, so they are part of its identity (resolved: presets expanded)."""

    enabled: tuple[str, ...] = ("default",)  # presets (none | minimal | default | full) and probe specs, e.g. "grad_norms(every=10)"
    probe_per_class: int = 100  # probe-set examples per class (class-stratified, fixed across runs)
    probe_split: str = "train"  # train | val | test: the split the probe set is drawn from
    probe_seed: int = 0  # seed of the probe-set draw (independent of the run seed)


@dataclass(frozen=True)
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    probes: ProbesConfig = field(default_factory=ProbesConfig)  # instruments (vanishing.probes); part of the run identity
    seed: int = 0


@dataclass(frozen=True)
class ExecConfig:
    """Where and how a run executes; never part of the run's identity."""

    device: str = "auto"  # auto (CUDA when present) | cpu | cuda | cuda:N
    threads: int | None = None  # torch intra-op threads; None → torch's default
    data_dir: str | None = None  # folder holding the data set files (overrides $VANISHING_DATA)
    mirror: str | None = None  # download base URL (overrides $VANISHING_MIRROR and the standard mirrors)
    results: str = "vanishing-results"  # results root
    progress: bool | None = None  # progress bar; None → only on an interactive terminal outside CI
    divergence_check_every: int = 50  # steps between host-side checks of the accumulated NaN/inf flag
    engine: str = "auto"  # auto: the fused explicit step where the model allows it (vanishing.fused_step) | autograd


SECTIONS: dict[str, type] = {
    "data": DataConfig, "model": ModelConfig, "optim": OptimConfig, "train": TrainConfig, "probes": ProbesConfig,
}
BATCH_NORM_POSITIONS = ("off", "before", "after")
#: Largest run / probe-set seed: torch generators take at most 2**64 - 1 and an epoch's data order is
#: seeded with seed * 1_000_003 + epoch (vanishing.train.epoch_permutation), so larger seeds would
#: crash training midway instead of failing here.
MAX_SEED = 2**32 - 1
MONITORS = ("val_acc", "val_loss")
ENGINES = ("auto", "autograd")  # see ExecConfig.engine


# --------------------------------------------------------------------------- parsing


def config_from_dict(raw: Mapping[str, Any]) -> RunConfig:
    """Build a RunConfig from nested sections (``{"model": {"hidden": [..]}, "seed": 1}``).

    Unknown sections or fields are rejected with the list of valid ones;
    values are type-checked (see :func:`_coerce`).
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"config: expected a table of sections, got {type(raw).__name__}")
    allowed = sorted([*SECTIONS, "seed"])
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "seed":
            kwargs["seed"] = _coerce("seed", value, int)
        elif key in SECTIONS:
            kwargs[key] = _section_from_dict(key, SECTIONS[key], value)
        else:
            raise ConfigError(f"config: unknown section {key!r} (valid: {', '.join(allowed)})")
    return RunConfig(**kwargs)


def _section_from_dict(name: str, cls: type, raw: Any) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{name}: expected a table of fields, got {raw!r}")
    types = _field_types(cls)
    kwargs = {}
    for key, value in raw.items():
        if key not in types:
            raise ConfigError(f"{name}: unknown field {key!r} (valid: {', '.join(sorted(types))})")
        kwargs[key] = _coerce(f"{name}.{key}", value, types[key])
    return cls(**kwargs)


def exec_from_dict(raw: Mapping[str, Any]) -> ExecConfig:
    """Build an ExecConfig from a flat table (the ``[exec]`` section of a TOML file)."""
    return _section_from_dict("exec", ExecConfig, raw)


def _field_types(cls: type) -> dict[str, Any]:
    import typing

    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def _coerce(name: str, value: Any, tp: Any) -> Any:
    """Check ``value`` against the annotation ``tp`` (a small, strict subset of typing)."""
    import types
    import typing

    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(name, value, arg)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[-1] if len(errors) == 1 else ConfigError(f"{name}: unexpected value {value!r}")
    if origin is tuple:
        if isinstance(value, str) and args and args[0] is int:
            value = _split_ints(name, value)
        elif isinstance(value, str):
            raise ConfigError(f"{name}: expected a list, got {value!r}")
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name}: expected a list, got {value!r}")
        return tuple(_coerce(f"{name}[{i}]", v, args[0]) for i, v in enumerate(value))
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{name}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{name}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name}: expected a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{name}: expected a finite number, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{name}: unsupported value {value!r}")  # pragma: no cover - annotations are ours


def _split_ints(name: str, text: str) -> tuple[int, ...]:
    parts = [p.strip() for p in text.replace("x", ",").split(",") if p.strip()] if text.strip() else []
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        raise ConfigError(f"{name}: expected comma-separated integers such as 128,128, got {text!r}") from None


def load_toml(path: str) -> dict[str, Any]:
    """Read a TOML file; a missing or malformed file is a one-line ConfigError."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML (arrays or tables nested too deeply)") from None
    except (OSError, ValueError) as exc:  # a folder, no permission, a NUL byte in the path
        raise ConfigError(f"{path}: cannot read the config file ({getattr(exc, 'strerror', None) or exc})") from None


# --------------------------------------------------------------------------- validation


def resolve(config: RunConfig) -> RunConfig:
    """Validate every field and return the canonical config.

    Raises ConfigError naming the first bad field and the allowed values.
    Canonical form: component names in canonical call syntax with all
    parameters filled, the activation as one string when it is the same for
    every layer, ``lr`` filled from the optimizer's default.
    """
    from . import activations, init, losses
    from .data import check_dataset_name
    from .optim import factory

    d, m, o, t = config.data, config.model, config.optim, config.train

    check_dataset_name(d.dataset)
    if not 0.0 <= d.val_fraction < 1.0:
        raise ConfigError(f"data.val_fraction: expected a number in [0, 1), got {d.val_fraction}")
    if d.pixel_divisor <= 0:
        raise ConfigError(f"data.pixel_divisor: expected a positive number, got {d.pixel_divisor}")
    if d.train_subset is not None and d.train_subset <= 0:
        raise ConfigError(f"data.train_subset: expected a positive integer, got {d.train_subset}")

    if not m.hidden:
        raise ConfigError("model.hidden: expected at least one hidden layer width, e.g. 128,128")
    for i, width in enumerate(m.hidden):
        if width <= 0:
            raise ConfigError(f"model.hidden: layer widths must be positive integers, got {width} for hidden{i + 1}")
    acts = (m.activation,) * len(m.hidden) if isinstance(m.activation, str) else tuple(m.activation)
    if len(acts) != len(m.hidden):
        raise ConfigError(
            f"model.activation: got {len(acts)} activations for {len(m.hidden)} hidden layers; give one, or one per layer"
        )
    acts = tuple(activations.canonical(a, field_name="model.activation") for a in acts)
    activation: str | tuple[str, ...] = acts[0] if len(set(acts)) == 1 else acts
    if m.output not in losses.OUTPUTS:
        raise ConfigError(f"model.output: unknown output {m.output!r} (valid: {', '.join(losses.OUTPUTS)})")
    if m.batch_norm not in BATCH_NORM_POSITIONS:
        raise ConfigError(f"model.batch_norm: expected one of {', '.join(BATCH_NORM_POSITIONS)}, got {m.batch_norm!r}")
    if m.residual and not any(a == b for a, b in zip(m.hidden, m.hidden[1:])):
        raise ConfigError("model.residual: needs at least two consecutive hidden layers of equal width, e.g. 256,256,256")
    model = replace(
        m,
        activation=activation,
        init=init.canonical_weight_init(m.init),
        bias_init=init.canonical_bias_init(m.bias_init),
    )

    losses.check_pair(o.loss, m.output)
    opt_name, opt_kwargs = factory.canonical(o.optimizer)
    if opt_name == "sdagd":
        from .optim.curvature import check_supported

        check_supported(o.loss, m.output)  # before training: SDAGD needs a PSD Gauss–Newton matrix
    lr = factory.default_lr(opt_name) if o.lr is None else o.lr
    if not lr > 0:
        raise ConfigError(f"optim.lr: expected a positive learning rate, got {o.lr}")
    if o.clip_norm is not None and not o.clip_norm > 0:
        raise ConfigError(f"optim.clip_norm: expected a positive number, got {o.clip_norm}")
    from .schedules import canonical_schedule

    optim = replace(
        o,
        optimizer=factory.format_optimizer(opt_name, opt_kwargs),
        lr=float(lr),
        schedule=canonical_schedule(o.schedule),
    )

    if t.epochs <= 0:
        raise ConfigError(f"train.epochs: expected a positive integer, got {t.epochs}")
    if t.batch_size <= 0:
        raise ConfigError(f"train.batch_size: expected a positive integer, got {t.batch_size}")
    if t.early_stopping is not None and t.early_stopping <= 0:
        raise ConfigError(f"train.early_stopping: expected a positive patience in epochs, got {t.early_stopping}")
    if t.monitor not in MONITORS:
        raise ConfigError(f"train.monitor: expected one of {', '.join(MONITORS)}, got {t.monitor!r}")
    if not 0 <= config.seed <= MAX_SEED:
        raise ConfigError(f"seed: expected a non-negative integer up to {MAX_SEED}, got {config.seed}")
    return replace(config, model=model, optim=optim, probes=_resolve_probes(config.probes))


def _resolve_probes(p: ProbesConfig) -> ProbesConfig:
    """Presets expanded, every probe spec validated and filled (see vanishing.probes.spec)."""
    from .probes.probe_set import SPLITS
    from .probes.spec import canonical_probes

    if p.probe_per_class <= 0:
        raise ConfigError(f"probes.probe_per_class: expected a positive integer, got {p.probe_per_class}")
    if p.probe_split not in SPLITS:
        raise ConfigError(f"probes.probe_split: expected one of {', '.join(SPLITS)}, got {p.probe_split!r}")
    if not 0 <= p.probe_seed <= MAX_SEED:
        raise ConfigError(f"probes.probe_seed: expected a non-negative integer up to {MAX_SEED}, got {p.probe_seed}")
    return replace(p, enabled=canonical_probes(p.enabled, "probes.enabled"))


def resolve_exec(ex: ExecConfig) -> ExecConfig:
    """Validate the execution settings (device string, thread count)."""
    if ex.threads is not None and ex.threads <= 0:
        raise ConfigError(f"threads: expected a positive integer, got {ex.threads}")
    if ex.divergence_check_every <= 0:
        raise ConfigError(f"divergence_check_every: expected a positive integer, got {ex.divergence_check_every}")
    if ex.engine not in ENGINES:
        raise ConfigError(f"engine: expected one of {', '.join(ENGINES)}, got {ex.engine!r}")
    dev = ex.device
    if not (dev in ("auto", "cpu", "cuda", "mps") or (dev.startswith("cuda:") and dev[5:].isdigit())):
        raise ConfigError(f"device: expected auto, cpu, cuda or cuda:N, got {dev!r}")
    return ex


# --------------------------------------------------------------------------- identity


def to_dict(config: Any) -> dict[str, Any]:
    """Plain JSON-able dict of a (nested) config dataclass; tuples become lists."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_hash(config: RunConfig) -> str:
    """Hex digest of the fields that affect results, excluding the seed.

    Hash the *resolved* config so that equivalent spellings ("sgd" and
    "sgd(momentum=0.0)") map to the same runs.
    """
    body = to_dict(config)
    body.pop("seed", None)
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def run_id(config: RunConfig) -> str:
    """Identifier of a run in the store: ``<first 12 hex digits of the hash>-s<seed>``."""
    return f"{config_hash(config)[:12]}-s{config.seed}"


def with_overrides(config: RunConfig, overrides: Mapping[str, Any]) -> RunConfig:
    """Return ``config`` with dotted-path overrides (``{"model.hidden": [64]}``) applied and type-checked."""
    sections = {name: dict(to_dict(getattr(config, name))) for name in SECTIONS}
    raw: dict[str, Any] = {**sections, "seed": config.seed}
    for path, value in overrides.items():
        if path == "seed":
            raw["seed"] = value
            continue
        section, _, key = path.partition(".")
        if section not in SECTIONS or not key:
            raise ConfigError(f"{path}: unknown field (expected section.field, sections: {', '.join(SECTIONS)})")
        raw[section][key] = value
    return config_from_dict(raw)
