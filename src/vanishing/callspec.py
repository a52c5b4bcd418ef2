"""Parse the call syntax used for named components: ``name(key=value, ...)``.

Activations, init schemes, schedules and optimizers are named by strings such
as ``"leaky_relu(alpha=0.1)"`` or ``"orthogonal(gain=1.0)"``. The text is
parsed with :mod:`ast` and only literal numbers, booleans, strings and None
are accepted as values — nothing is evaluated, so config text can never run
code.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from .errors import ConfigError

MAX_LENGTH = 1000


@dataclass(frozen=True)
class CallSpec:
    """A parsed ``name(key=value, ...)`` string."""

    name: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return format_call(self.name, self.kwargs)


class Spec(str):
    """A validated component spec: its value IS the canonical call string.

    ``config.resolve`` returns every activation, init, optimizer and schedule
    field as a ``Spec``: ``str(spec)`` / ``json.dumps`` / hashing see exactly
    the canonical text (so run ids do not change), while builders read the
    typed ``.name`` and ``.kwargs`` (a read-only mapping, every parameter
    filled and typed) instead of parsing the text again. ``.kind`` names the
    component family (``"activation"``, ``"init"``, ``"bias_init"``,
    ``"optimizer"``, ``"schedule"``). Instances are immutable and survive
    pickle / deepcopy (as Specs) and json (as plain strings).
    """

    name: str
    kwargs: Mapping[str, Any]
    kind: str

    def __new__(cls, name: str, kwargs: Mapping[str, Any], kind: str) -> "Spec":
        self = super().__new__(cls, format_call(name, kwargs))
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "kwargs", MappingProxyType(dict(kwargs)))
        object.__setattr__(self, "kind", kind)
        return self

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"Spec is frozen; cannot set {key!r}")

    def __delattr__(self, key: str) -> None:
        raise AttributeError(f"Spec is frozen; cannot delete {key!r}")

    def __reduce__(self):
        return (Spec, (self.name, dict(self.kwargs), self.kind))

    def __copy__(self) -> "Spec":
        return self

    def __deepcopy__(self, memo: Any) -> "Spec":
        return self

    def __repr__(self) -> str:
        return f"Spec({str(self)!r}, kind={self.kind!r})"

    @property
    def call(self) -> CallSpec:
        return CallSpec(self.name, dict(self.kwargs))


def spec_of(text: Any, kind: str) -> "Spec | None":
    """``text`` itself when it is already a resolved :class:`Spec` of ``kind``, else None."""
    return text if isinstance(text, Spec) and text.kind == kind else None


def as_call(text: Any, field_name: str) -> CallSpec:
    """The :class:`CallSpec` of ``text``: no parsing when ``text`` is a :class:`Spec`."""
    if isinstance(text, Spec):
        return text.call
    return parse_call(text, field_name)


def format_call(name: str, kwargs: Mapping[str, Any]) -> str:
    """Canonical text of a call: ``name`` or ``name(a=1, b=0.5)`` (keys sorted)."""
    if not kwargs:
        return name
    inner = ", ".join(f"{k}={kwargs[k]!r}" for k in sorted(kwargs))
    return f"{name}({inner})"


def parse_call(text: str, field_name: str) -> CallSpec:
    """Parse ``text`` as ``name`` or ``name(key=literal, ...)``.

    ``field_name`` names the config field in error messages. Positional
    arguments, nested calls and expressions are rejected.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{field_name}: expected a name such as 'relu' or 'leaky_relu(alpha=0.1)', got {text!r}")
    source = text.strip()
    if len(source) > MAX_LENGTH:
        raise ConfigError(f"{field_name}: text of {len(source)} characters is too long (at most {MAX_LENGTH})")
    try:
        node = ast.parse(source, mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise ConfigError(f"{field_name}: cannot parse {text!r}; expected name or name(key=value, ...)") from None
    if isinstance(node, ast.Name):
        return CallSpec(node.id.lower(), {})
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise ConfigError(f"{field_name}: cannot parse {text!r}; expected name or name(key=value, ...)")
    if node.args:
        raise ConfigError(f"{field_name}: {text!r} has positional arguments; write them as key=value")
    kwargs: dict[str, Any] = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise ConfigError(f"{field_name}: {text!r}: '**' is not allowed")
        kwargs[kw.arg] = _literal(kw.value, field_name, text, kw.arg)
    return CallSpec(node.func.id.lower(), kwargs)


def _literal(node: ast.AST, field_name: str, text: str, key: str) -> Any:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _literal(node.operand, field_name, text, key)
        if isinstance(inner, (int, float)) and not isinstance(inner, bool):
            return -inner if isinstance(node.op, ast.USub) else inner
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        num = _literal(node.left, field_name, text, key)
        den = _literal(node.right, field_name, text, key)
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (num, den)) and den != 0:
            return num / den  # allows fractions such as lower=1/8
    elif isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool, type(None))):
        return node.value
    raise ConfigError(f"{field_name}: {text!r}: value of {key!r} must be a number, string or boolean literal")


def check_kwargs(spec: CallSpec, allowed: Mapping[str, Any], field_name: str) -> dict[str, Any]:
    """Merge ``spec.kwargs`` over the defaults in ``allowed``; reject unknown keys.

    Numeric defaults coerce numeric values to float (ints stay ints when the
    default is an int).
    """
    unknown = sorted(set(spec.kwargs) - set(allowed))
    if unknown:
        valid = ", ".join(sorted(allowed)) or "none"
        raise ConfigError(f"{field_name}: {spec.name} has no parameter {unknown[0]!r} (valid: {valid})")
    out = dict(allowed)
    for key, value in spec.kwargs.items():
        default = allowed[key]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{field_name}: {spec.name}({key}=...) must be True or False, got {value!r}")
        elif isinstance(default, (int, float)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{field_name}: {spec.name}({key}=...) must be a number, got {value!r}")
            try:
                value = float(value) if isinstance(default, float) else value
            except OverflowError:
                raise ConfigError(f"{field_name}: {spec.name}({key}=...) is too large") from None
        out[key] = value
    return out
