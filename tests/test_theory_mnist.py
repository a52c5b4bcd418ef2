"""The mean-field prediction against per-example δ on full MNIST at init (issue 3, SPEC §7).

784 → 700×5 → 10, softmax cross-entropy, eval mode, a class-stratified probe
set of 1,000 training images (100 per class), fixed seeds. q₁ = σ²_{w,1}·mean(x²)
over the probe set, then the q-map; predicted ratio ‖δ_l‖/‖δ_{l+1}‖ = √χ^(l).
Errors of this check (seed 0): see docs/theory.md ("Prediction vs measurement").
"""

import numpy as np
import pytest
import torch

from vanishing.config import ModelConfig
from vanishing.data import load_dataset
from vanishing.model import build_model
from vanishing.theory import (
    compare,
    delta_table,
    hidden_ratio_errors,
    input_second_moment,
    measured_q,
    predict,
)

CASES = [  # (activation, weight init, bias init)
    ("sigmoid", "torch_default", "zeros"),
    ("sigmoid", "torch_default", "torch_default"),  # all of nn.Linear's default: σ_b² = 1/(3·fan_in)
    ("sigmoid", "xavier_normal", "zeros"),
    ("tanh", "xavier_normal", "zeros"),
    ("relu", "he_normal", "zeros"),
]


def probe_set(ds, per_class=100, seed=0):
    perm = torch.randperm(len(ds.y_train), generator=torch.Generator().manual_seed(seed))
    idx = torch.cat([perm[ds.y_train[perm] == c][:per_class] for c in range(ds.n_classes)])
    return ds.x_train[idx], ds.y_train[idx]


@pytest.fixture(scope="module")
def mnist_probe(shared_data):
    ds = load_dataset("mnist", val_fraction=0)
    return probe_set(ds)


@pytest.mark.full_data
@pytest.mark.parametrize("activation,init,bias", CASES)
def test_per_example_delta_ratios_match_sqrt_chi_on_mnist(mnist_probe, activation, init, bias):
    x, y = mnist_probe
    assert len(x) == 1000
    cfg = ModelConfig(hidden=(700,) * 5, activation=activation, init=init, bias_init=bias)
    model = build_model(cfg, 784, 10, seed=0)
    m2 = input_second_moment(x)
    prediction = predict(cfg, 784, 10, input_m2=m2)
    comparison = compare(prediction, delta_table(model, x, y, "ce"))
    errors = hidden_ratio_errors(comparison)
    print(f"\n{activation} {init} bias {bias}: per-layer errors of ‖δ_l‖/‖δ_l+1‖ (l = 1…4):", np.round(100 * errors, 2), "%")
    assert len(errors) == 4
    assert np.all(np.abs(errors) < 0.10), comparison
    # q₁ from the input statistics agrees with the first layer's measured second moment
    assert measured_q(model, x)["q"].iloc[0] == pytest.approx(prediction["q"].iloc[0], rel=0.1)
