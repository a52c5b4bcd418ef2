"""Our engine with 1 vs 2 torch threads, per configuration of benchmarks/run.py.

    python benchmarks/threads.py [--configs robinson,tan,pretorius] [--repeats 3] [--samples 30000]

Each measurement is a fresh subprocess that trains ``--samples`` MNIST
examples for 2 epochs with ``vanishing.train.fit`` (probes off) at the given
thread count and reports its faster epoch (``epoch_time_s``: training only).
1-thread and 2-thread runs alternate (1 2, 2 1, …) for ``--repeats`` pairs;
printed: the epoch times and the median over pairs of time(1 thread) /
time(2 threads) (> 1: two threads are faster). This is the measurement behind
the engine's thread policy (docs/performance.md). Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[4])
import torch
from run import CONFIGS
from vanishing.config import ExecConfig, RunConfig, resolve, with_overrides
from vanishing.runner import load_run_data
from vanishing.train import fit

name, threads, samples = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cfg = CONFIGS[name]
config = resolve(with_overrides(RunConfig(), {
    "data.dataset": "mnist", "data.val_fraction": 0.0, "data.train_subset": samples,
    "model.hidden": cfg["hidden"], "model.activation": cfg["activation"], "model.init": cfg["init"],
    "model.batch_norm": cfg["batch_norm"], "model.output": cfg["output"], "optim.loss": cfg["loss"],
    "optim.optimizer": cfg["optimizer"], "optim.lr": cfg["lr"], "train.epochs": 2,
    "train.batch_size": cfg["batch"], "probes.enabled": ["none"],
}))
ex = ExecConfig(device="cpu", threads=threads)
out = fit(config, load_run_data(config, ex), exec_config=ex)
print(json.dumps(min(h["epoch_time_s"] for h in out.history)))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="robinson,tan,pretorius")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=30000)
    args = parser.parse_args()
    here = str(Path(__file__).resolve().parent)
    import torch

    print(f"torch {torch.__version__}; {args.samples} MNIST examples, best of 2 epochs per run, {args.repeats} pairs")
    for name in args.configs.split(","):
        times: dict[int, list[float]] = {1: [], 2: []}
        for rep in range(args.repeats):
            for threads in ((1, 2) if rep % 2 == 0 else (2, 1)):
                out = subprocess.run([sys.executable, "-c", CHILD, name, str(threads), str(args.samples), here],
                                     capture_output=True, text=True)
                if out.returncode:
                    print(out.stderr[-2000:], file=sys.stderr)
                    return 1
                times[threads].append(json.loads(out.stdout.strip().splitlines()[-1]))
        ratio = statistics.median(a / b for a, b in zip(times[1], times[2]))
        print(f"{name:10s} 1 thread {statistics.median(times[1]):6.2f} s, 2 threads {statistics.median(times[2]):6.2f} s"
              f" per epoch; 2 threads ×{ratio:.2f} faster (runs: {times[1]} vs {times[2]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
