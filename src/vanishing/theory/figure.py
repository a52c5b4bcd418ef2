"""Prediction vs measurement at init: the figure and tables of ``docs/theory.md``.

    python -m vanishing.theory.figure --out docs/figures/theory_delta.png            # full MNIST ($VANISHING_DATA)
    python -m vanishing.theory.figure --dataset mnist-sample --out /tmp/theory.png   # offline

For each case (sigmoid with torch's default init, sigmoid + Xavier, tanh +
Xavier, ReLU + He; 784 → 700×5 → 10, zero biases, seed 0) it builds the
network, measures the per-example RMS ‖δ_l‖ on a class-stratified probe set
(100 per class of the training split) with softmax cross-entropy in eval
mode, predicts the per-layer ratios √χ^(l) (q₁ = σ²_{w,1}·mean(x²) on the probe
set, then the q-map), and prints, as markdown:

1. the per-layer errors of the ratios ‖δ_l‖/‖δ_{l+1}‖ (measured/predicted − 1);
2. the pitfalls table: layer-to-layer ratios of the per-example RMS δ, of the
   mini-batch mean δ (‖(1/B)Σ_n δ_n‖, what ∂E/∂b sees) and of the weight
   gradient ‖∇W_l‖_F of the mean loss on one mini-batch of B = 100.

The PNG shows the measured RMS ‖δ_l‖ (markers) and the prediction (lines)
anchored at the measured output δ: predicted ‖δ_l‖ = ‖δ_out‖ · Π_{k=l..L} √χ^(k).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np
import torch

CASES = (
    ("sigmoid", "torch_default", "sigmoid, torch default (σ_w² = 1/3)"),
    ("sigmoid", "xavier_normal", "sigmoid, Xavier (σ_w² = 1)"),
    ("tanh", "xavier_normal", "tanh, Xavier (σ_w² = 1)"),
    ("relu", "he_normal", "ReLU, He (σ_w² = 2)"),
)


def stratified_probe(ds, per_class: int = 100, seed: int = 0):
    """``per_class`` training examples of each class, drawn with a seeded permutation."""
    perm = torch.randperm(len(ds.y_train), generator=torch.Generator().manual_seed(seed))
    idx = torch.cat([perm[ds.y_train[perm] == c][:per_class] for c in range(ds.n_classes)])
    return ds.x_train[idx], ds.y_train[idx]


def batch_gradients(model, x, y):
    """Per hidden layer: ‖(1/B)Σ_n δ_n‖ and ‖∇W_l‖_F of the mean CE loss on the batch (eval mode)."""
    import torch.nn.functional as F

    model.eval()
    z, pre, _ = model.forward_with_intermediates(x)
    loss = F.cross_entropy(z, y)
    weights = [layer.linear.weight for layer in model.hidden_layers]
    grads = torch.autograd.grad(loss, list(pre) + weights)
    L = len(pre)
    mean_delta = [float(g.sum(0).norm()) for g in grads[:L]]
    grad_w = [float(g.norm()) for g in grads[L:]]
    return mean_delta, grad_w


def run(dataset: str = "mnist", per_class: int = 100, seed: int = 0, batch: int = 100, data_dir=None):
    """The comparison for the four cases: list of (label, prediction, measurement, comparison, pitfalls)."""
    from ..config import ModelConfig
    from ..data import load_dataset
    from ..model import build_model
    from .meanfield import input_second_moment, predict
    from .measure import compare, delta_table

    ds = load_dataset(dataset, val_fraction=0, data_dir=data_dir)
    x, y = stratified_probe(ds, per_class, seed)
    m2 = input_second_moment(x)
    g = torch.Generator().manual_seed(seed + 1)
    b_idx = torch.randperm(len(x), generator=g)[:batch]
    out = []
    for act, init, label in CASES:
        cfg = ModelConfig(hidden=(700,) * 5, activation=act, init=init, bias_init="zeros")
        model = build_model(cfg, ds.n_features, ds.n_classes, seed=seed)
        pred = predict(cfg, ds.n_features, ds.n_classes, input_m2=m2)
        meas = delta_table(model, x, y, "ce")
        comp = compare(pred, meas)
        mean_delta, grad_w = batch_gradients(model, x[b_idx], y[b_idx])
        out.append((label, pred, meas, comp, (mean_delta, grad_w)))
    return out, m2, len(x)


def plot(results, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = ["tab:red", "tab:orange", "tab:blue", "tab:green"]
    for (label, pred, meas, comp, _), color in zip(results, colors):
        L = len(pred)
        rms = meas["rms"].to_numpy()
        layers = np.arange(1, L + 2)
        # prediction anchored at the measured output δ: ‖δ_l‖ = ‖δ_out‖ · Π_{k=l..L} √χ^(k)
        ratios = pred["ratio"].to_numpy()
        predicted = rms[-1] * np.append(np.cumprod(ratios[::-1])[::-1], 1.0)
        ax.semilogy(layers, predicted, "-", color=color, alpha=0.7)
        ax.semilogy(layers, rms, "o", color=color, label=label)
        ax2.plot(np.arange(1, L + 1), 100 * comp["rel_error"].to_numpy(), "o-", color=color, label=label)
    ax.set_xticks(range(1, 7), ["h1", "h2", "h3", "h4", "h5", "out"])
    ax.set_xlabel("layer")
    ax.set_ylabel("per-example RMS ‖δ_l‖")
    ax.set_title("at init on MNIST: measured (dots) vs mean-field (lines)")
    ax.legend(fontsize=8)
    ax2.axhline(0, color="k", lw=0.5)
    ax2.axhspan(-10, 10, color="0.9", zorder=0)
    ax2.set_ylim(-12, 12)
    ax2.set_xticks(range(1, 6), ["h1/h2", "h2/h3", "h3/h4", "h4/h5", "h5/out"])
    ax2.set_xlabel("ratio ‖δ_l‖/‖δ_l+1‖")
    ax2.set_ylabel("measured / predicted − 1  (%)")
    ax2.set_title("error of the per-layer prediction √χ of layer l")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(results, m2: float, n: int) -> str:
    lines = [f"probe set: {n} examples, mean x² = {m2:.4f}", "",
             "| case | h1/h2 | h2/h3 | h3/h4 | h4/h5 | h5/out | predicted ‖δ₁‖/‖δ₅‖ | measured |",
             "|---|---|---|---|---|---|---|---|"]
    for label, pred, meas, comp, _ in results:
        errs = " | ".join(f"{100 * e:+.2f}%" for e in comp["rel_error"])
        lines.append(f"| {label} | {errs} | {pred['decay'].iloc[0]:.3g} | {meas['decay'].iloc[0]:.3g} |")
    lines += ["", "| case | quantity | h1/h2 | h2/h3 | h3/h4 | h4/h5 |", "|---|---|---|---|---|---|"]
    for label, pred, meas, comp, (mean_delta, grad_w) in results:
        rows = [("per-example RMS δ", meas["rms"].to_numpy()[:5]), ("mini-batch ‖mean δ‖", np.array(mean_delta)),
                ("‖∇W_l‖ (mini-batch)", np.array(grad_w))]
        lines.append(f"| {label} | predicted √χ | " + " | ".join(f"{r:.3f}" for r in pred["ratio"].iloc[:4]) + " |")
        for name, v in rows:
            lines.append(f"| | {name} | " + " | ".join(f"{a:.3f}" for a in v[:-1] / v[1:]) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m vanishing.theory.figure", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="docs/figures/theory_delta.png", help="PNG path")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--data-dir")
    p.add_argument("--per-class", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    results, m2, n = run(args.dataset, args.per_class, args.seed, data_dir=args.data_dir)
    plot(results, args.out)
    print(markdown(results, m2, n))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
