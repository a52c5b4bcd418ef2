"""Losses against hand-written float64 formulas; loss/output pairs."""

import pytest
import torch

from vanishing.errors import ConfigError
from vanishing.losses import VALID_OUTPUTS, check_pair, make_loss


def _data(n=7, k=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, k, generator=g, dtype=torch.float64) * 3
    y = torch.randint(0, k, (n,), generator=g)
    return z, y


def test_ce_softmax_is_negative_log_softmax():
    z, y = _data()
    expected = torch.stack([-(z[i, y[i]] - torch.log(torch.exp(z[i]).sum())) for i in range(len(y))]).mean()
    assert torch.allclose(make_loss("ce", "softmax", 4)(z, y), expected)


@pytest.mark.parametrize("output", ["relu", "sigmoid"])
def test_ce_keras_semantics_for_non_softmax_outputs(output):
    z, y = _data(seed=1)
    out = torch.relu(z) if output == "relu" else torch.sigmoid(z)
    expected = []
    for i in range(len(y)):
        total = max(float(out[i].sum()), 1e-7)
        p = min(max(float(out[i, y[i]]) / total, 1e-7), 1 - 1e-7)
        expected.append(-torch.log(torch.tensor(p, dtype=torch.float64)))
    got = make_loss("ce", output, 4)(z, y)
    assert torch.allclose(got, torch.stack(expected).mean())


def test_ce_relu_output_all_zero_is_finite():
    z = -torch.ones(2, 3)
    loss = make_loss("ce", "relu", 3)(z, torch.tensor([0, 2]))
    assert torch.isfinite(loss) and abs(float(loss) + torch.log(torch.tensor(1e-7))) < 1e-4


@pytest.mark.parametrize("output", ["sigmoid", "linear", "softmax"])
def test_mse_is_half_sum_of_squares(output):
    z, y = _data(seed=2)
    act = {"sigmoid": torch.sigmoid, "linear": lambda t: t, "softmax": lambda t: torch.softmax(t, 1)}[output]
    d = torch.zeros_like(z)
    d[torch.arange(len(y)), y] = 1
    expected = sum(0.5 * sum((d[i, k] - act(z)[i, k]) ** 2 for k in range(4)) for i in range(len(y))) / len(y)
    assert torch.allclose(make_loss("mse", output, 4)(z, y), expected)


def test_bce_mean_over_outputs():
    z, y = _data(seed=3)
    p = torch.sigmoid(z)
    d = torch.nn.functional.one_hot(y, 4).double()
    expected = (-(d * torch.log(p) + (1 - d) * torch.log(1 - p))).mean()
    assert torch.allclose(make_loss("bce", "sigmoid", 4)(z, y), expected)


def test_per_example_mean_equals_batch_loss():
    z, y = _data(seed=4)
    for loss, outputs in VALID_OUTPUTS.items():
        for out in outputs:
            fn = make_loss(loss, out, 4)
            assert torch.allclose(fn.per_example(z, y).mean(), fn(z, y))


def test_predict_relu_output_uses_rectified_values():
    fn = make_loss("ce", "relu", 3)
    z = torch.tensor([[-5.0, -1.0, -2.0], [0.5, 2.0, 1.0]])
    assert fn.predict(z).tolist() == [0, 1]  # all rectified to 0 → first index, as argmax of the output


@pytest.mark.parametrize("loss,output", [("mse", "relu"), ("bce", "softmax"), ("bce", "linear"), ("ce", "linear")])
def test_invalid_pairs_are_rejected_with_the_valid_list(loss, output):
    with pytest.raises(ConfigError, match="valid pairs"):
        check_pair(loss, output)


def test_unknown_loss():
    with pytest.raises(ConfigError, match="unknown loss 'hinge'.*ce, mse, bce"):
        check_pair("hinge", "softmax")
