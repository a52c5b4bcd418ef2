"""The local executor against running the same runs one after another in one default-threaded process.

    python benchmarks/local_executor.py            # 12 runs of ≥ 30 s each (≈ 10 min)
    python benchmarks/local_executor.py --quick    # 12 short runs: a smoke check of the script (≈ 1 min)

A = ``vanishing.run`` on each of the 12 configs in turn, in one process with
torch's default threads (what a user's loop over configs does);
B = ``vanishing sweep FILE`` with the local executor's defaults (one
single-threaded worker process per core). The 12 runs differ in config
(width × activation × learning rate, one seed), so no seed batching is
involved: this measures processes vs threads (SPEC §9, §13). Each side runs
in a fresh subprocess with its own results root; A and B alternate for
``--repeats`` pairs and the figure is the median of the per-pair ratios
time(A) / time(B) (> 1: the sweep is faster).

Run lengths: one epoch of the largest config is timed first (one thread)
and the epoch count set so that each run lasts at least ``--run-seconds``
(30 s by default) in the sequential baseline.

Run it alone: the ratio is about how the machine's cores are shared.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WIDTHS = (128, 256, 384)
ACTIVATIONS = ("relu", "tanh")
LRS = (1e-3, 3e-3)


def sweep_toml(epochs: int, train_subset: int | None) -> str:
    subset = f"train_subset = {train_subset}\n" if train_subset else ""
    return f"""
name = "local-executor-benchmark"
seeds = [0]
[data]
dataset = "mnist-sample"
{subset}
[model]
hidden = [256, 256]
[train]
epochs = {epochs}
batch_size = 128
[probes]
enabled = ["none"]
[grid]
"model.hidden" = {[[w, w] for w in WIDTHS]}
"model.activation" = {list(ACTIVATIONS)}
"optim.lr" = {list(LRS)}
"""


def calibrate(run_seconds: float, train_subset: int | None) -> int:
    """Epochs such that the largest run lasts ≥ run_seconds (timed on one thread, so the default-threaded runs are at least as long)."""
    import torch

    from vanishing.config import ExecConfig, RunConfig, resolve, with_overrides
    from vanishing.runner import load_run_data
    from vanishing.train import fit

    default_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    cfg = resolve(with_overrides(RunConfig(), {
        "data.dataset": "mnist-sample", "data.train_subset": train_subset, "model.hidden": [max(WIDTHS)] * 2,
        "train.epochs": 3, "probes.enabled": ["none"],
    }))
    data = load_run_data(cfg, ExecConfig())
    out = fit(cfg, data, exec_config=ExecConfig(progress=False))
    torch.set_num_threads(default_threads)
    per_epoch = min(h["epoch_time_s"] + h["eval_time_s"] for h in out.history)  # the fastest epoch: a busy machine only lengthens runs
    return max(1, math.ceil(run_seconds / per_epoch))


def sequential(sweep_file: str, root: str) -> None:
    """Side A, in its own process: every run of the sweep in turn, torch's default threads."""
    from vanishing.config import ExecConfig
    from vanishing.runner import run
    from vanishing.sweep import expand, load_sweep

    for r in expand(load_sweep(sweep_file)):
        result = run(r.config, ExecConfig(results=root, progress=False))
        assert result.status == "done", result.status


def timed(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="short runs (a smoke check of this script, not a measurement)")
    p.add_argument("--run-seconds", type=float, default=30.0, help="minimum length of each run (default 30)")
    p.add_argument("--repeats", type=int, default=1, help="A/B pairs (default 1; each pair takes ≈ 10 min)")
    p.add_argument("--workers", type=int, help="sweep workers (default: the executor's, one per core)")
    p.add_argument("--sequential", nargs=2, metavar=("FILE", "ROOT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.sequential:
        sequential(*args.sequential)
        return 0

    import torch

    default_threads = torch.get_num_threads()
    train_subset = 1500 if args.quick else None
    epochs = 1 if args.quick else calibrate(args.run_seconds, train_subset)
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}  # A: torch's defaults
    env["CI"] = "1"
    from vanishing.sweep.local import default_workers

    workers = args.workers or default_workers()
    print(f"torch {torch.__version__}; {len(WIDTHS) * len(ACTIVATIONS) * len(LRS)} runs × {epochs} epochs "
          f"({'quick smoke check' if args.quick else f'each ≥ {args.run_seconds:g} s'}); "
          f"A = one process, default threads ({default_threads}); B = local executor, {workers} worker(s) × 1 thread")
    ratios = []
    with tempfile.TemporaryDirectory(prefix="vanishing-bench-") as tmp:
        sweep_file = Path(tmp) / "sweep.toml"
        sweep_file.write_text(sweep_toml(epochs, train_subset))
        for r in range(args.repeats):
            order = ("A", "B") if r % 2 == 0 else ("B", "A")
            t = {}
            for side in order:
                root = str(Path(tmp) / f"{side}{r}")
                if side == "A":
                    cmd = [sys.executable, __file__, "--sequential", str(sweep_file), root]
                else:
                    cmd = [sys.executable, "-m", "vanishing", "sweep", str(sweep_file), "--results", root, "--quiet",
                           "--workers", str(workers)]
                t[side] = timed(cmd, env)
            ratios.append(t["A"] / t["B"])
            print(f"pair {r + 1}: sequential {t['A']:.1f} s, local executor {t['B']:.1f} s, ratio ×{ratios[-1]:.2f}", flush=True)
    print(f"local executor speed-up: ×{statistics.median(ratios):.2f} (median of {len(ratios)} pair(s); target ≥ 1.3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
