"""When a probe runs: schedules over a clock of steps or of epochs.

A schedule is a predicate ``i → bool`` (cockpit style) that can also list the
indices it selects in a range, so that a recorder can preallocate exactly
the rows it will fill. Two clocks are used:

* **steps** — global optimizer steps, counted from 1 (``StepInfo.step``);
  used by the per-step probes (``grad_norms``, ``backprop_signal_batch``,
  ``update_ratio``);
* **epochs** — the state *after* ``e`` finished epochs, with ``e = 0`` the
  untrained network at initialisation; used by the probe-set ("snapshot")
  probes.

Building blocks::

    every(n)              i ≡ 0 (mod n)                        every step: every(1)
    log_spaced(a, b, k)   round(geomspace(a, b, k)), deduplicated; always holds a and b
    at(i, j, ...)         exactly these indices                at init: at(0) (= at_init())
    never()               nothing
    s | t                 union

:func:`epoch_schedule` turns the config text of the ``epochs=`` option
(``'log'``, ``'all'``, ``'init'``, ``'last'``, ``'0,1,5'`` or a
comma-separated mix) into a schedule once the number of epochs is known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

from ..errors import ConfigError


class Schedule:
    """Base class: ``__call__(i)`` says whether index ``i`` is selected; ``select(lo, hi)`` lists them."""

    def __call__(self, i: int) -> bool:
        raise NotImplementedError

    def select(self, lo: int, hi: int) -> list[int]:
        """The selected indices in ``[lo, hi]`` (inclusive), ascending."""
        return [i for i in range(lo, hi + 1) if self(i)]

    def count(self, lo: int, hi: int) -> int:
        return len(self.select(lo, hi))

    def __or__(self, other: Schedule) -> Schedule:
        return Union((self, other))


@dataclass(frozen=True)
class Every(Schedule):
    """Every ``n``-th index: ``i % n == 0`` (with steps from 1, ``every(1)`` is every step)."""

    n: int

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"every(n): n must be >= 1, got {self.n}")

    def __call__(self, i: int) -> bool:
        return i % self.n == 0

    def select(self, lo: int, hi: int) -> list[int]:
        start = -(-lo // self.n) * self.n
        return list(range(start, hi + 1, self.n))

    def __repr__(self) -> str:
        return f"every({self.n})"


@dataclass(frozen=True)
class At(Schedule):
    """Exactly the given indices."""

    indices: frozenset[int]

    def __call__(self, i: int) -> bool:
        return i in self.indices

    def select(self, lo: int, hi: int) -> list[int]:
        return sorted(i for i in self.indices if lo <= i <= hi)

    def __repr__(self) -> str:
        return f"at({', '.join(str(i) for i in sorted(self.indices))})"


@dataclass(frozen=True)
class Union(Schedule):
    """Indices selected by any of ``parts``."""

    parts: tuple[Schedule, ...]

    def __call__(self, i: int) -> bool:
        return any(p(i) for p in self.parts)

    def select(self, lo: int, hi: int) -> list[int]:
        return sorted(set().union(*(p.select(lo, hi) for p in self.parts)))

    def __repr__(self) -> str:
        return " | ".join(repr(p) for p in self.parts)


def every(n: int) -> Every:
    """Every ``n``-th step (or epoch)."""
    return Every(int(n))


def at(*indices: int) -> At:
    """Exactly these indices, e.g. ``at(0, 10)`` = at init and after epoch 10."""
    return At(frozenset(int(i) for i in indices))


def at_init() -> At:
    """Only at epoch 0: the untrained network."""
    return at(0)


def never() -> At:
    return At(frozenset())


def log_spaced(a: int, b: int, k: int) -> At:
    """``k`` indices spaced evenly in log between ``a`` and ``b`` (≥ 1), rounded, duplicates dropped.

    ``log_spaced(1, 10, 5)`` → {1, 2, 3, 6, 10}; ``log_spaced(1, 1000, 4)`` →
    {1, 10, 100, 1000}. Both ends are always included (when k ≥ 2).
    """
    if a < 1 or b < a or k < 1:
        raise ValueError(f"log_spaced(a, b, k) needs 1 <= a <= b and k >= 1, got ({a}, {b}, {k})")
    if k == 1 or a == b:
        return at(b)
    la, lb = math.log(a), math.log(b)
    points = {int(round(math.exp(la + (lb - la) * j / (k - 1)))) for j in range(k)}
    return At(frozenset(min(max(p, a), b) for p in points) | {a, b})


def union(schedules: Iterable[Schedule]) -> Schedule:
    parts = tuple(schedules)
    return parts[0] if len(parts) == 1 else Union(parts)


# --------------------------------------------------------------------------- config text

EPOCH_WORDS = ("init", "last", "all", "log")


def check_epoch_text(text: str, field_name: str) -> str:
    """Validate the ``epochs=`` text of a snapshot probe and return it normalised (no spaces)."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{field_name}: epochs must be a text such as 'log', 'all', 'init,last' or '0,1,10', got {text!r}")
    tokens = [t.strip() for t in text.split(",")]
    for token in tokens:
        if token in EPOCH_WORDS:
            continue
        if token.isdigit():
            continue
        raise ConfigError(
            f"{field_name}: epochs token {token!r} is not valid (valid: {', '.join(EPOCH_WORDS)} or an epoch number >= 0)"
        )
    return ",".join(tokens)


def epoch_schedule(text: str, epochs: int, k: int = 5) -> Schedule:
    """The epoch schedule of the config text ``text`` for a run of ``epochs`` epochs.

    Tokens (comma-separated, combined by union): ``init`` = epoch 0 (the
    untrained net); ``last`` = epoch ``epochs``; ``all`` = 0, 1, …, epochs;
    ``log`` = 0 plus ``log_spaced(1, epochs, k)``; a number = that epoch
    (epochs beyond the run are ignored).
    """
    chosen: set[int] = set()
    for token in check_epoch_text(text, "epochs").split(","):
        if token == "init":
            chosen.add(0)
        elif token == "last":
            chosen.add(epochs)
        elif token == "all":
            chosen.update(range(epochs + 1))
        elif token == "log":
            chosen.add(0)
            chosen.update(log_spaced(1, epochs, k).indices)
        else:
            chosen.add(int(token))
    return At(frozenset(i for i in chosen if 0 <= i <= epochs))


def step_schedule(every_n: int, log_k: int, total_steps: int) -> Schedule:
    """The step schedule of a per-step probe: ``log_k`` log-spaced steps if > 0, else ``every(every_n)``."""
    if log_k > 0:
        return log_spaced(1, max(total_steps, 1), log_k)
    return every(every_n)
