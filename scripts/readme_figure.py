"""Make docs/figures/readme.png: sigmoid vs ReLU, same net, same optimizer, on MNIST.

The configuration is the Keras-like setting of the Robinson study (SPEC §10):
784 → 128×3 → 10, Glorot-uniform init, zero bias, plain SGD lr 0.01, batch
32, pixels / 255, the test set as validation. Run from the repository root:

    VANISHING_DATA=../shared/data python scripts/readme_figure.py [--epochs 5] [--results DIR]

It trains (or reuses, if already in DIR) the two runs through the public API
and draws the figure from ``vanishing.load`` — the same tables a user gets.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import vanishing  # noqa: E402
from vanishing.config import RunConfig, with_overrides  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--results", default="vanishing-results/readme-figure")
    parser.add_argument("--out", default=str(ROOT / "docs" / "figures" / "readme.png"))
    args = parser.parse_args()

    base = {
        "data.dataset": "mnist",
        "data.val_fraction": 0.0,
        "model.hidden": [128, 128, 128],
        "model.init": "xavier_uniform",
        "optim.optimizer": "sgd",
        "optim.lr": 0.01,
        "train.batch_size": 32,
        "train.epochs": args.epochs,
    }
    ex = vanishing.ExecConfig(results=args.results)
    for activation in ("sigmoid", "relu"):
        result = vanishing.run(with_overrides(RunConfig(), {**base, "model.activation": activation}), ex)
        print(f"{activation}: test accuracy per epoch {[round(100 * h['test_acc'], 2) for h in result.history]}")

    tables = vanishing.load(args.results)
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=150)
    for _, run in tables.runs.iterrows():
        epochs = tables.epochs[tables.epochs.run_id == run.run_id]
        ax.plot(epochs.epoch, 100 * epochs.test_acc, marker="o", label=f"{run.activation}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("MNIST, 784→128×3→10, SGD lr 0.01, batch 32, Glorot init", fontsize=9)
    ax.legend(title="hidden activation")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
