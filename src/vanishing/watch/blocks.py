"""Depth judged across repeated blocks: a transformer's or ResNet's layers compared with their own kind.

Layer order is the wrong axis for a model made of repeated blocks. In a BERT
encoder layer the query/key projections get ~100× less δ than the value
projection beside them (the softmax's Jacobian at init is small), and the
attention output gets more than the feed-forward input after it: these are
parallel branches and roles, not depth. Reading them one after the other as
an MLP's layers gives "ratios" of 0.01 and 3,500 and a spurious *vanishing*
verdict, while each role's δ is flat from the first block to the last —
the residual stream carries the signal (He et al. 2016; Vaswani et al. 2017).

A layer's **role** is its module path with every purely numeric component
replaced by ``*`` (``encoder.layer.3.attention.self.query`` →
``encoder.layer.*.attention.self.query``; ``layer2.1.conv1`` →
``layer2.*.conv1``); its **block** is the tuple of those numbers. When at
least two roles each occur in at least two blocks (a stack of blocks with
more than one watched layer each), depth is judged per role, across blocks
in execution order:

    r_role,b = RMS δ(role, block b) / RMS δ(role, block b+1)

and the per-layer figure the thresholds expect is their geometric mean taken
to the power 1 / (watched layers per block), so that a block of k layers,
each shrinking δ by r, reads r — as the layer view would. ``first_to_last``
is the geometric mean over roles of RMS δ(role, first block) / RMS δ(role,
last block). A plain stack (``layers.0``, ``layers.1``, … or one role per
block) has a single role, and the layer order is already the block order:
then :func:`block_view` returns ``None`` and the layer view applies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


def role_of(name: str) -> tuple[str, tuple[int, ...]]:
    """``("encoder.layer.*.attention.self.query", (3,))`` for ``"encoder.layer.3.attention.self.query"``."""
    parts = name.split(".")
    index = tuple(int(p) for p in parts if p.isdigit())
    return ".".join("*" if p.isdigit() else p for p in parts), index


@dataclass
class BlockView:
    """Depth across repeated blocks (see the module docstring): per role, its layers' positions in block order."""

    roles: dict[str, list[int]]  # role → positions (in the layer list) of its applications, in execution order
    layers_per_block: float
    geometric_mean_ratio: float
    first_to_last: float
    ratios: dict[str, list[float]] = field(default_factory=dict)  # role → r_role,b over consecutive blocks

    @property
    def n_blocks(self) -> int:
        return max(len(p) for p in self.roles.values())

    def describe(self) -> str:
        return (f"judged across {self.n_blocks} repeated blocks, each role against itself "
                f"({len(self.roles)} roles, e.g. {next(iter(self.roles))})")

    def same_role_last(self, rms: np.ndarray) -> dict[int, float]:
        """Position → its RMS δ over that of the same role in the last block (the evidence of starved layers)."""
        out = {}
        for pos in self.roles.values():
            last = rms[pos[-1]]
            for p in pos:
                out[p] = float(rms[p] / last) if last > 0 else math.nan
        return out


def block_view(names: list[str], rms: np.ndarray) -> BlockView | None:
    """The block view of a layer list, or ``None`` when it is not a stack of repeated multi-layer blocks."""
    roles: dict[str, list[int]] = {}
    blocks: dict[str, list[tuple[int, ...]]] = {}
    for i, name in enumerate(names):
        if "@" in name:  # a shared module's applications: read through time, not as blocks
            continue
        role, index = role_of(name)
        if not index:
            continue
        roles.setdefault(role, []).append(i)
        blocks.setdefault(role, []).append(index)
    repeated = {r: pos for r, pos in roles.items() if len(set(blocks[r])) >= 2}
    if len(repeated) < 2:
        return None
    n_blocks = len({b for r in repeated for b in blocks[r]})
    per_block = sum(len(p) for p in repeated.values()) / n_blocks
    ratios: dict[str, list[float]] = {}
    logs, totals = [], []
    with np.errstate(divide="ignore", invalid="ignore"):
        for role, pos in repeated.items():
            v = np.asarray(rms, dtype=float)[pos]
            r = v[:-1] / v[1:]
            ratios[role] = [float(x) for x in r]
            logs.extend(np.log(r))
            totals.append(np.log(v[0] / v[-1]))
    logs, totals = np.asarray(logs), np.asarray(totals)
    if np.all(np.isfinite(logs)):
        gm = float(np.exp(np.mean(logs) / per_block))
    else:  # a zero or infinite δ somewhere: let the ratio say so
        gm = 0.0 if np.any(logs == -np.inf) and not np.any(logs == np.inf) else math.nan
    with np.errstate(invalid="ignore"):
        total = float(np.exp(np.mean(totals)))  # a zero δ in a first block: 0; −∞ and +∞ together: NaN
    return BlockView(repeated, per_block, gm, total, ratios)
