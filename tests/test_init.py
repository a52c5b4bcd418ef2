"""Weight and bias init schemes: the empirical statistics of large layers against the documented ones."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from vanishing import activations
from vanishing import init as I
from vanishing.errors import ConfigError

FAN_IN, FAN_OUT = 1000, 500  # unequal, so Xavier, He and LeCun have different variances


def _layer(fan_in=FAN_IN, fan_out=FAN_OUT, dtype=torch.float32, bias=True):
    return nn.Linear(fan_in, fan_out, bias=bias, dtype=dtype)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _kurtosis(x: torch.Tensor) -> float:
    x = x.double().flatten()
    z = (x - x.mean()) / x.std()
    return z.pow(4).mean().item()


# independent restatement of the documented variances
EXPECTED_VAR = {
    "xavier_uniform": 2 / (FAN_IN + FAN_OUT),
    "xavier_normal": 2 / (FAN_IN + FAN_OUT),
    "he_uniform": 2 / FAN_IN,
    "he_normal": 2 / FAN_IN,
    "lecun_normal": 1 / FAN_IN,
    "normal": 0.01**2,
    "normal(std=0.2)": 0.2**2,
    "torch_default": 1 / (3 * FAN_IN),
}


@pytest.mark.parametrize("scheme", list(EXPECTED_VAR))
def test_empirical_std_matches_weight_std(scheme):
    layer = _layer()
    I.init_linear_(layer, scheme, "zeros", "tanh", generator=_gen())
    w = layer.weight.detach()
    std = I.weight_std(scheme, FAN_IN, FAN_OUT, "tanh")
    assert std == pytest.approx(math.sqrt(EXPECTED_VAR[scheme]), rel=1e-12)
    assert w.std().item() == pytest.approx(std, rel=0.01)  # 5e5 draws: the sampling error is ~0.1%
    assert abs(w.mean().item()) < 0.01 * std
    # the family: uniform (kurtosis 1.8, bounded by √3·std) or normal (kurtosis 3)
    if scheme.endswith("_uniform") or scheme == "torch_default":
        assert _kurtosis(w) == pytest.approx(1.8, abs=0.05)
        assert w.abs().max().item() <= math.sqrt(3) * std * (1 + 1e-6)
    else:
        assert _kurtosis(w) == pytest.approx(3.0, abs=0.1)


def test_torch_default_is_the_distribution_of_nn_linear():
    torch.manual_seed(123)
    theirs = nn.Linear(FAN_IN, FAN_OUT)
    assert theirs.weight.std().item() == pytest.approx(I.weight_std("torch_default", FAN_IN, FAN_OUT, "relu"), rel=0.02)
    assert theirs.weight.abs().max() <= 1 / math.sqrt(FAN_IN) and theirs.bias.abs().max() <= 1 / math.sqrt(FAN_IN)
    # without a generator, the same global seed gives nn.Linear's very numbers
    mine = _layer()
    torch.manual_seed(123)
    I.init_linear_(mine, "torch_default", "torch_default", "relu")
    torch.testing.assert_close(mine.weight, theirs.weight)
    torch.testing.assert_close(mine.bias, theirs.bias)


@pytest.mark.parametrize("shape", [(300, 300), (200, 500), (500, 200)])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal_rows_or_columns_are_orthonormal_times_gain(shape, gain):
    fan_out, fan_in = shape
    layer = _layer(fan_in, fan_out)
    spec = f"orthogonal(gain={gain})"
    I.init_linear_(layer, spec, "zeros", "relu", generator=_gen())
    w = layer.weight.detach().double()
    gram = w @ w.T if fan_out <= fan_in else w.T @ w
    torch.testing.assert_close(gram, gain**2 * torch.eye(min(shape), dtype=torch.float64), atol=1e-4, rtol=0)
    assert w.pow(2).mean().sqrt().item() == pytest.approx(gain / math.sqrt(max(shape)), rel=1e-4)
    assert I.weight_std(spec, fan_in, fan_out, "relu") is None


def test_orthogonal_in_float64():
    layer = _layer(64, 64, dtype=torch.float64)
    I.init_linear_(layer, "orthogonal", "zeros", "tanh", generator=_gen())
    w = layer.weight.detach()
    torch.testing.assert_close(w @ w.T, torch.eye(64, dtype=torch.float64), atol=1e-12, rtol=0)


# an independent restatement of SPEC §3's auto table
AUTO = {
    "relu": "he_normal",
    "leaky_relu": "he_normal",
    "prelu": "he_normal",
    "rrelu": "he_normal",
    "relu6": "he_normal",
    "elu": "he_normal",
    "gelu": "he_normal",
    "silu": "he_normal",
    "mish": "he_normal",
    "hardswish": "he_normal",
    "selu": "lecun_normal",
    "sigmoid": "xavier_normal",
    "tanh": "xavier_normal",
    "softplus": "xavier_normal",
    "hardtanh": "xavier_normal",
    "linear": "xavier_normal",
}


def test_auto_table_covers_every_activation():
    assert set(AUTO) == set(activations.NAMES)


@pytest.mark.parametrize("name", list(AUTO))
def test_auto_for_every_activation(name):
    assert I.resolve_auto(name) == AUTO[name]
    assert I.weight_std("auto", FAN_IN, FAN_OUT, name) == I.weight_std(AUTO[name], FAN_IN, FAN_OUT, name)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("softmax", "xavier_normal"),
        ("sigmoid", "xavier_normal"),
        ("linear", "xavier_normal"),
        ("relu", "he_normal"),
        ("swish", "he_normal"),
        ("leaky_relu(alpha=0.2)", "he_normal"),
        ("prelu(per_unit=True)", "he_normal"),
    ],
)
def test_auto_for_output_layers_aliases_and_parameters(name, expected):
    assert I.resolve_auto(name) == expected


def test_auto_rejects_unknown_activations():
    with pytest.raises(ConfigError) as err:
        I.resolve_auto("sigmod")
    assert "softmax" in str(err.value) and "relu" in str(err.value)
    with pytest.raises(ConfigError, match="alpha"):
        I.resolve_auto("leaky_relu(alpha=-1)")


@pytest.mark.parametrize(
    "activation, scheme", [("relu", "he_normal"), ("selu", "lecun_normal"), ("tanh", "xavier_normal")]
)
def test_auto_draws_what_it_resolves_to(activation, scheme):
    a, b = _layer(), _layer()
    I.init_linear_(a, "auto", "zeros", activation, generator=_gen(5))
    I.init_linear_(b, scheme, "zeros", activation, generator=_gen(5))
    torch.testing.assert_close(a.weight, b.weight, rtol=0, atol=0)


@pytest.mark.parametrize(
    "scheme, check",
    [
        ("zeros", lambda b: (b == 0).all()),
        ("constant(value=0.3)", lambda b: torch.allclose(b, torch.full_like(b, 0.3))),
        ("constant", lambda b: (b == 0).all()),
        ("normal(std=0.05)", lambda b: abs(b.std().item() / 0.05 - 1) < 0.02 and b.abs().max() > 0.15),
        ("normal", lambda b: abs(b.std().item() / 0.01 - 1) < 0.02),
        (
            "torch_default",
            lambda b: b.abs().max() <= 1 / math.sqrt(50) and abs(b.std().item() * math.sqrt(3 * 50) - 1) < 0.02,
        ),
    ],
)
def test_bias_schemes(scheme, check):
    layer = _layer(fan_in=50, fan_out=100_000)
    with torch.no_grad():
        layer.bias.fill_(7.0)
    I.init_linear_(layer, "he_normal", scheme, "relu", generator=_gen())
    assert check(layer.bias.detach())


def test_layer_without_bias():
    layer = _layer(bias=False)
    I.init_linear_(layer, "he_normal", "normal", "relu", generator=_gen())
    assert layer.bias is None


def test_generator_makes_init_reproducible_without_global_state():
    layers = [_layer(100, 50) for _ in range(3)]  # nn.Linear's own init uses the global generator
    state = torch.get_rng_state()
    for layer, seed in zip(layers, [1, 1, 2]):
        I.init_linear_(layer, "xavier_uniform", "normal", "tanh", generator=_gen(seed))
    assert torch.equal(torch.get_rng_state(), state)  # the global generator was not touched
    assert torch.equal(layers[0].weight, layers[1].weight) and torch.equal(layers[0].bias, layers[1].bias)
    assert not torch.equal(layers[0].weight, layers[2].weight)
    # weight first, then bias: the bias continues the same stream
    g = _gen(1)
    torch.empty(50, 100).uniform_(-1, 1, generator=g)
    torch.testing.assert_close(layers[0].bias.detach(), torch.empty(50).normal_(0.0, 0.01, generator=g))


@pytest.mark.parametrize("scheme", ["orthogonal", "he_uniform", "torch_default"])
def test_every_scheme_uses_the_generator(scheme):
    a, b = _layer(40, 30), _layer(40, 30)
    I.init_linear_(a, scheme, "torch_default", "relu", generator=_gen(9))
    I.init_linear_(b, scheme, "torch_default", "relu", generator=_gen(9))
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)


def test_init_keeps_parameters_trainable_and_untracked():
    layer = _layer(20, 10, dtype=torch.float64)
    I.init_linear_(layer, "he_normal", "constant(value=0.1)", "relu", generator=_gen())
    assert layer.weight.requires_grad and layer.weight.grad is None and layer.weight.grad_fn is None
    assert layer.weight.dtype == torch.float64 and layer.bias.dtype == torch.float64


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "text, expected",
    [
        ("he_normal", "he_normal"),
        ("auto", "auto"),
        ("orthogonal", "orthogonal(gain=1.0)"),
        ("orthogonal(gain=2)", "orthogonal(gain=2.0)"),
        ("normal", "normal(std=0.01)"),
        ("normal(std=0)", "normal(std=0.0)"),
        ("Torch_Default", "torch_default"),
    ],
)
def test_canonical_weight_init(text, expected):
    assert I.canonical_weight_init(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [("zeros", "zeros"), ("constant", "constant(value=0.0)"), ("constant(value=-1)", "constant(value=-1.0)"),
     ("normal", "normal(std=0.01)"), ("torch_default", "torch_default")],
)
def test_canonical_bias_init(text, expected):
    assert I.canonical_bias_init(text) == expected


def test_scheme_tuples():
    assert I.WEIGHT_SCHEMES == (
        "xavier_uniform", "xavier_normal", "he_uniform", "he_normal", "lecun_normal",
        "orthogonal", "normal", "torch_default", "auto",
    )
    assert I.BIAS_SCHEMES == ("zeros", "constant", "normal", "torch_default")
    for name in I.WEIGHT_SCHEMES:
        I.canonical_weight_init(name)
    for name in I.BIAS_SCHEMES:
        I.canonical_bias_init(name)


def test_unknown_scheme_lists_the_valid_ones():
    with pytest.raises(ConfigError) as err:
        I.canonical_weight_init("kaiming")
    msg = str(err.value)
    assert msg.startswith("model.init:") and all(name in msg for name in I.WEIGHT_SCHEMES)
    with pytest.raises(ConfigError) as err:
        I.canonical_bias_init("ones")
    msg = str(err.value)
    assert msg.startswith("model.bias_init:") and all(name in msg for name in I.BIAS_SCHEMES)


@pytest.mark.parametrize(
    "weight, bias, fragment",
    [
        ("normal(std=-0.1)", "zeros", "std"),
        ("orthogonal(gain=0)", "zeros", "gain"),
        ("orthogonal(gain=1e999)", "zeros", "gain"),
        ("he_normal(gain=2)", "zeros", "gain"),
        ("normal(std='x')", "zeros", "std"),
        ("he_normal", "constant(value=1e999)", "value"),
        ("he_normal", "normal(std=-1)", "std"),
        ("he_normal", "zeros(value=1)", "value"),
        ("normal(std=" + "9" * 400 + ")", "zeros", "normal"),
    ],
)
def test_bad_parameters_are_rejected(weight, bias, fragment):
    with pytest.raises(ConfigError, match=fragment):
        I.canonical_weight_init(weight)
        I.canonical_bias_init(bias)
    with pytest.raises(ConfigError, match=fragment):
        I.init_linear_(_layer(4, 3), weight, bias, "relu")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_random_text_only_ever_raises_config_error(text):
    for canon in (I.canonical_weight_init, I.canonical_bias_init):
        try:
            spec = canon(text)
        except ConfigError:
            continue
        assert canon(spec) == spec
