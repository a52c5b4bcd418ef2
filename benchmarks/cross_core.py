"""What data moving between the two cores costs on this machine, round by round.

    python benchmarks/cross_core.py                  # 40 rounds of about half a second
    python benchmarks/cross_core.py --rounds 100

A diagnostic for the slow stretches of docs/performance.md (a run's step
switching between two speeds every few seconds on this machine). Each round
times, with torch's default threads (two here):

* **kept** — an 8 MB buffer scaled in place twice. ``at::parallel_for``
  hands each thread the same half both times, so no data changes core.
* **handed over** — the same buffer scaled once whole, then each half scaled
  on its own: every half is now split across both threads, so half of the
  data written by one core is next read by the other. Same bytes touched as
  *kept*.
* **Adam after the step** — one training step of the robinson net (784 →
  512×3 → 10, batch 32, :class:`vanishing.fused_step.FusedMLPStep`) followed by
  torch's fused Adam kernel on the net's parameters, which the step's GEMMs
  have just read and written (timed: the Adam call).
* **Adam on its own data** — the same step, then the same kernel on one
  tensor of as many numbers that only Adam ever touches.

and the same *kept* / *handed over* pair with one thread, where nothing
crosses. Printed: every round, then the medians and the number of rounds where
handing over cost more than 3× keeping. The two threads' partitions of a
GEMM (MKL's) and of an elementwise kernel (torch's halves) differ, so a
training step hands data from core to core; in the slow stretches seen here
(2026-11-23, the same two Adam calls in an earlier script) the call after the
step took ~2.1 ms against ~0.4 ms on its own data. Run it alone
on the machine; a stretch lasts seconds to minutes, so run enough rounds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fused_step import setup  # noqa: E402  (the benchmark configs' model, optimizer and batch)

from vanishing import fused_step  # noqa: E402
from vanishing.allocator import tune_allocator  # noqa: E402

N = 1 << 21  # 8 MB of float32


def _per_call_us(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def handoff_pair(buf: torch.Tensor, calls: int) -> tuple[float, float]:
    """(kept, handed over): µs per call of the two access patterns on ``buf``."""
    half = buf.numel() // 2

    def kept() -> None:
        buf.mul_(1.0000001)
        buf.mul_(0.9999999)

    def handed_over() -> None:
        buf.mul_(1.0000001)
        buf[:half].mul_(0.9999999)
        buf[half:].mul_(0.9999999)

    return _per_call_us(kept, calls), _per_call_us(handed_over, calls)


class AdamAfterStep:
    """One robinson training step, then torch's fused Adam on the net's parameters or on an untouched twin."""

    def __init__(self) -> None:
        model, self.adam, loss_fn, self.x, self.y = setup("robinson")  # as benchmarks/fused_step.py builds it
        self.step = fused_step.FusedMLPStep(model, loss_fn, len(self.x))
        twin = torch.zeros(sum(p.numel() for p in model.parameters()))  # as many numbers, one tensor
        twin.grad = torch.full_like(twin, 1e-3)
        self.adam_twin = torch.optim.Adam([twin], lr=1e-3, fused=True)
        for opt in (self.adam, self.adam_twin):
            self.step.step(self.x, self.y)
            opt.step()

    def adam_us(self, twin: bool, calls: int) -> float:
        opt = self.adam_twin if twin else self.adam
        total = 0.0
        for _ in range(calls):
            self.step.step(self.x, self.y)
            start = time.perf_counter()
            opt.step()
            total += time.perf_counter() - start
        return total / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description="What data moving between the cores costs, round by round.")
    parser.add_argument("--rounds", type=int, default=40, help="rounds (default 40)")
    parser.add_argument("--calls", type=int, default=100, help="calls per pattern per round (default 100)")
    args = parser.parse_args()
    if args.rounds < 1 or args.calls < 1:
        parser.error("--rounds and --calls must be at least 1")
    tune_allocator()
    threads = torch.get_num_threads()
    buf = torch.randn(N)
    adam = AdamAfterStep()
    rows = []
    print(f"torch {torch.__version__}, {threads} threads; µs per call")
    print(f"{'round':>5} {'kept':>7} {'handed':>7} {'ratio':>6} | {'Adam after step':>15} {'Adam own data':>13} | "
          f"{'1 thread: kept':>14} {'handed':>7}")
    for r in range(args.rounds):
        kept, handed = handoff_pair(buf, args.calls)
        after, own = adam.adam_us(False, args.calls // 2 or 1), adam.adam_us(True, args.calls // 2 or 1)
        torch.set_num_threads(1)
        kept1, handed1 = handoff_pair(buf, args.calls)
        torch.set_num_threads(threads)
        rows.append((kept, handed, after, own, kept1, handed1))
        print(f"{r + 1:>5} {kept:7.0f} {handed:7.0f} {handed / kept:6.1f} | {after:15.0f} {own:13.0f} | {kept1:14.0f} {handed1:7.0f}",
              flush=True)
    med = [statistics.median(col) for col in zip(*rows)]
    slow = sum(1 for row in rows if row[1] > 3 * row[0])
    print(f"\nmedian: kept {med[0]:.0f}, handed over {med[1]:.0f} (×{med[1] / med[0]:.1f}); "
          f"Adam after the step {med[2]:.0f}, on its own data {med[3]:.0f}; one thread: kept {med[4]:.0f}, handed over {med[5]:.0f}")
    print(f"rounds where handing over cost more than 3× keeping: {slow} of {len(rows)}")


if __name__ == "__main__":
    main()
