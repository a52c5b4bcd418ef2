"""Robinson (2024)'s figures: per-layer gradient norms, per-example δ and learning curves."""

from __future__ import annotations

import pandas as pd

from ...report import figures


def gradient_figures(ctx, grad: pd.DataFrame, sig: pd.DataFrame, rel: pd.DataFrame, setting: str) -> None:
    for act, part in (("sigmoid", sig), ("relu", rel)):
        g = grad[grad["run_id"] == part["run_id"].iloc[0]]
        ctx.figure(figures.grad_norm_lines(g, title=f"{act}, {setting}: ‖∂E/∂W‖ per layer"),
                   f"Weight-gradient norm per layer over training, {act} hidden units ({setting}, seed 0).",
                   f"grad_norms_{act}")


def delta_figures(ctx, delta: pd.DataFrame, sig: pd.DataFrame, rel: pd.DataFrame, setting: str, base: dict) -> None:
    for act, part in (("sigmoid", sig), ("relu", rel)):
        d = delta[delta["run_id"].isin(part["run_id"])]
        theory = ctx.theory(base, {"model.activation": act})
        ctx.figure(figures.delta_by_layer(d, theory=theory, title=f"{act}: per-example δ by layer"),
                   f"RMS over the probe set of the per-example δ = ∂E_n/∂a at each hidden layer, at init and "
                   f"after the last epoch ({act}, {setting}); mean ± s.e. over seeds. Dashed: the mean-field "
                   "prediction at init (q₁ from the data), anchored at the last hidden layer.", f"delta_{act}")


def learning_curves(ctx, epochs: pd.DataFrame, runs: pd.DataFrame) -> None:
    ctx.figure(figures.learning_curves(epochs, runs, metrics=("train_loss", "val_acc")),
               "Learning curves of every configuration of the main comparison (validation = test set).",
               "learning_curves")
