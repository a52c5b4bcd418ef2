"""Training throughput with and without the default probes, printed as a ratio.

Configuration (issue 3): MLP 784 → 700×3 → 10, ReLU, Adam, batch 100, on
MNIST (the full set from $VANISHING_DATA when present, else the bundled
sample — said in the output). Instrumented = the ``default`` probe preset
with every probe-set probe run after *every* epoch (stricter than the
preset's log-spaced epochs): grad_norms every step; activation_stats,
sparsity, dead_units, saturation and per-example backprop_signal on the
1,000-example probe set (100 per class) at init and after each epoch.

Method (SPEC §13): the same engine (``vanishing.train.fit``) runs the same
config with and without the probe callback, in interleaved pairs (A/B, then
B/A, …) after a warm-up. A run's time = its training loop (from the start of
each epoch's first step to the end of its last step, the per-step probe work
included) plus the probe callback's epoch-boundary hooks (probe-set
snapshots, the bulk transfer to the host, table assembly). Evaluation on the
validation/test sets is identical in both and is not timed. Printed:
samples/s of each and the median over pairs of
throughput(probes) / throughput(plain), by wall clock (the figure to quote,
measured on an otherwise idle machine) and by this process's CPU time (less
disturbed when other jobs share the cores). Target: ≥ 0.90.

Run alone (two torch processes on two cores slow each other down)::

    python benchmarks/probe_overhead.py [--pairs 5] [--epochs 1] [--threads N] [--preset LIST]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from vanishing.cli import split_top_level
from vanishing.config import ExecConfig, RunConfig, resolve, with_overrides
from vanishing.probes import ProbeCallback
from vanishing.runner import load_run_data
from vanishing.train import Callback, MemorySink, fit

PER_EPOCH = [
    "default",
    "activation_stats(epochs='all')",
    "sparsity(epochs='all')",
    "dead_units(epochs='all')",
    "saturation(epochs='all')",
    "backprop_signal(epochs='all')",
]


class Clock:
    """Accumulated wall and CPU seconds of the timed sections of one run."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0
        self._start = (0.0, 0.0)

    def start(self) -> None:
        self._start = (time.perf_counter(), time.process_time())

    def stop(self) -> None:
        self.wall += time.perf_counter() - self._start[0]
        self.cpu += time.process_time() - self._start[1]


class LoopStart(Callback):
    """First callback: starts the clock at an epoch's first step (wants_intermediates runs before the forward)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def on_fit_start(self, ctx, start_epoch):
        self.steps = ctx.steps_per_epoch

    def wants_intermediates(self, step):
        if (step - 1) % self.steps == 0:
            self.clock.start()
        return False


class LoopStop(Callback):
    """Last callback: stops the clock after an epoch's last step, after every other callback's step work."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def on_fit_start(self, ctx, start_epoch):
        self.steps = ctx.steps_per_epoch

    def on_step_end(self, ctx, info):
        if info.step % self.steps == 0:
            self.clock.stop()


class TimedProbes(ProbeCallback):
    """The probe callback, timing its epoch-boundary hooks (its per-step hooks are inside the loop clock)."""

    def __init__(self, *args, clock: Clock, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock

    def _timed(self, method, *args):
        self.clock.start()
        method(*args)
        self.clock.stop()

    def on_fit_start(self, ctx, start_epoch):
        self._timed(super().on_fit_start, ctx, start_epoch)

    def on_epoch_end(self, ctx, metrics):
        self._timed(super().on_epoch_end, ctx, metrics)

    def on_fit_end(self, ctx, status, summary):
        self._timed(super().on_fit_end, ctx, status, summary)


def default_dataset() -> tuple[str, str | None]:
    """(name, data_dir): full MNIST from $VANISHING_DATA (or ../shared/data beside the checkout) if present."""
    root = Path(os.environ.get("VANISHING_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "mnist"
    if any((root / f"train-images-idx3-ubyte{ext}").exists() for ext in ("", ".gz")):
        return "mnist", str(root)
    return "mnist-sample", None


def one_run(config, data, probes: list[str] | None) -> tuple[Clock, Clock, int]:
    """(training-loop clock, probe-boundary clock, samples trained) of one fit."""
    loop, boundary = Clock(), Clock()
    callbacks: list[Callback] = [LoopStart(loop)]
    if probes is not None:
        callbacks.append(TimedProbes(probes, MemorySink(), per_class=100, clock=boundary))
    callbacks.append(LoopStop(loop))
    out = fit(config, data, MemorySink(), callbacks=callbacks)
    return loop, boundary, len(data.x_train) * len(out.history)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="interleaved A/B pairs (default 5)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per run (default 1)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--dataset", default=None, help="mnist | mnist-sample (default: mnist when $VANISHING_DATA has it)")
    parser.add_argument("--preset", default=None, help="probe list instead of default-every-epoch, e.g. minimal or full")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dataset, data_dir = default_dataset()
    if args.dataset and args.dataset != dataset:
        dataset, data_dir = args.dataset, None
    config = resolve(
        with_overrides(
            RunConfig(),
            {
                "data.dataset": dataset,
                "model.hidden": [700, 700, 700],
                "train.batch_size": 100,
                "train.epochs": args.epochs,
                "probes.enabled": ["none"],  # the probes are passed to fit() explicitly below
            },
        )
    )
    data = load_run_data(config, ExecConfig(device="cpu", data_dir=data_dir))
    probes = split_top_level(args.preset) if args.preset else PER_EPOCH
    print(f"data: {data.source}")
    print(
        f"784 → 700×3 → 10, batch 100, {len(data.x_train):,} training examples, {args.epochs} epoch(s) per run, "
        f"{torch.get_num_threads()} thread(s); probes: {', '.join(probes)}"
    )
    one_run(config, data, None)  # warm-up (allocator, caches)
    one_run(config, data, probes)
    rows, snapshot_s = [], []
    for i in range(args.pairs):
        order = (None, probes) if i % 2 == 0 else (probes, None)
        rate: dict[tuple[str, bool], float] = {}
        for which in order:
            loop, boundary, samples = one_run(config, data, which)
            plain = which is None
            rate["wall", plain] = samples / (loop.wall + boundary.wall)
            rate["cpu", plain] = samples / (loop.cpu + boundary.cpu)
            if not plain:
                snapshot_s.append(boundary.wall)
        rows.append(rate)
        print(
            f"pair {i + 1}: wall plain {rate['wall', True]:,.0f} / probes {rate['wall', False]:,.0f} samples/s "
            f"(ratio {rate['wall', False] / rate['wall', True]:.3f}); CPU-time ratio {rate['cpu', False] / rate['cpu', True]:.3f}"
        )
    med = statistics.median
    for clock, label in (("wall", "wall clock"), ("cpu", "CPU time  ")):
        plain_rate = med([r[clock, True] for r in rows])
        probe_rate = med([r[clock, False] for r in rows])
        ratio = med([r[clock, False] / r[clock, True] for r in rows])
        print(
            f"{label}: plain {plain_rate:,.0f} samples/s, probes {probe_rate:,.0f} samples/s; "
            f"throughput ratio probes/plain {ratio:.3f} (median of {len(rows)} pairs; target >= 0.90)"
        )
    print(f"probe-set snapshots + transfer + tables: {med(snapshot_s):.2f} s per run (wall, median)")


if __name__ == "__main__":
    main()
