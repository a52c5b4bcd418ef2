"""A sweep: a base config, grid and zip axes, and a list of seeds — parsed, validated, expanded.

File format (TOML)::

    name = "pretorius-quick"            # optional, shown in the status display
    seeds = [0, 1, 2]                   # or a count: seeds = 3  →  0, 1, 2
    base = "run.toml"                   # optional run TOML (relative to this file); the sections below override it

    [data]                              # the base config: the same sections as a run TOML
    dataset = "mnist-sample"
    [train]
    epochs = 5

    [grid]                              # cartesian product of every axis
    "model.hidden" = [[200, 200], [200, 200, 200, 200]]
    "model.batch_norm" = ["off", "before"]

    [zip]                               # varied together: the i-th values of every axis form one point
    "model.activation" = ["sigmoid", "relu"]
    "model.init" = ["xavier_normal", "he_normal"]

    [exec]                              # optional: where and how (device, data_dir, results, …)
    results = "results/pretorius"

An axis is a dotted config path (``section.field``); ``[grid] model.hidden
= …`` (TOML's dotted keys) and ``"model.hidden" = …`` mean the same.
Several independent zip groups: ``[[zip]]`` tables. Axes vary from the
first grid axis (slowest) through the zip groups to the seeds (fastest).
The same run reached twice (equivalent spellings) is kept once.

Everything is validated before anything runs: an unknown path, a bad value
or an impossible combination raises one :class:`~vanishing.errors.ConfigError`
line naming the axis (and the point) and what is allowed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..config import (
    SECTIONS,
    ExecConfig,
    RunConfig,
    config_from_dict,
    config_hash,
    exec_from_dict,
    load_toml,
    resolve,
    run_id,
    to_dict,
    with_overrides,
)
from ..errors import ConfigError

TOP_KEYS = ("name", "description", "seeds", "base", "grid", "zip", "exec", "seed", *SECTIONS)
#: Most runs one sweep may expand to (checked before expanding: a typo such as ``seeds = 100000000``
#: or a dozen long axes must fail at once, not fill memory).
MAX_RUNS = 100_000

Axis = tuple[str, tuple[Any, ...]]  # (dotted path, values)


@dataclass(frozen=True)
class SweepSpec:
    """A sweep before expansion."""

    base: RunConfig = field(default_factory=RunConfig)  # the config every run starts from
    grid: tuple[Axis, ...] = ()  # cartesian product of these axes
    zips: tuple[tuple[Axis, ...], ...] = ()  # each group: axes varied together (equal lengths)
    seeds: tuple[int, ...] = (0,)  # every point runs once per seed
    name: str = "sweep"
    exec: dict[str, Any] = field(default_factory=dict)  # the file's [exec] table (ExecConfig fields)
    source: str | None = None  # the file it came from

    @property
    def varied(self) -> list[str]:
        """The dotted paths this sweep varies, in axis order."""
        return [p for p, _ in self.grid] + [p for group in self.zips for p, _ in group]

    def exec_config(self, **overrides: Any) -> ExecConfig:
        """The sweep's ExecConfig: the file's [exec] table, then ``overrides`` that are not None."""
        raw = dict(self.exec)
        raw.update({k: v for k, v in overrides.items() if v is not None})
        return exec_from_dict(raw)


@dataclass(frozen=True)
class SweepRun:
    """One run of an expanded sweep."""

    config: RunConfig  # resolved
    run_id: str
    config_hash: str
    point: int  # index of its grid/zip point (runs that differ only in seed share it)
    values: tuple[tuple[str, Any], ...]  # (dotted path, value) of every varied axis at this point

    @property
    def seed(self) -> int:
        return self.config.seed


# --------------------------------------------------------------------------- parsing


def load_sweep(path: str | Path) -> SweepSpec:
    """Read a sweep TOML file (see the module docstring)."""
    path = Path(path)
    raw = load_toml(str(path))
    return spec_from_dict(raw, source=str(path), base_dir=path.parent)


def spec_from_dict(raw: Mapping[str, Any], source: str | None = None, base_dir: Path | None = None) -> SweepSpec:
    """Build a SweepSpec from a parsed TOML table (or an equivalent dict)."""
    where = source or "sweep"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a table, got {type(raw).__name__}")
    unknown = [k for k in raw if k not in TOP_KEYS]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (valid: {', '.join(TOP_KEYS)})")
    base_raw: dict[str, Any] = {}
    if "base" in raw:
        if not isinstance(raw["base"], str):
            raise ConfigError(f"{where}: base: expected the path of a run TOML file, got {raw['base']!r}")
        base_path = Path(raw["base"])
        if not base_path.is_absolute() and base_dir is not None:
            base_path = base_dir / base_path
        base_raw = load_toml(str(base_path))
        base_raw.pop("exec", None)
    for section in SECTIONS:
        if section in raw:
            if not isinstance(raw[section], Mapping):
                raise ConfigError(f"{where}: [{section}] must be a table")
            base_raw[section] = {**base_raw.get(section, {}), **raw[section]}
    if "seed" in raw:
        base_raw["seed"] = raw["seed"]
    base = config_from_dict(base_raw)
    seeds = _seeds(raw.get("seeds", [base.seed]), where)
    grid = tuple(_axes(raw.get("grid", {}), f"{where}: grid"))
    zips_raw = raw.get("zip", [])
    if isinstance(zips_raw, Mapping):
        zips_raw = [zips_raw]
    if not isinstance(zips_raw, list):
        raise ConfigError(f"{where}: zip: expected a table or a list of tables ([[zip]])")
    zips = tuple(tuple(_axes(z, f"{where}: zip")) for z in zips_raw if z)
    exec_raw = raw.get("exec", {})
    if not isinstance(exec_raw, Mapping):
        raise ConfigError(f"{where}: [exec] must be a table")
    exec_from_dict(exec_raw)  # validate field names and types now
    name = raw.get("name", Path(source).stem if source else "sweep")
    if not isinstance(name, str):
        raise ConfigError(f"{where}: name: expected a string, got {name!r}")
    return make_spec(base, grid=dict(grid), zip=[dict(z) for z in zips], seeds=seeds, name=name, exec=dict(exec_raw), source=source)


def make_spec(
    base: RunConfig | Mapping[str, Any] | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    zip: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Sequence[Any]]] | None = None,
    seeds: Sequence[int] | int | None = None,
    name: str = "sweep",
    exec: Mapping[str, Any] | None = None,
    source: str | None = None,
) -> SweepSpec:
    """A SweepSpec from Python values; checks every axis path and value list (not yet the combinations)."""
    if base is None:
        base = RunConfig()
    elif isinstance(base, Mapping):
        base = config_from_dict(base)
    elif not isinstance(base, RunConfig):
        raise ConfigError(f"sweep: base must be a RunConfig or a dict of sections, got {type(base).__name__}")
    grid_axes = tuple(_axes(grid or {}, "sweep: grid"))
    if zip is None:
        zip_groups: list[Mapping] = []
    elif isinstance(zip, Mapping):
        zip_groups = [zip]
    else:
        zip_groups = list(zip)
    zips = []
    for group in zip_groups:
        axes = tuple(_axes(group, "sweep: zip"))
        lengths = {len(v) for _, v in axes}
        if len(lengths) > 1:
            detail = ", ".join(f"{p} has {len(v)}" for p, v in axes)
            raise ConfigError(f"sweep: zip axes must have equal lengths ({detail})")
        if axes:
            zips.append(axes)
    paths = [p for p, _ in grid_axes] + [p for g in zips for p, _ in g]
    dupes = sorted({p for p in paths if paths.count(p) > 1})
    if dupes:
        raise ConfigError(f"sweep: axis {dupes[0]} appears twice")
    seeds_t = _seeds(seeds if seeds is not None else [base.seed], "sweep")
    n_runs = len(seeds_t)
    for n_values in [len(v) for _, v in grid_axes] + [len(g[0][1]) for g in zips]:
        n_runs *= n_values
    if n_runs > MAX_RUNS:
        raise ConfigError(f"sweep: {n_runs} runs (axes × seeds), more than the limit of {MAX_RUNS}; split the sweep")
    return SweepSpec(base, grid_axes, tuple(zips), seeds_t, name, dict(exec or {}), source)


def _seeds(value: Any, where: str) -> tuple[int, ...]:
    if isinstance(value, bool):
        raise ConfigError(f"{where}: seeds: expected a list of non-negative integers or a count, got {value!r}")
    if isinstance(value, int):
        if value <= 0:
            raise ConfigError(f"{where}: seeds: a count must be positive, got {value}")
        if value > MAX_RUNS:
            raise ConfigError(f"{where}: seeds: a count of at most {MAX_RUNS}, got {value}")
        return tuple(range(value))
    if isinstance(value, range):
        if len(value) > MAX_RUNS:
            raise ConfigError(f"{where}: seeds: at most {MAX_RUNS} seeds, got {len(value)}")
        value = list(value)
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(f"{where}: seeds: expected a non-empty list of non-negative integers or a count, got {value!r}")
    out = []
    for s in value:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise ConfigError(f"{where}: seeds: expected non-negative integers, got {s!r}")
        out.append(s)
    if len(set(out)) != len(out):
        raise ConfigError(f"{where}: seeds: {sorted(s for s in out if out.count(s) > 1)[0]} is listed twice")
    return tuple(out)


def _axes(table: Any, where: str) -> list[Axis]:
    """Flatten ``{"model": {"hidden": [...]}}`` and ``{"model.hidden": [...]}`` into checked (path, values)."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: expected a table of axes such as \"model.hidden\" = [[128], [128, 128]]")
    axes: list[Axis] = []
    for key, value in table.items():
        if isinstance(value, Mapping):
            for sub, values in value.items():
                axes.append((f"{key}.{sub}", values))
        else:
            axes.append((key, value))
    checked = []
    for path, values in axes:
        _check_path(path, where)
        if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)) or len(values) == 0:
            raise ConfigError(f"{where} {path}: expected a non-empty list of values, got {values!r}")
        checked.append((path, tuple(values)))
    return checked


def _check_path(path: str, where: str) -> None:
    if path == "seed":
        raise ConfigError(f"{where}: vary the seed with the seeds list, not as an axis")
    section, _, name = path.partition(".")
    if section not in SECTIONS or not name:
        raise ConfigError(f"{where}: unknown axis {path!r} (expected section.field, sections: {', '.join(SECTIONS)})")
    valid = [f.name for f in fields(SECTIONS[section])]
    if name not in valid:
        raise ConfigError(f"{where}: unknown axis {path!r} (fields of {section}: {', '.join(valid)})")


# --------------------------------------------------------------------------- expansion


def _points(spec: SweepSpec) -> list[tuple[tuple[str, Any], ...]]:
    dims: list[list[tuple[tuple[str, Any], ...]]] = []
    for path, values in spec.grid:
        dims.append([((path, v),) for v in values])
    for group in spec.zips:
        n = len(group[0][1])
        dims.append([tuple((path, values[i]) for path, values in group) for i in range(n)])
    return [tuple(itertools.chain.from_iterable(combo)) for combo in itertools.product(*dims)]


def _apply(base: RunConfig, overrides: Mapping[str, Any]) -> RunConfig:
    return resolve(with_overrides(base, overrides))


def expand(spec: SweepSpec) -> list[SweepRun]:
    """Every run of the sweep, resolved and validated, in axis order; duplicates (same run id) dropped.

    Raises ConfigError naming the axis and value (or the point) at the first invalid one.
    """
    try:
        resolve(spec.base)
    except ConfigError as exc:
        raise ConfigError(f"sweep base config: {exc}") from None
    for kind, axes in [("grid", spec.grid), *[("zip", g) for g in spec.zips]]:
        for path, values in axes:
            for v in values:
                try:
                    _apply(spec.base, {path: v})
                except ConfigError as exc:
                    raise ConfigError(f"sweep {kind} axis {path} = {v!r}: {exc}") from None
    runs: list[SweepRun] = []
    seen: set[str] = set()
    for point, values in enumerate(_points(spec)):
        overrides = dict(values)
        try:
            config = _apply(spec.base, overrides)
        except ConfigError as exc:
            where = ", ".join(f"{p} = {v!r}" for p, v in values)
            raise ConfigError(f"sweep point {where}: {exc}") from None
        digest = config_hash(config)
        for seed in spec.seeds:
            cfg = resolve(with_overrides(config, {"seed": seed}))
            rid = run_id(cfg)
            if rid in seen:
                continue
            seen.add(rid)
            runs.append(SweepRun(cfg, rid, digest, point, values))
    return runs


def display_value(value: Any) -> str:
    """A short text for a config value in tables: lists joined with commas."""
    if isinstance(value, (list, tuple)):
        return ",".join(display_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def column_names(paths: Sequence[str]) -> dict[str, str]:
    """Table headers for dotted paths: the field name, or the full path where two sections share it."""
    short = [p.split(".", 1)[1] for p in paths]
    return {p: (s if short.count(s) == 1 else p) for p, s in zip(paths, short)}


def run_config_dict(run: SweepRun) -> dict:
    """The JSON-able resolved config of a run (what the index stores)."""
    return to_dict(run.config)
