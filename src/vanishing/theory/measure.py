"""Measurements on an actual MLP for the comparison with theory: per-example δ, measured q.

**Per-example δ.** For example n with loss E_n, δ_{l,n} = ∂E_n/∂a_{l,n} is the
backpropagated signal at hidden layer l's pre-activation (the quantity the
mean-field χ predicts, SPEC §7). One backward pass of the *summed* loss
Σ_m E_m gives all of them at once: in eval mode no layer couples examples
(no batch norm in training mode, no dropout), so a_{l,n} influences only
E_n and ∂(Σ_m E_m)/∂a_{l,n} = ∂E_n/∂a_{l,n}. The model is switched to eval
mode for the measurement and restored afterwards; gradients are taken with
:func:`torch.autograd.grad` w.r.t. the pre-activations only, so no parameter
``.grad`` is touched.

Per hidden layer, over the N probe examples (and its n_l units)::

    rms      = ( (1/N) Σ_n ‖δ_{l,n}‖₂² )^½          (what √χ predicts the layer-to-layer ratio of)
    rms_node = ( (1/(N·n_l)) Σ_n Σ_j δ_{l,n,j}² )^½ = rms/√n_l

``delta_table`` adds the output row (δ_out = ∂E_n/∂z_n, the output layer's
pre-activation) so that the last hidden layer has a ratio too, and
``ratio`` = rms_l / rms_{l+1}. Compare ``ratio`` with the prediction's
``ratio`` column (:func:`vanishing.theory.meanfield.predict`).

Why per example: the mini-batch gradient of the *mean* loss, G = (1/B) Σ_n δ_n,
mixes examples; ‖Σ_n δ_n‖ includes the cross-sample correlation of the δ_n
(which differs between layers and between activations), so its layer-to-layer
ratio is not √χ. The probes (``backprop_signal``) record both.

The loss: any callable ``per_example(z, y) → (N,)``, a
:class:`vanishing.losses.Loss`, or a loss name (``"ce"``, ``"mse"``, ``"bce"``)
combined with the model's output activation. Softmax cross-entropy at init
gives δ_out = softmax(z) − onehot(y), of norm ≈ 0.95; the *ratios* between
hidden layers do not depend on the loss to first order (δ_out sets the scale,
the weights the ratios).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from .. import losses as losses_mod

LossArg = str | losses_mod.Loss | Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _per_example_loss(model, loss: LossArg, n_classes: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if isinstance(loss, str):
        output = getattr(model, "output_activation", "softmax")
        return losses_mod.make_loss(loss, output, n_classes).per_example
    if isinstance(loss, losses_mod.Loss):
        return loss.per_example
    return loss


def _check_plain(model) -> None:
    if not hasattr(model, "forward_with_intermediates"):
        raise TypeError("per-example deltas need a vanishing.model.MLP (forward_with_intermediates)")


class _EvalMode:
    def __init__(self, model):
        self.model, self.was_training = model, model.training

    def __enter__(self):
        self.model.eval()
        return self.model

    def __exit__(self, *exc):
        self.model.train(self.was_training)


def per_example_deltas(
    model,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: LossArg = "ce",
    *,
    include_output: bool = False,
    chunk_size: int | None = None,
) -> list[torch.Tensor]:
    """δ_{l,n} = ∂E_n/∂a_{l,n} for every hidden layer l, as tensors (N, n_l); eval mode.

    One backward of Σ_n E_n per chunk (see the module docstring). With
    ``include_output`` the output layer's δ = ∂E_n/∂z_n (N, n_out) is appended.
    ``chunk_size`` bounds memory (default: all examples at once). The dtype
    is the model's (convert the model and x with ``.double()`` for float64).
    """
    _check_plain(model)
    n_classes = model.output.out_features
    per_ex = _per_example_loss(model, loss, n_classes)
    chunk = len(x) if chunk_size is None else max(1, int(chunk_size))
    parts: list[list[torch.Tensor]] = []
    with _EvalMode(model), torch.enable_grad():
        for start in range(0, len(x), chunk):
            xb, yb = x[start:start + chunk], y[start:start + chunk]
            z, pre, _ = model.forward_with_intermediates(xb)
            targets = list(pre) + ([z] if include_output else [])
            total = per_ex(z, yb).sum()
            grads = torch.autograd.grad(total, targets)
            parts.append([g.detach() for g in grads])
    return [torch.cat([p[k] for p in parts]) for k in range(len(parts[0]))]


def rms_norm(delta: torch.Tensor) -> float:
    """( (1/N) Σ_n ‖δ_n‖² )^½ for δ of shape (N, …)."""
    flat = delta.detach().reshape(len(delta), -1).to(torch.float64)
    return float(flat.square().sum(1).mean().sqrt())


def delta_table(
    model,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: LossArg = "ce",
    *,
    chunk_size: int | None = None,
) -> pd.DataFrame:
    """Per-example δ statistics per hidden layer, plus an ``output`` row; eval mode.

    Columns: ``layer`` (1 … L, then L + 1 for the output), ``name``, ``width``,
    ``rms`` (RMS over examples of ‖δ_{l,n}‖₂), ``rms_node`` (= rms/√width),
    ``mean_norm`` (mean of ‖δ_{l,n}‖₂), ``ratio`` (rms_l/rms_{l+1}; NaN on the
    output row), ``decay`` (rms_l/rms_L, L the last hidden layer).
    ``attrs["n_samples"]`` is N.
    """
    deltas = per_example_deltas(model, x, y, loss, include_output=True, chunk_size=chunk_size)
    names = list(model.layer_names) + ["output"]
    rows = []
    for i, (name, d) in enumerate(zip(names, deltas)):
        flat = d.reshape(len(d), -1).to(torch.float64)
        norms = flat.square().sum(1).sqrt()
        rms = float(norms.square().mean().sqrt())
        rows.append({"layer": i + 1, "name": name, "width": flat.shape[1], "rms": rms,
                     "rms_node": rms / flat.shape[1] ** 0.5, "mean_norm": float(norms.mean())})
    df = pd.DataFrame(rows)
    rms = df["rms"].to_numpy()
    df["ratio"] = np.append(rms[:-1] / rms[1:], np.nan)
    df["decay"] = rms / rms[-2]
    df.attrs["n_samples"] = len(x)
    return df


def measured_q(model, x: torch.Tensor) -> pd.DataFrame:
    """Per hidden layer, measured on ``x`` in eval mode: q = mean over examples and units of a_l², mean and variance of a_l.

    The data-side counterpart of the predicted ``q`` column (the first row is
    the "measured q₁"; its expectation over the weights is σ²_{w,1}·m₂ + σ²_{b,1}).
    """
    _check_plain(model)
    with _EvalMode(model), torch.no_grad():
        _, pre, _ = model.forward_with_intermediates(x)
    rows = []
    for i, (name, a) in enumerate(zip(model.layer_names, pre)):
        a = a.reshape(len(a), -1).to(torch.float64)
        rows.append({"layer": i + 1, "name": name, "q": float(a.square().mean()), "mean": float(a.mean()),
                     "var": float(a.var(unbiased=False))})
    return pd.DataFrame(rows)


def compare(prediction: pd.DataFrame, measurement: pd.DataFrame) -> pd.DataFrame:
    """Join a prediction (:func:`~vanishing.theory.meanfield.predict`) and a :func:`delta_table` per hidden layer.

    Columns: ``layer``, ``name``, ``predicted`` / ``measured`` ratio
    ‖δ_l‖/‖δ_{l+1}‖ (the last hidden row's ratio is to the output δ),
    ``rel_error`` = measured/predicted − 1, ``predicted_decay`` /
    ``measured_decay`` (‖δ_l‖/‖δ_L‖).
    """
    m = measurement[measurement["name"] != "output"].reset_index(drop=True)
    if len(m) != len(prediction):
        raise ValueError(f"prediction has {len(prediction)} hidden layers, measurement {len(m)}")
    out = pd.DataFrame({
        "layer": prediction["layer"].to_numpy(),
        "name": prediction["name"].to_numpy(),
        "predicted": prediction["ratio"].to_numpy(),
        "measured": m["ratio"].to_numpy(),
    })
    out["rel_error"] = out["measured"] / out["predicted"] - 1.0
    out["predicted_decay"] = prediction["decay"].to_numpy()
    out["measured_decay"] = m["decay"].to_numpy()
    return out


def hidden_ratio_errors(comparison: pd.DataFrame) -> np.ndarray:
    """rel_error of the ratios between consecutive *hidden* layers (rows 1 … L−1 of :func:`compare`)."""
    return comparison["rel_error"].to_numpy()[:-1]


__all__: Sequence[str] = (
    "compare", "delta_table", "hidden_ratio_errors", "measured_q", "per_example_deltas", "rms_norm",
)
