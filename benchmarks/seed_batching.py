"""Seed batching: one K-seed batch against K sequential runs of the same config.

    python benchmarks/seed_batching.py                      # the issue's case: 784 → 200×4 → 10, batch 128, Adam, K = 8
    python benchmarks/seed_batching.py --grid               # the width × K table behind the batching rule
    python benchmarks/seed_batching.py --width 800 --k 3 --repeats 3

Method (SPEC §13): both sides run the real engines — ``vanishing.train.fit``
once per seed (A) and ``vanishing.seedbatch.fit_batch`` once for all K seeds
(B) — on the same data (``mnist-sample``, 784 inputs, 10 classes), one torch
thread by default (as sweep workers run; ``--threads`` compares others), probes off, one epoch of ``--steps`` steps.
A and B alternate ``--repeats`` times (A B, B A, A B, …) and the figure is
the median of the per-pair ratios time(A) / time(B): > 1 means batching is
faster. Two times are reported: *train* (the engines' own ``epoch_time_s``,
training only — what the rule is decided on) and *wall* (whole calls,
including model construction and the epoch's evaluation).

Run it alone: another busy process on the machine distorts the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from vanishing.config import ExecConfig, RunConfig, resolve, with_overrides
from vanishing.runner import load_run_data
from vanishing.seedbatch import fit_batch
from vanishing.train import fit


def make_configs(width: int, depth: int, k: int, steps: int, batch: int, optimizer: str, batch_norm: str):
    base = resolve(with_overrides(RunConfig(), {
        "data.dataset": "mnist-sample",
        "data.val_fraction": 0.0,
        "data.train_subset": steps * batch,
        "model.hidden": [width] * depth,
        "model.batch_norm": batch_norm,
        "optim.optimizer": optimizer,
        "train.epochs": 1,
        "train.batch_size": batch,
        "probes.enabled": ["none"],
    }))
    return [resolve(with_overrides(base, {"seed": s})) for s in range(k)]


def time_sequential(configs, data, ex) -> tuple[float, float]:
    t0 = time.perf_counter()
    train = 0.0
    for c in configs:
        out = fit(c, data, exec_config=ex)
        train += sum(h["epoch_time_s"] for h in out.history)
    return train, time.perf_counter() - t0


def time_batched(configs, data, ex) -> tuple[float, float]:
    t0 = time.perf_counter()
    outs = fit_batch(configs, data, exec_config=ex)
    train = sum(h["epoch_time_s"] for o in outs for h in o.history)  # per-seed shares of the batch's time
    return train, time.perf_counter() - t0


def measure(width: int, depth: int, k: int, steps: int, batch: int, repeats: int, optimizer: str, batch_norm: str,
            threads: int = 1) -> dict:
    configs = make_configs(width, depth, k, steps, batch, optimizer, batch_norm)
    ex = ExecConfig(device="cpu", threads=threads, progress=False)
    data = load_run_data(configs[0], ex)
    time_batched(configs[:2], data, ex)  # warm-up (allocator, kernels)
    time_sequential(configs[:1], data, ex)
    train_ratios, wall_ratios = [], []
    seq_times, bat_times = [], []
    for r in range(repeats):
        order = ("A", "B") if r % 2 == 0 else ("B", "A")
        got = {}
        for side in order:
            got[side] = time_sequential(configs, data, ex) if side == "A" else time_batched(configs, data, ex)
        train_ratios.append(got["A"][0] / got["B"][0])
        wall_ratios.append(got["A"][1] / got["B"][1])
        seq_times.append(got["A"][0])
        bat_times.append(got["B"][0])
    return {
        "width": width, "depth": depth, "k": k, "steps": steps,
        "train_ratio": statistics.median(train_ratios),
        "wall_ratio": statistics.median(wall_ratios),
        "seq_train_s": statistics.median(seq_times),
        "batch_train_s": statistics.median(bat_times),
        "ratios": train_ratios,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--width", type=int, default=200)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--steps", type=int, default=40, help="training steps per run (one epoch)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--batch-norm", default="off")
    p.add_argument("--repeats", type=int, default=5, help="A/B pairs")
    p.add_argument("--threads", type=int, default=1, help="torch threads for both sides (default 1, as sweep workers)")
    p.add_argument("--grid", action="store_true", help="widths 64…800 × K 2, 3, 4, 8 (the rule's table)")
    p.add_argument("--widths", default="64,128,200,400,800")
    p.add_argument("--ks", default="2,3,4,8")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.optimizer}, batch {args.batch}, depth {args.depth}, {args.steps} steps/run; "
          f"ratio = time(K sequential) / time(one K-batch), median of {args.repeats} interleaved pairs")
    cases = (
        [(w, k) for w in (int(x) for x in args.widths.split(",")) for k in (int(x) for x in args.ks.split(","))]
        if args.grid else [(args.width, args.k)]
    )
    print(f"{'width':>6} {'K':>3} {'train ×':>8} {'wall ×':>7} {'seq s':>7} {'batch s':>8}  per-pair train ratios")
    for width, k in cases:
        m = measure(width, args.depth, k, args.steps, args.batch, args.repeats, args.optimizer, args.batch_norm, args.threads)
        pairs = " ".join(f"{r:.2f}" for r in m["ratios"])
        print(f"{width:>6} {k:>3} {m['train_ratio']:>8.2f} {m['wall_ratio']:>7.2f} {m['seq_train_s']:>7.2f} {m['batch_train_s']:>8.2f}  {pairs}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
