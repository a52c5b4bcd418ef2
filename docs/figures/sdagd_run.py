"""Train Tan & Lim's deep sigmoid MLP with SDAGD, record its per-layer state, draw docs/figures/sdagd_run.png.

The run is the same as the command line (identical metrics: same config, seed
and threads)::

    vanishing run --dataset mnist --val-fraction 0 --hidden 700,700,700,700,700 \\
        --activation sigmoid --output sigmoid --loss mse --init xavier_normal \\
        --batch-size 100 --optimizer sdagd --radius 0.3 --schedule SCHEDULE \\
        --epochs N --probes none --threads 1

plus a callback that reads ``optimizer.stats`` (μ, phase, step length, median
h per layer) every ``--every`` steps. Writes ``<out>.png`` and ``<out>.csv``
(the per-step record) and prints the per-epoch table.

    python docs/figures/sdagd_run.py --epochs 12 \\
        --schedule "step(step_size=4, gamma=0.3)"
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from vanishing.config import ExecConfig, RunConfig, with_overrides
from vanishing.runner import run
from vanishing.train import Callback

HERE = Path(__file__).resolve().parent


class StatsRecorder(Callback):
    """Every ``every`` steps: one row per layer of ``optimizer.stats`` (this synchronises; fine on a CPU)."""

    def __init__(self, every: int):
        self.every = every
        self.rows: list[dict] = []

    def on_step_end(self, ctx, info) -> None:
        if info.step % self.every and info.step != 1:
            return
        stats = ctx.optimizer.stats
        for layer, values in stats.as_dict().items():
            self.rows.append({"step": info.step, "epoch": info.epoch + 1, "layer": layer, **values})


def config(radius: float, schedule: str, epochs: int, extra: str, seed: int) -> RunConfig:
    options = f"radius={radius}" + (f", {extra}" if extra else "")
    return with_overrides(
        RunConfig(),
        {
            "data.dataset": "mnist",
            "data.val_fraction": 0.0,
            "model.hidden": [700] * 5,
            "model.activation": "sigmoid",
            "model.output": "sigmoid",
            "model.init": "xavier_normal",
            "optim.loss": "mse",
            "optim.optimizer": f"sdagd({options})",
            "optim.schedule": schedule,
            "train.epochs": epochs,
            "train.batch_size": 100,
            "probes.enabled": ["none"],
            "seed": seed,
        },
    )


def figure(stats: pd.DataFrame, history: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharex=False)
    layers = list(dict.fromkeys(stats["layer"]))
    colors = plt.cm.viridis([i / max(len(layers) - 1, 1) for i in range(len(layers))])
    panels = [
        (axes[0, 0], "mu", "μ_l = ‖g_l‖ / R", True),
        (axes[0, 1], "phase", "phase: fraction of weights with h > μ", False),
        (axes[1, 0], "step_norm", "step length ‖Δθ_l‖", True),
    ]
    for ax, key, label, log in panels:
        for layer, color in zip(layers, colors):
            part = stats[stats["layer"] == layer]
            ax.plot(part["step"], part[key], color=color, lw=1, label=layer)
            if key == "mu":
                ax.plot(part["step"], part["median_h"], color=color, lw=1, ls=":")
        ax.set_ylabel(label + (" (dotted: median h)" if key == "mu" else ""))
        ax.set_xlabel("step")
        if log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0, 1].set_ylim(-0.02, 1.02)
    axes[0, 0].legend(fontsize=8, ncol=2)
    ax = axes[1, 1]
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, [100 * h["test_mcr"] for h in history], "o-", label="test MCR")
    ax.plot(epochs, [100 * (1 - h["train_acc"]) for h in history], "s--", label="train error (running)")
    ax.axhline(5.07, color="grey", ls=":", label="paper: 5.07%")
    ax.set_xlabel("epoch")
    ax.set_ylabel("misclassification (%)")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--radius", type=float, default=0.3)
    parser.add_argument("--schedule", default="constant")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--options", default="", help="more sdagd options, e.g. \"beta=0.9, curvature='ggn'\"")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--every", type=int, default=25, help="record the optimizer state every N steps")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--results", default="vanishing-results")
    parser.add_argument("--out", default=str(HERE / "sdagd_run"), help="output path without extension")
    args = parser.parse_args(argv)

    cfg = config(args.radius, args.schedule, args.epochs, args.options, args.seed)
    recorder = StatsRecorder(args.every)
    start = time.time()

    def on_epoch(m: dict) -> None:
        print(f"epoch {m['epoch']:>2}  train_loss {m['train_loss']:.4f}  test MCR {100 * m['test_mcr']:.2f}%  "
              f"lr {m['lr']:.4g}  {m['epoch_time_s']:.0f} s", flush=True)

    result = run(cfg, ExecConfig(device="cpu", threads=args.threads, results=args.results, progress=False),
                 callbacks=[recorder], on_epoch=on_epoch)
    print(f"{result.status}: run {result.run_id}, test MCR {100 * result.summary['test_mcr']:.2f}% "
          f"({result.summary['headline']}), wall {time.time() - start:.0f} s", flush=True)
    if result.already_done or not recorder.rows:
        print("already finished: no per-step record; remove the run directory to re-record", file=sys.stderr)
        return 0
    stats = pd.DataFrame(recorder.rows)
    out = Path(args.out)
    stats.to_csv(out.with_suffix(".csv"), index=False)
    title = (f"SDAGD (R = {args.radius}, schedule {args.schedule}{', ' + args.options if args.options else ''}) on "
             "784 → 700×5 → 10 sigmoid, ½(D − Y)², batch 100, MNIST")
    figure(stats, result.history, out.with_suffix(".png"), title)
    print(f"wrote {out.with_suffix('.png')} and {out.with_suffix('.csv')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
