"""One recurrent run: a frozen dataclass with every field that affects its numbers.

The MLP's :class:`vanishing.config.RunConfig` describes feed-forward nets on a
data set; a recurrent run instead trains a cell on sequences that a generator
makes on the fly, so it gets its own config. As in the store, a run is keyed
by ``<first 12 hex digits of the config hash>-s<seed>``; the hash covers every
field but the seed, in canonical JSON.

Example::

    cfg = RecurrentConfig(task="adding", length=100, cell="lstm", steps=2000, seed=1)
    cfg.run_id            # 'a3f…-s1'
    RecurrentConfig.from_dict(cfg.to_dict()) == cfg
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from .. import init as inits
from ..errors import ConfigError

CELLS: tuple[str, ...] = ("rnn_tanh", "rnn_sigmoid", "rnn_relu", "lstm", "gru")
TASKS: tuple[str, ...] = ("adding", "copy")
OPTIMIZERS: tuple[str, ...] = ("adam", "sgd", "rmsprop")
LENGTHS: tuple[int, ...] = (10, 25, 50, 100, 200)  # the sequence lengths of the temporal study


@dataclass(frozen=True)
class RecurrentConfig:
    task: str = "adding"  # adding | copy (vanishing.recurrent.tasks)
    length: int = 50  # T, the number of time steps of every sequence
    symbols: int = 3  # copy: how many symbols to remember (S); ignored by adding
    categories: int = 8  # copy: alphabet size (K); ignored by adding
    cell: str = "rnn_tanh"  # rnn_tanh | rnn_sigmoid | rnn_relu (Elman) | lstm | gru
    hidden: int = 64  # units of the recurrent state h (and of the LSTM cell c)
    init: str = "xavier_uniform"  # input-to-hidden weights, per gate block (vanishing.init schemes)
    recurrent_init: str = "orthogonal"  # hidden-to-hidden weights, per gate block: orthogonal(gain=…), torch_default, …
    bias_init: str = "zeros"  # both bias vectors (vanishing.init bias schemes)
    forget_bias: float = 1.0  # lstm: the forget gate's bias b_f (Gers et al. 2000; Jozefowicz et al. 2015); 0 = torch
    optimizer: str = "adam"  # adam | sgd | rmsprop (torch.optim defaults apart from lr)
    lr: float = 1e-3
    batch_size: int = 32  # fresh sequences per step (the generator never repeats a batch)
    steps: int = 2000  # optimizer steps (0: untrained — evaluation and probes at init only)
    clip_norm: float | None = 1.0  # clip the global gradient norm to this value; None = no clipping
    evals: int = 10  # evaluation + probe points after init, evenly spaced over the steps
    eval_size: int = 1000  # held-out test sequences
    probe_size: int = 200  # sequences of the time-step gradient probe (float64)
    seed: int = 0  # model init, training batches and the test/probe sets

    def __post_init__(self) -> None:
        check(self)

    # -- identity
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RecurrentConfig":
        """Build from a mapping; an unknown key is a :class:`ConfigError` naming the valid ones."""
        names = [f.name for f in fields(cls)]
        unknown = [k for k in data if k not in names]
        if unknown:
            raise ConfigError(f"recurrent config: unknown field {unknown[0]!r} (valid: {', '.join(names)})")
        return cls(**dict(data))

    @property
    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON of every field except the seed."""
        body = self.to_dict()
        body.pop("seed")
        return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    @property
    def run_id(self) -> str:
        return f"{self.config_hash[:12]}-s{self.seed}"

    @property
    def eval_steps(self) -> list[int]:
        """The optimizer steps after which the run is evaluated and probed: 0 (init), then ``evals`` evenly spaced."""
        n = min(self.evals, self.steps)
        return sorted({0, *(round(self.steps * i / n) for i in range(1, n + 1))})

    @property
    def label(self) -> str:
        """Short name of the model variant, e.g. ``lstm``, ``lstm(b_f=0)``, ``rnn_tanh[torch_default]``."""
        text = self.cell
        if self.cell == "lstm" and self.forget_bias != 1.0:
            text += f"(b_f={self.forget_bias:g})"
        if self.recurrent_init != "orthogonal(gain=1.0)":
            text += f"[{self.recurrent_init.replace('(gain=', '(').replace('.0)', ')')}]"
        return text


def _positive_int(cfg: RecurrentConfig, name: str, minimum: int = 1) -> None:
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"recurrent.{name}: expected an integer >= {minimum}, got {value!r}")


def check(cfg: RecurrentConfig) -> None:
    """Validate every field (one :class:`ConfigError` naming the field) and canonicalise the init names."""
    if cfg.task not in TASKS:
        raise ConfigError(f"recurrent.task: unknown task {cfg.task!r} (valid: {', '.join(TASKS)})")
    if cfg.cell not in CELLS:
        raise ConfigError(f"recurrent.cell: unknown cell {cfg.cell!r} (valid: {', '.join(CELLS)})")
    if cfg.optimizer not in OPTIMIZERS:
        raise ConfigError(f"recurrent.optimizer: unknown optimizer {cfg.optimizer!r} (valid: {', '.join(OPTIMIZERS)})")
    for name in ("hidden", "batch_size", "evals", "eval_size", "probe_size", "categories", "symbols"):
        _positive_int(cfg, name)
    _positive_int(cfg, "steps", 0)  # 0: an untrained run (evaluation and probes at init only)
    _positive_int(cfg, "length", 2)
    if cfg.task == "copy":
        if cfg.categories < 2:
            raise ConfigError(f"recurrent.categories: the copy task needs at least 2 symbols, got {cfg.categories}")
        if cfg.length < 2 * cfg.symbols + 1:
            raise ConfigError(f"recurrent.length: the copy task with {cfg.symbols} symbols needs length >= "
                              f"{2 * cfg.symbols + 1} (symbols, cue, recall), got {cfg.length}")
    if isinstance(cfg.seed, bool) or not isinstance(cfg.seed, int) or cfg.seed < 0:
        raise ConfigError(f"recurrent.seed: expected an integer >= 0, got {cfg.seed!r}")
    for name in ("lr", "forget_bias"):
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"recurrent.{name}: expected a finite number, got {value!r}")
        object.__setattr__(cfg, name, float(value))
    if cfg.lr <= 0:
        raise ConfigError(f"recurrent.lr: expected a positive number, got {cfg.lr!r}")
    if cfg.clip_norm is not None:
        if isinstance(cfg.clip_norm, bool) or not isinstance(cfg.clip_norm, (int, float)) or not cfg.clip_norm > 0:
            raise ConfigError(f"recurrent.clip_norm: expected a positive number or None, got {cfg.clip_norm!r}")
        object.__setattr__(cfg, "clip_norm", float(cfg.clip_norm))
    object.__setattr__(cfg, "init", inits.canonical_weight_init(cfg.init, "recurrent.init"))
    object.__setattr__(cfg, "recurrent_init", inits.canonical_weight_init(cfg.recurrent_init, "recurrent.recurrent_init"))
    object.__setattr__(cfg, "bias_init", inits.canonical_bias_init(cfg.bias_init, "recurrent.bias_init"))
