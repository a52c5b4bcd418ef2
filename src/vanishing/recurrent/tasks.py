"""Long-range sequence tasks, generated in-package and seeded, with labels correct by construction.

Both tasks put the information the answer needs at the *start* of the
sequence and ask for the answer at the *end*, so the error signal has to
travel back over ~T time steps — the setting of Hochreiter's analysis (1991;
1998) and of the LSTM paper's experiments (Hochreiter & Schmidhuber 1997).

``adding`` (Hochreiter & Schmidhuber 1997, §5.4; the variant of Le et al. 2015)
    x_t = (u_t, m_t) with u_t ~ U(0, 1) and exactly two markers m_t = 1: one at
    a uniformly drawn step of the first half, one in the second half. The
    target, read at the last step, is y = Σ_t u_t m_t ∈ (0, 2). Loss: squared
    error. A net that ignores the markers predicts E[y] = 1 with mean squared
    error Var(y) = 2 · 1/12 = 1/6; the error rate counts sequences with
    |ŷ − y| ≥ 0.04, the 1997 paper's criterion (≈ 92.2% for the constant
    prediction 1).

``copy`` (the copy-memory task of Hochreiter & Schmidhuber 1997 §5.2 in the
    form of Arjovsky et al. 2016)
    One-hot inputs over K symbols + blank + cue (K + 2 channels). Steps
    1…S carry S symbols drawn uniformly from the K; then blanks; the cue at
    step T − S; the last S steps are blank and the net must output the S
    symbols in order there. Loss: mean cross-entropy over the S recall steps;
    error: % of recalled symbols that are wrong (chance 1 − 1/K). The lag
    between a symbol and its recall is T − S steps.

Randomness: every set comes from its own ``torch.Generator`` seeded by
:func:`stream_seed` (SHA-256 of task, length, split and seed), so a given
(task, length, split, seed) always gives the same sequences, on any machine
and in any process, and the train / test / probe streams never overlap by
construction of the seed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F

ADDING_TOLERANCE = 0.04  # Hochreiter & Schmidhuber 1997: correct when |ŷ − y| < 0.04
ADDING_BASELINE_MSE = 1.0 / 6.0  # Var(u₁ + u₂) for two independent U(0, 1)


@dataclass(frozen=True)
class Task:
    """What a model needs to know about a task: channels, outputs, loss and error."""

    name: str
    length: int
    symbols: int = 3  # copy only
    categories: int = 8  # copy only

    @property
    def input_size(self) -> int:
        return 2 if self.name == "adding" else self.categories + 2

    @property
    def output_size(self) -> int:
        """Units of the readout at each answered step."""
        return 1 if self.name == "adding" else self.categories

    @property
    def readout_steps(self) -> int:
        """How many final steps carry an output (the loss acts there only)."""
        return 1 if self.name == "adding" else self.symbols

    def loss(self, out: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        """Squared error (adding; ``out`` (n,)) or cross-entropy over the recall steps (copy; ``out`` (n, S, K))."""
        if self.name == "adding":
            per = (out - y) ** 2
        else:
            per = F.cross_entropy(out.transpose(1, 2), y, reduction="none").mean(dim=1)
        return per.mean() if reduction == "mean" else per.sum() if reduction == "sum" else per

    def error(self, out: torch.Tensor, y: torch.Tensor) -> float:
        """Fraction wrong: sequences with |ŷ − y| ≥ 0.04 (adding), recalled symbols (copy)."""
        if self.name == "adding":
            return float(((out - y).abs() >= ADDING_TOLERANCE).double().mean())
        return float((out.argmax(dim=-1) != y).double().mean())

    @property
    def chance_error(self) -> float:
        """Error of the best input-blind answer: constant 1 (adding), any one symbol (copy)."""
        if self.name == "adding":
            return (1.0 - ADDING_TOLERANCE) ** 2  # P(|u₁ + u₂ − 1| ≥ 0.04) for the triangular density of u₁ + u₂
        return 1.0 - 1.0 / self.categories

    @property
    def chance_loss(self) -> float:
        """Loss of the best input-blind answer: Var(y) = 1/6 (adding), ln K (copy)."""
        if self.name == "adding":
            return ADDING_BASELINE_MSE
        import math

        return math.log(self.categories)


def stream_seed(task: Task, split: str, seed: int) -> int:
    """A 63-bit seed for one (task, length, split, run seed) stream, stable across processes and machines."""
    text = f"{task.name}|T={task.length}|S={task.symbols}|K={task.categories}|{split}|{seed}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def adding(n: int, length: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` adding-problem sequences: x (n, T, 2) float32, y (n,) float32."""
    if length < 2:
        raise ValueError(f"adding: length must be >= 2, got {length}")
    u = torch.rand(n, length, generator=generator, dtype=torch.float64)
    half = length // 2
    first = torch.randint(0, half, (n,), generator=generator)
    second = torch.randint(half, length, (n,), generator=generator)
    m = torch.zeros(n, length, dtype=torch.float64)
    rows = torch.arange(n)
    m[rows, first] = 1.0
    m[rows, second] = 1.0
    y = u[rows, first] + u[rows, second]
    x = torch.stack([u, m], dim=2)
    return x.float(), y.float()


def copy(n: int, length: int, symbols: int, categories: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` copy-memory sequences: x (n, T, K + 2) one-hot float32, y (n, S) int64 symbol indices.

    Channels 0…K−1 are the symbols, K the blank, K + 1 the cue.
    """
    if length < 2 * symbols + 1:
        raise ValueError(f"copy: length must be >= 2·symbols + 1 = {2 * symbols + 1}, got {length}")
    y = torch.randint(0, categories, (n, symbols), generator=generator)
    codes = torch.full((n, length), categories, dtype=torch.long)  # blank everywhere
    codes[:, :symbols] = y
    codes[:, length - symbols - 1] = categories + 1  # the cue, right before the recall steps
    x = F.one_hot(codes, categories + 2).float()
    return x, y


def generate(task: Task, n: int, split: str, seed: int, batch: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The sequences of one stream: ``split`` = "test", "probe" (fixed sets) or "train" (``batch`` = step index).

    Deterministic in (task, n, split, seed, batch).
    """
    key = split if split != "train" else f"train-{batch}"
    g = torch.Generator().manual_seed(stream_seed(task, key, seed))
    if task.name == "adding":
        return adding(n, task.length, g)
    if task.name == "copy":
        return copy(n, task.length, task.symbols, task.categories, g)
    raise ValueError(f"unknown task {task.name!r} (valid: adding, copy)")
