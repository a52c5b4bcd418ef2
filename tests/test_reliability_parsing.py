"""Reliability, malformed input: property-based tests of config and sweep-file parsing (hypothesis).

The contract (SPEC §12, §14): every input either parses, or raises the
package's :class:`~vanishing.errors.UsageError` (``ConfigError``) with a
one-line message — never another exception type, a traceback or a hang —
and config text is never evaluated. Inputs are real TOML files written from
random documents: random section and field names (unicode, empty, quoted),
every TOML type (strings with control characters, 64-bit integers, ±inf and
nan, booleans, dates and times, arrays, inline tables), values near the
valid ones (component names in call syntax with odd arguments, code,
overlong text) and random bytes. Valid configs round-trip through TOML text
to the same resolved config and run identity.

Example counts are fixed by ``max_examples`` below (docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import math
from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from vanishing import activations, losses
from vanishing.callspec import parse_call
from vanishing.config import (
    MAX_SEED,
    SECTIONS,
    ExecConfig,
    RunConfig,
    config_from_dict,
    config_hash,
    exec_from_dict,
    load_toml,
    resolve,
    resolve_exec,
    to_dict,
)
from vanishing.errors import ConfigError, UsageError

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
EXAMPLES_RUN_TOML = 250
EXAMPLES_ROUND_TRIP = 150
EXAMPLES_SWEEP_TOML = 150
EXAMPLES_CALL_TEXT = 300
EXAMPLES_RAW_BYTES = 200


# --------------------------------------------------------------------------- a small TOML writer


def _escape(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _escape(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_escape(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def toml_document(doc: dict) -> str:
    """Top-level scalars first, then one ``[table]`` per dict value (nested dicts inline)."""
    lines = [f"{_escape(k)} = {toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for key, table in doc.items():
        if isinstance(table, dict):
            lines.append(f"[{_escape(key)}]")
            lines += [f"{_escape(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- strategies

NEAR_VALID_TEXT = [
    *activations.NAMES, *losses.OUTPUTS, *losses.LOSSES, "off", "before", "after", "val_acc", "val_loss",
    "leaky_relu(alpha=0.1)", "leaky_relu(alpha=-1)", "elu(alpha=1e400)", "relu(", "relu)", "relu(1)", "RELU",
    "sgd(momentum=0.9)", "sgd(momentum=2)", "adam(betas=1)", "sdagd(radius=0)", "sgd(**{})", "sgd(lr=1/0)",
    "exponential(gamma=0.99)", "exponential(gamma=2)", "step(step_size=0, gamma=0.1)", "constant",
    "he_normal", "xavier_uniform(gain=-1)", "orthogonal(gain=1e308)", "constant(value=0.1)", "normal(std=-1)",
    "mnist", "mnist-sample", "fashion-mnist", "cifar10", "npz:", "npz:/nonexistent.npz", "npz:\x00",
    "default", "minimal", "full", "none", "grad_norms(every=0)", "sparsity(epochs='abc')", "jacobian_spectrum(examples=-1)",
    "__import__('os').system('touch PWNED')", "exec('1')", "lambda: 1", "(lambda: 0)()", "a.b(c=1)", "x" * 1200,
    "128,128", "128x128", "1e5", "-3", "", " ", "δ", "𝒳(α=1)", "train", "val", "test", "auto", "cpu", "cuda:0", "cuda:x",
]
FIELD_NAMES = {name: [f.name for f in fields(cls)] for name, cls in SECTIONS.items()}
EXEC_FIELDS = [f.name for f in fields(ExecConfig)]

SCALARS = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, 1, -1, 2, 3, 128, MAX_SEED, MAX_SEED + 1, 2**63 - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 0.5, 0.999999, 1.0, 1e300]),
    st.text(max_size=24),
    st.sampled_from(NEAR_VALID_TEXT),
    st.dates(),
    st.times(),
    st.datetimes(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
KEYS = st.text(max_size=12)


@st.composite
def run_documents(draw) -> dict:
    """A run TOML: real sections with real or random field names, random values; sometimes junk on top."""
    doc: dict = {}
    for section in draw(st.lists(st.sampled_from([*SECTIONS, "exec"]), unique=True, max_size=6)):
        names = EXEC_FIELDS if section == "exec" else FIELD_NAMES[section]
        doc[section] = draw(st.one_of(
            st.dictionaries(st.sampled_from(names) | KEYS, VALUES, max_size=5),
            st.dictionaries(st.sampled_from(names), SCALARS, max_size=len(names)),
            SCALARS,
        ))
    if draw(st.booleans()):
        doc["seed"] = draw(VALUES)
    if draw(st.integers(0, 5)) == 0:
        doc[draw(KEYS)] = draw(VALUES)
    return doc


def assert_one_line(exc: BaseException) -> None:
    text = str(exc)
    assert text and "\n" not in text and "Traceback" not in text, repr(text)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("toml")


def cli_config(path: Path) -> tuple[RunConfig, ExecConfig]:
    """What ``vanishing run --config PATH`` does before training: parse, merge flags, validate."""
    from vanishing.cli import build_parser, configs_from_args

    args = build_parser().parse_args(["run", "--config", str(path)])
    config, ex = configs_from_args(args)
    return resolve(config), resolve_exec(ex)


# --------------------------------------------------------------------------- properties


@settings(max_examples=EXAMPLES_RUN_TOML, **SETTINGS)
@given(doc=st.one_of(run_documents(), st.deferred(lambda: mutated_documents())))
def test_a_random_run_toml_parses_or_fails_with_one_line(doc, scratch):
    path = scratch / "run.toml"
    path.write_text(toml_document(doc), encoding="utf-8")
    try:
        config, _ = cli_config(path)
    except UsageError as exc:
        assert_one_line(exc)
        event(f"refused: {type(exc).__name__}")
        return
    event("parsed and resolved")
    assert config == resolve(config)  # resolved is canonical
    assert config_from_dict(to_dict(config)) == config


@settings(max_examples=EXAMPLES_RAW_BYTES, **SETTINGS)
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8")))
def test_random_bytes_as_a_config_file_never_escape_as_another_error(data, scratch):
    path = scratch / "bytes.toml"
    path.write_bytes(data)
    try:
        cli_config(path)
    except UsageError as exc:
        assert_one_line(exc)


@pytest.mark.parametrize("name", [".", "\x00", "missing.toml", "nested"])
def test_a_config_path_that_is_not_a_file_is_one_line(name, scratch):
    path = scratch / "dir" if name == "." else name
    if name == ".":
        path.mkdir(exist_ok=True)
    if name == "nested":
        path = scratch / "nested.toml"
        path.write_text("a = " + "[" * 600 + "]" * 600 + "\n")
    with pytest.raises(ConfigError) as err:
        load_toml(str(path))
    assert_one_line(err.value)


VALID_OPTIMIZERS = ["sgd", "sgd(momentum=0.9)", "adam", "adamw(weight_decay=0.01)", "rmsprop", "adagrad", "adadelta"]


@st.composite
def valid_configs(draw) -> RunConfig:
    loss = draw(st.sampled_from(sorted(losses.VALID_OUTPUTS)))
    hidden = draw(st.lists(st.integers(1, 512), min_size=1, max_size=4))
    per_layer = draw(st.booleans())
    act_names = [a for a in activations.NAMES if a != "linear"] + ["leaky_relu(alpha=0.2)", "elu(alpha=0.5)"]
    activation = (draw(st.lists(st.sampled_from(act_names), min_size=len(hidden), max_size=len(hidden))) if per_layer
                  else draw(st.sampled_from(act_names)))
    raw = {
        "data": {"dataset": draw(st.sampled_from(["mnist-sample", "mnist", "fashion-mnist", "cifar10"])),
                 "val_fraction": draw(st.floats(0, 0.9)), "split_seed": draw(st.integers(0, 2**40)),
                 "standardize": draw(st.booleans())},
        "model": {"hidden": hidden, "activation": activation, "output": draw(st.sampled_from(losses.VALID_OUTPUTS[loss])),
                  "batch_norm": draw(st.sampled_from(["off", "before", "after"])),
                  "init": draw(st.sampled_from(["auto", "he_normal", "xavier_uniform", "orthogonal(gain=1.0)"]))},
        "optim": {"loss": loss, "optimizer": draw(st.sampled_from(VALID_OPTIMIZERS)),
                  "schedule": draw(st.sampled_from(["constant", "exponential(gamma=0.9)", "step(step_size=3, gamma=0.5)"]))},
        "train": {"epochs": draw(st.integers(1, 500)), "batch_size": draw(st.integers(1, 4096)),
                  "monitor": draw(st.sampled_from(["val_acc", "val_loss"]))},
        "probes": {"enabled": draw(st.sampled_from([["none"], ["minimal"], ["default"], ["grad_norms(every=3)", "sparsity"]])),
                   "probe_per_class": draw(st.integers(1, 1000))},
        "seed": draw(st.integers(0, MAX_SEED)),
    }
    if draw(st.booleans()):
        raw["optim"]["lr"] = draw(st.floats(1e-8, 10.0))
    if draw(st.booleans()):
        raw["optim"]["clip_norm"] = draw(st.floats(1e-3, 1e3))
    if draw(st.booleans()):
        raw["train"]["early_stopping"] = draw(st.integers(1, 50))
    return resolve(config_from_dict(raw))


def _without_none(value):
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    return value


@st.composite
def mutated_documents(draw) -> dict:
    """A valid config's TOML with one to three fields replaced by random values (checks each field's validation)."""
    doc = _without_none(to_dict(draw(valid_configs())))
    for _ in range(draw(st.integers(1, 3))):
        section = draw(st.sampled_from(sorted(FIELD_NAMES)))
        doc[section][draw(st.sampled_from(FIELD_NAMES[section]))] = draw(SCALARS | VALUES)
    return doc


@st.composite
def near_valid_sweeps(draw) -> dict:
    """A valid base config, one or two real axes whose values mix the valid one with random ones, a few seeds."""
    doc = _without_none(to_dict(draw(valid_configs())))
    doc.pop("seed")
    grid = {}
    for section in draw(st.lists(st.sampled_from(sorted(FIELD_NAMES)), min_size=1, max_size=2, unique=True)):
        name = draw(st.sampled_from(FIELD_NAMES[section]))
        good = doc[section].get(name, 1)
        grid[f"{section}.{name}"] = draw(st.lists(st.just(good) | SCALARS, min_size=1, max_size=3))
    doc["grid"] = grid
    doc["seeds"] = draw(st.integers(1, 3) | st.lists(st.integers(0, MAX_SEED + 1), min_size=1, max_size=3))
    return doc


@settings(max_examples=EXAMPLES_ROUND_TRIP, **SETTINGS)
@given(config=valid_configs())
def test_a_valid_config_round_trips_through_toml_text(config, scratch):
    path = scratch / "valid.toml"
    path.write_text(toml_document(_without_none(to_dict(config))), encoding="utf-8")  # TOML has no null: None = default
    again, _ = cli_config(path)
    assert again == config and config_hash(again) == config_hash(config)
    assert resolve(again) == again


@st.composite
def sweep_documents(draw) -> dict:
    paths = [f"{s}.{f}" for s, names in FIELD_NAMES.items() for f in names]
    axes = st.dictionaries(st.sampled_from(paths) | KEYS | st.just("seed"), st.lists(VALUES, max_size=3) | SCALARS, max_size=2)
    doc: dict = {}
    for key in draw(st.lists(st.sampled_from(["name", "description", "seeds", "base", "seed", "exec", "data", "train"]),
                             unique=True, max_size=5)):
        if key == "seeds":
            doc[key] = draw(st.one_of(st.lists(st.integers(-2, 2**40), max_size=3), st.integers(-3, 2**62), VALUES))
        elif key == "base":
            doc[key] = draw(st.sampled_from([".", "\x00", "missing.toml", "/", ""]) | st.text(max_size=10) | SCALARS)
        elif key in ("exec", "data", "train"):
            doc[key] = draw(st.dictionaries(st.sampled_from(EXEC_FIELDS if key == "exec" else FIELD_NAMES[key]) | KEYS,
                                            SCALARS, max_size=3) | SCALARS)
        else:
            doc[key] = draw(VALUES)
    doc["grid"] = draw(axes | SCALARS)
    if draw(st.booleans()):
        doc["zip"] = draw(axes)
    return doc


@settings(max_examples=EXAMPLES_SWEEP_TOML, **SETTINGS)
@given(doc=st.one_of(sweep_documents(), near_valid_sweeps()))
def test_a_random_sweep_file_dry_runs_or_fails_with_one_line(doc, scratch):
    from vanishing.cli import main

    path = scratch / "sweep.toml"
    path.write_text(toml_document(doc), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["sweep", str(path), "--dry-run", "--quiet", "--results", str(scratch / "sweep-results")])
    assert code in (0, 2)
    event("dry run printed" if code == 0 else "refused, exit 2")
    if code == 2:
        assert err.getvalue().startswith("error: ") and err.getvalue().count("\n") == 1, err.getvalue()
    else:
        assert "Traceback" not in out.getvalue() + err.getvalue()


def test_a_sweep_that_would_expand_to_millions_of_runs_fails_at_once(scratch):
    from vanishing.sweep.spec import MAX_RUNS, expand, load_sweep

    path = scratch / "huge.toml"
    path.write_text('seeds = 100000000\n[data]\ndataset = "mnist-sample"\n')
    with pytest.raises(ConfigError, match=f"a count of at most {MAX_RUNS}"):
        load_sweep(path)
    path.write_text("seeds = 1000\n[grid]\n" + "".join(f'"train.epochs" = {list(range(1, 400))}\n'[:0] for _ in range(1))
                    + '"train.epochs" = ' + str(list(range(1, 400))) + "\n")
    with pytest.raises(ConfigError, match=f"399000 runs .* more than the limit of {MAX_RUNS}"):
        expand(load_sweep(path))


COMPONENT_FIELDS = ["model.activation", "model.init", "model.bias_init", "optim.optimizer", "optim.schedule",
                    "data.dataset", "probes.enabled"]


@settings(max_examples=EXAMPLES_CALL_TEXT, **SETTINGS)
@given(
    field=st.sampled_from(COMPONENT_FIELDS),
    text=st.one_of(
        st.text(max_size=40),
        st.sampled_from(NEAR_VALID_TEXT),
        st.builds(lambda name, args: f"{name}({args})", st.sampled_from([*activations.NAMES, "sgd", "adam", "step"]),
                  st.text(alphabet="abcdefgmoprstu=,.()[]{}'\"*/-+0123456789 _xe", max_size=30)),
    ),
)
def test_component_text_is_parsed_never_evaluated(field, text, scratch):
    """Activations, init schemes, optimizers, schedules, data-set names and probe specs from arbitrary text."""
    marker = scratch / "PWNED"
    section, name = field.split(".")
    value = [text] if field == "probes.enabled" else text
    try:
        resolve(config_from_dict({section: {name: value}}))
    except UsageError as exc:
        assert_one_line(exc)
    try:
        parse_call(text, field)
    except ConfigError as exc:
        assert_one_line(exc)
    assert not marker.exists() and not Path("PWNED").exists()


def test_exec_section_values_are_checked(scratch):
    for raw in ({"threads": 0}, {"device": "tpu"}, {"divergence_check_every": -1}, {"threads": "2"}, {"nope": 1}):
        with pytest.raises(ConfigError) as err:
            resolve_exec(exec_from_dict(raw))
        assert_one_line(err.value)
