"""SDAGD step cost as a ratio to an SGD step (issue 4 target: lecun ≤ 2.5× SGD).

Configuration: 784 → 700×3 → 10 MLP, sigmoid hidden units, mse loss with
sigmoid outputs (Tan & Lim's setting), batch 100, float32, random MNIST-shaped
data. One *step* is what the training engine does per mini-batch:

* SGD:   forward → loss → backward → ``torch.optim.SGD.step()``.
* SDAGD: forward keeping the intermediates (``forward_with_intermediates``
  with ``retain_grad`` on each pre-activation, as the engine does for an
  optimizer with ``needs_intermediates``) → loss → backward →
  ``SDAGD.prepare`` (the curvature) → ``SDAGD.step()``.

Method (SPEC §13): A/B interleaved — each repeat times a block of SGD steps
and a block of SDAGD steps back to back (the order alternating between
repeats) — and the figure is the median over repeats of the per-pair ratio.
Run it alone on the machine; it sets one torch thread unless told otherwise.

    python benchmarks/sdagd_step.py                 # lecun and ggn, 1 thread
    python benchmarks/sdagd_step.py --threads 2 --repeats 30
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time

import torch

from vanishing.losses import make_loss
from vanishing.model import MLP
from vanishing.optim import SDAGD
from vanishing.train import StepInfo


def build(seed: int = 0) -> MLP:
    torch.manual_seed(seed)
    return MLP(784, [700, 700, 700], 10, activation="sigmoid", output="sigmoid")


def sgd_step(model, opt, loss_fn, x, y) -> None:
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()


def sdagd_step(model, opt, loss_fn, x, y) -> None:
    opt.zero_grad(set_to_none=True)
    z, pre, post = model.forward_with_intermediates(x)
    for a in pre:
        a.retain_grad()
    loss = loss_fn(z, y)
    loss.backward()
    opt.prepare(model, StepInfo(1, 0, x, y, z, loss, pre, post), loss_fn)
    opt.step()


def timed(fn, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=15, help="A/B pairs per backend")
    parser.add_argument("--steps", type=int, default=10, help="steps per timed block")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--backends", default="lecun,ggn")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    g = torch.Generator().manual_seed(0)
    x = torch.rand(args.batch, 784, generator=g)
    y = torch.randint(0, 10, (args.batch,), generator=g)
    loss_fn = make_loss("mse", "sigmoid", 10)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"784 → 700×3 → 10 sigmoid, mse/sigmoid, batch {args.batch}, float32, {args.threads} thread(s), "
          f"torch {torch.__version__}; load average before: {load:.2f}")

    sgd_model = build()
    sgd = torch.optim.SGD(sgd_model.parameters(), lr=1e-3)
    for backend in args.backends.split(","):
        model = build()
        opt = SDAGD(model.parameters(), lr=1e-3, curvature=backend)
        a = functools.partial(sgd_step, sgd_model, sgd, loss_fn, x, y)
        b = functools.partial(sdagd_step, model, opt, loss_fn, x, y)
        for _ in range(3):  # warm-up
            a(), b()
        ratios, ta, tb = [], [], []
        for r in range(args.repeats):
            if r % 2 == 0:
                t_a, t_b = timed(a, args.steps), timed(b, args.steps)
            else:
                t_b, t_a = timed(b, args.steps), timed(a, args.steps)
            ta.append(t_a)
            tb.append(t_b)
            ratios.append(t_b / t_a)
        q = statistics.quantiles(ratios, n=4)
        print(f"sdagd({backend}): step {1e3 * statistics.median(tb):.2f} ms vs sgd {1e3 * statistics.median(ta):.2f} ms; "
              f"ratio median {statistics.median(ratios):.2f}× (IQR {q[0]:.2f}–{q[2]:.2f}, {args.repeats} pairs)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average after: {load:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
