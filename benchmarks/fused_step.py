"""The fused explicit step against the autograd step, per training step, in one process.

    python benchmarks/fused_step.py                  # robinson, tan, pretorius; 2 threads (torch's default)
    python benchmarks/fused_step.py --configs tan --repeats 11 --steps 100

Both sides are what :func:`vanishing.train.fit` runs per mini-batch, on the
same model, optimizer and (random, MNIST-shaped) batch, with the allocator
tuned as ``fit`` tunes it (:mod:`vanishing.allocator`):

* **autograd** (``--engine autograd``): ``zero_grad`` → forward → loss →
  ``backward()`` → ``optimizer.step()``;
* **fused** (the default engine): :class:`vanishing.fused_step.FusedMLPStep`
  — plain SGD folded into the weight-gradient GEMM; Adam through
  :func:`vanishing.optim.direct_step.direct_step`.

Method (SPEC §13): blocks of ``--steps`` steps of each side alternate
(A B, B A, …) ``--repeats`` times after a warm-up; the figure is the median
of the per-pair ratios time(autograd) / time(fused). In one process, so the
minute-to-minute drift of the machine hits both sides of a pair alike. Run it
alone on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import CONFIGS  # noqa: E402  (the configurations of the throughput suite)

from vanishing import fused_step, losses  # noqa: E402
from vanishing.allocator import tune_allocator  # noqa: E402
from vanishing.config import ModelConfig  # noqa: E402
from vanishing.model import build_model  # noqa: E402
from vanishing.optim import build_optimizer  # noqa: E402
from vanishing.optim.direct_step import direct_step  # noqa: E402


def setup(name: str):
    """(model, optimizer, loss, x, y) of a run.py config: as fit builds them, on one random MNIST-shaped batch."""
    cfg = CONFIGS[name]
    model = build_model(ModelConfig(hidden=cfg["hidden"], activation=cfg["activation"], init=cfg["init"],
                                    output=cfg["output"]), 784, 10, 0)
    optimizer = build_optimizer(model.parameters(), cfg["optimizer"], cfg["lr"])
    loss_fn = losses.make_loss(cfg["loss"], cfg["output"], 10)
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(cfg["batch"], 784, generator=g) > 0.8).float() * torch.rand(cfg["batch"], 784, generator=g)
    y = torch.randint(0, 10, (cfg["batch"],), generator=g)
    return model, optimizer, loss_fn, x, y


def measure(name: str, steps: int, repeats: int) -> dict:
    cfg = CONFIGS[name]
    model, optimizer, loss_fn, x, y = setup(name)
    fused = fused_step.FusedMLPStep(model, loss_fn, cfg["batch"])
    inline = cfg["lr"] if fused_step.inline_sgd_applies(optimizer) else None

    def fused_block() -> None:
        for _ in range(steps):
            fused.step(x, y, inline)
            if inline is None and not direct_step(optimizer):
                optimizer.step()

    def autograd_block() -> None:
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            optimizer.step()

    def timed(block) -> float:
        start = time.perf_counter()
        block()
        return (time.perf_counter() - start) / steps

    fused_block(), autograd_block()  # warm-up
    times: dict[str, list[float]] = {"fused": [], "autograd": []}
    for r in range(repeats):
        order = ("fused", "autograd") if r % 2 == 0 else ("autograd", "fused")
        for side in order:
            times[side].append(timed(fused_block if side == "fused" else autograd_block))
    ratios = [a / f for a, f in zip(times["autograd"], times["fused"])]
    return {"fused_ms": 1e3 * statistics.median(times["fused"]), "autograd_ms": 1e3 * statistics.median(times["autograd"]),
            "ratio": statistics.median(ratios), "ratios": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="robinson,tan,pretorius", help="comma-separated subset of run.py's configs "
                        "without batch norm (default robinson,tan,pretorius)")
    parser.add_argument("--steps", type=int, default=60, help="steps per block (default 60)")
    parser.add_argument("--repeats", type=int, default=9, help="interleaved pairs of blocks (default 9)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    tune_allocator()  # as fit() does, for both sides
    names = [c.strip() for c in args.configs.split(",") if c.strip()]
    for name in names:
        if name not in CONFIGS or CONFIGS[name]["batch_norm"] != "off" or CONFIGS[name]["optimizer"] == "sdagd":
            parser.error(f"config {name!r}: expected one of robinson, tan, pretorius")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); {args.steps} steps per block, "
          f"median of {args.repeats} interleaved pairs")
    for name in names:
        r = measure(name, args.steps, args.repeats)
        print(f"{name:<10} fused {r['fused_ms']:6.2f} ms/step   autograd {r['autograd_ms']:6.2f} ms/step   "
              f"autograd / fused ×{r['ratio']:.2f}   (pairs {min(r['ratios']):.2f}–{max(r['ratios']):.2f})")


if __name__ == "__main__":
    main()
