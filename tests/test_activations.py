"""The activation registry against torch: values, f′ and f″ by autograd, ranges, modules, names.

The oracle is always torch itself (torch.nn.functional / nn modules, autograd
in float64), never the registry's own formulas.
"""

from __future__ import annotations

import copy
import math
import pickle
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from vanishing import activations as A
from vanishing.errors import ConfigError

DOCS = Path(__file__).resolve().parents[1] / "docs" / "activations.md"


def _prelu_ref(slope):
    return lambda a: F.prelu(a, torch.tensor([slope], dtype=a.dtype))


# spec → torch reference (eval-mode semantics), independent of vanishing.activations
REFERENCE = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": lambda a: F.leaky_relu(a, 0.01),
    "leaky_relu(alpha=0.2)": lambda a: F.leaky_relu(a, 0.2),
    "leaky_relu(alpha=0)": lambda a: F.leaky_relu(a, 0.0),
    "prelu": _prelu_ref(0.25),
    "prelu(init=0.1, per_unit=True)": _prelu_ref(0.1),
    "rrelu": torch.nn.RReLU(1 / 8, 1 / 3).eval(),
    "rrelu(lower=0.05, upper=0.5)": torch.nn.RReLU(0.05, 0.5).eval(),
    "elu": torch.nn.ELU(),
    "elu(alpha=0.5)": torch.nn.ELU(alpha=0.5),
    "elu(alpha=2)": torch.nn.ELU(alpha=2.0),
    "selu": torch.nn.SELU(),
    "gelu": torch.nn.GELU(approximate="none"),
    "silu": torch.nn.SiLU(),
    "swish": torch.nn.SiLU(),
    "mish": torch.nn.Mish(),
    # threshold 50 instead of torch's 20: above it the exact softplus differs by < e⁻⁵⁰
    "softplus": torch.nn.Softplus(beta=1.0, threshold=50.0),
    "relu6": torch.nn.ReLU6(),
    "hardswish": torch.nn.Hardswish(),
    "hardtanh": torch.nn.Hardtanh(-1.0, 1.0),
    "linear": torch.nn.Identity(),
}
SPECS = list(REFERENCE)

# points where f′ jumps, per canonical name
KINKS = {
    "relu": [0.0],
    "leaky_relu": [0.0],
    "prelu": [0.0],
    "rrelu": [0.0],
    "elu": [0.0],
    "selu": [0.0],
    "relu6": [0.0, 6.0],
    "hardswish": [-3.0, 3.0],
    "hardtanh": [-1.0, 1.0],
}


def test_every_registered_name_is_covered_by_the_reference_table():
    covered = {A.get(spec).name for spec in SPECS}
    assert covered == set(A.NAMES)
    assert len(A.NAMES) == 16 and A.NAMES[0] == "sigmoid" and A.NAMES[-1] == "linear"


def _grid(lo=-30.0, hi=30.0, n=6001, extra=(-1e3, -100.0, -50.0, 50.0, 100.0, 1e3)):
    g = torch.linspace(lo, hi, n, dtype=torch.float64)
    return torch.cat([g, torch.tensor(extra, dtype=torch.float64)])


def _away_from_kinks(a, name, eps=1e-6):
    keep = torch.ones_like(a, dtype=torch.bool)
    for k in KINKS.get(name, []):
        keep &= (a - k).abs() > eps
    return a[keep]


def _autograd_d1(ref, a):
    a = a.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(ref(a).sum(), a)
    return g


def _autograd_d2(ref, a):
    a = a.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(ref(a).sum(), a, create_graph=True)
    if not g.requires_grad:  # f′ piecewise constant: autograd builds no graph for f″
        return torch.zeros_like(a)
    (h,) = torch.autograd.grad(g.sum(), a, allow_unused=True)
    return torch.zeros_like(a) if h is None else h.detach()


def _close(actual, expected, rtol=1e-9, atol=1e-12):
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol)


# --------------------------------------------------------------------------- f, f′, f″


@pytest.mark.parametrize("spec", SPECS)
def test_f_matches_torch_on_a_wide_grid(spec):
    act, ref = A.get(spec), REFERENCE[spec]
    a = _grid()
    _close(act.f(a), ref(a))


@pytest.mark.parametrize("spec", SPECS)
def test_df_matches_autograd_in_float64(spec):
    act, ref = A.get(spec), REFERENCE[spec]
    a = _away_from_kinks(_grid(), act.name)
    _close(act.df(a), _autograd_d1(ref, a))


@pytest.mark.parametrize("spec", SPECS)
def test_d2f_matches_double_backward_in_float64(spec):
    act, ref = A.get(spec), REFERENCE[spec]
    # |a| ≤ 100: torch's own mish double backward returns NaN at a = 1000
    a = _away_from_kinks(_grid(extra=(-100.0, -50.0, 50.0, 100.0)), act.name)
    _close(act.d2f(a), _autograd_d2(ref, a))


# the documented convention at kinks: (point, f′, f″)
KINK_VALUES = {
    "relu": [(0.0, 0.0, 0.0)],
    "leaky_relu(alpha=0.2)": [(0.0, 0.2, 0.0)],
    "prelu": [(0.0, 0.25, 0.0)],
    "rrelu(lower=0.05, upper=0.5)": [(0.0, 0.275, 0.0)],
    "elu(alpha=2)": [(0.0, 2.0, 0.0)],
    "selu": [(0.0, A.SELU_SCALE * A.SELU_ALPHA, 0.0)],
    "relu6": [(0.0, 0.0, 0.0), (6.0, 0.0, 0.0)],
    "hardswish": [(-3.0, 0.0, 0.0), (3.0, 1.0, 0.0)],
    "hardtanh": [(-1.0, 0.0, 0.0), (1.0, 0.0, 0.0)],
}


@pytest.mark.parametrize("spec", list(KINK_VALUES))
def test_kink_convention_is_the_documented_one_and_agrees_with_autograd(spec):
    act, ref = A.get(spec), REFERENCE[spec]
    points = torch.tensor([p for p, _, _ in KINK_VALUES[spec]], dtype=torch.float64)
    d1 = torch.tensor([v for _, v, _ in KINK_VALUES[spec]], dtype=torch.float64)
    d2 = torch.tensor([v for _, _, v in KINK_VALUES[spec]], dtype=torch.float64)
    _close(act.df(points), d1)
    _close(act.d2f(points), d2)
    _close(_autograd_d1(ref, points), d1)
    _close(_autograd_d2(ref, points), d2)


def test_kink_table_covers_every_entry_with_a_kink():
    assert {A.get(s).name for s in KINK_VALUES} == set(KINKS)


@pytest.mark.parametrize("name", A.NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_functions_keep_dtype_and_shape(name, dtype):
    act = A.get(name)
    a = torch.randn(3, 4, generator=torch.Generator().manual_seed(0)).to(dtype)
    for fn in (act.f, act.df, act.d2f, act.fast):
        out = fn(a)
        assert out.dtype == dtype and out.shape == a.shape
    assert act.saturated(a).dtype == torch.bool and act.saturated(a).shape == a.shape


def test_functions_accept_python_numbers_and_int_tensors():
    act = A.get("sigmoid")
    assert act.f(0.0).item() == pytest.approx(0.5)
    assert act.df(torch.tensor([0])).item() == pytest.approx(0.25)


# --------------------------------------------------------------------------- modules


def _module_autograd(module, a):
    a = a.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(module(a).sum(), a)
    return g


def _pre_activations(width=6, n=50):
    gen = torch.Generator().manual_seed(1)
    return 4.0 * torch.randn(n, width, generator=gen, dtype=torch.float64)  # no exact kink hit


@pytest.mark.parametrize("spec", SPECS)
def test_module_forward_and_derivative_match_f_and_autograd_in_eval(spec):
    act = A.get(spec)
    m = act.module(6).double().eval()
    a = _pre_activations()
    _close(m.derivative(a), _module_autograd(m, a))
    # a PReLU weight is created in float32, so its slope is the float32 rounding of `init`
    _close(m(a), REFERENCE[spec](a), rtol=1e-7, atol=1e-12)
    _close(m.derivative(a), act.df(a), rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("per_unit", [False, True])
def test_prelu_derivative_uses_the_learned_slope(per_unit):
    m = A.get(f"prelu(per_unit={per_unit})").module(6).double().eval()
    assert m.weight.shape == ((6,) if per_unit else (1,))
    with torch.no_grad():
        m.weight.copy_(torch.tensor([-0.3, 0.5, 1.7, 0.0, 0.1, 2.5] if per_unit else [0.7], dtype=torch.float64))
    a = _pre_activations()
    d = m.derivative(a)
    _close(d, _module_autograd(m, a))
    assert not torch.allclose(d, A.get("prelu").df(a))  # not the initial slope any more
    # the slopes of the negative side are exactly the learned weights
    neg = (a < 0).to(torch.float64)
    expected_slope = m.weight.detach().expand(a.shape[1])
    _close((d * neg).sum(0) / neg.sum(0).clamp(min=1), expected_slope * (neg.sum(0) > 0))


def test_prelu_weight_is_a_trainable_parameter():
    m = A.get("prelu(per_unit=True)").module(4)
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    a = -torch.ones(2, 4)
    m(a).sum().backward()
    torch.testing.assert_close(m.weight.grad, torch.full((4,), -2.0))


def test_rrelu_eval_uses_the_mean_slope():
    act = A.get("rrelu(lower=0.1, upper=0.3)")
    m = act.module(4).double().eval()
    a = -torch.linspace(0.1, 5.0, 40, dtype=torch.float64).view(10, 4)
    _close(m(a), 0.2 * a)
    _close(m.derivative(a), torch.full_like(a, 0.2))
    _close(m.derivative(a), _module_autograd(m, a))


def test_rrelu_training_draws_slopes_within_bounds():
    torch.manual_seed(0)
    m = A.get("rrelu").module(100).train()
    a = -(torch.rand(200, 100) + 0.1)
    slopes = m(a) / a
    assert slopes.min() >= 1 / 8 - 1e-6 and slopes.max() <= 1 / 3 + 1e-6
    assert slopes.std() > 0.05  # random, not the mean slope
    assert abs(slopes.mean().item() - (1 / 8 + 1 / 3) / 2) < 0.01
    pos = torch.rand(10, 100) + 0.1
    torch.testing.assert_close(m(pos), pos)  # identity on the positive side in training too
    m.eval()
    torch.testing.assert_close(m(a), a * (1 / 8 + 1 / 3) / 2)


def test_module_repr_and_copies():
    m = A.get("prelu(per_unit=True)").module(3)
    assert repr(m) == "PReLUModule(prelu(init=0.25, per_unit=True), num_parameters=3)"
    assert repr(A.get("relu").module(3)) == "ActivationModule(relu)"
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert clone.activation == m.activation
        torch.testing.assert_close(clone.weight, m.weight)
    act = A.get("leaky_relu(alpha=0.1)")
    assert pickle.loads(pickle.dumps(act)) == act and hash(copy.deepcopy(act)) == hash(act)


# --------------------------------------------------------------------------- properties


@pytest.mark.parametrize("spec", SPECS)
def test_range_holds_and_is_approached(spec):
    act = A.get(spec)
    a = torch.cat([torch.linspace(-60, 60, 1_200_001, dtype=torch.float64)])
    y = act.f(a)
    assert y.min() >= act.lo - 1e-12 and y.max() <= act.hi + 1e-12
    far = act.f(torch.tensor([-1e6, 1e6], dtype=torch.float64))
    if math.isfinite(act.lo):
        assert y.min().item() == pytest.approx(act.lo, abs=1e-9)
    else:
        assert far[0] < -1e3
    if math.isfinite(act.hi):
        assert y.max().item() == pytest.approx(act.hi, abs=1e-9)
    else:
        assert far[1] > 1e3


@pytest.mark.parametrize("spec", SPECS)
def test_max_abs_df_is_the_sup_of_abs_df(spec):
    act, ref = A.get(spec), REFERENCE[spec]
    a = torch.linspace(-12, 12, 240_001, dtype=torch.float64)  # step 1e-4
    d = _autograd_d1(ref, a).abs()
    assert d.max() <= act.max_abs_df * (1 + 1e-12)
    assert d.max().item() == pytest.approx(act.max_abs_df, rel=1e-4)


@pytest.mark.parametrize("spec", SPECS)
def test_saturates_means_df_vanishes_on_an_unbounded_side(spec):
    """The rule, with the SPEC's one exception: a rectifier's off side is a dead region, not saturation."""
    act = A.get(spec)
    tails = _autograd_d1(REFERENCE[spec], torch.tensor([-1e3, 1e3], dtype=torch.float64)).abs()
    vanishes = bool((tails < 1e-12).any())
    rectifier = act.name in {"relu", "leaky_relu", "prelu", "rrelu"}
    assert act.saturates == (vanishes and not rectifier)
    if act.hard_zero and rectifier:
        assert vanishes  # the exception is real: relu's f′ is 0 on its off side


def test_declared_flags():
    saturating = {"sigmoid", "tanh", "hardtanh", "relu6", "softplus", "elu", "selu"}
    saturating |= {"gelu", "silu", "mish", "hardswish"}
    hard_zero = {"relu", "relu6", "hardswish"}
    for name in A.NAMES:
        act = A.get(name)
        assert act.saturates == (name in saturating), name
        assert act.hard_zero == (name in hard_zero), name
    assert A.get("leaky_relu(alpha=0)").hard_zero and A.get("rrelu(lower=0, upper=0)").hard_zero
    assert A.get("elu(alpha=3)").max_abs_df == 3.0 and A.get("elu(alpha=3)").lo == -3.0


@pytest.mark.parametrize("spec", SPECS)
def test_hard_zero_means_exact_zeros_on_a_half_line(spec):
    act = A.get(spec)
    y = act.f(-torch.logspace(0.7, 3, 50, dtype=torch.float64))  # a from −5 to −1000
    assert act.hard_zero == bool((y == 0).all())


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("threshold", [0.05, 0.3])
def test_saturated_agrees_with_an_elementwise_loop(spec, threshold):
    act, ref = A.get(spec), REFERENCE[spec]
    values = [-50.0, -8.0, -4.0, -3.5, -2.0, -1.5, -0.5, 0.3, 1.0, 2.5, 5.0, 7.0, 40.0]
    fast = act.saturated(torch.tensor(values, dtype=torch.float64), threshold)
    grid = _autograd_d1(ref, torch.linspace(-12, 12, 24_001, dtype=torch.float64)).abs().max().item()
    for i, x in enumerate(values):
        slope = abs(_autograd_d1(ref, torch.tensor([x], dtype=torch.float64)).item())
        expected = act.saturates and slope < threshold * grid
        assert bool(fast[i]) == expected, (spec, x, slope)


def test_saturated_examples():
    s = A.get("sigmoid").saturated(torch.tensor([0.0, 3.0, 5.0, -5.0]))
    assert s.tolist() == [False, False, True, True]
    assert not A.get("relu").saturated(torch.tensor([-5.0, 0.0, 5.0])).any()


def test_repr_shows_spec_and_properties():
    r = repr(A.get("elu(alpha=0.5)"))
    assert "elu(alpha=0.5)" in r and "saturates=True" in r and "hard_zero=False" in r and "-0.5" in r


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "text, expected",
    [
        ("relu", "relu"),
        ("ReLU", "relu"),
        ("swish", "silu"),
        ("leaky_relu", "leaky_relu(alpha=0.01)"),
        ("leaky_relu( alpha = 0.1 )", "leaky_relu(alpha=0.1)"),
        ("prelu", "prelu(init=0.25, per_unit=False)"),
        ("prelu(per_unit=True)", "prelu(init=0.25, per_unit=True)"),
        ("rrelu", "rrelu(lower=0.125, upper=0.3333333333333333)"),
        ("rrelu(lower=1/10, upper=1/4)", "rrelu(lower=0.1, upper=0.25)"),
        ("elu", "elu(alpha=1.0)"),
        ("elu(alpha=2)", "elu(alpha=2.0)"),
        ("selu", "selu"),
        ("gelu", "gelu"),
    ],
)
def test_canonical_fills_parameters_and_resolves_aliases(text, expected):
    assert A.canonical(text) == expected
    assert A.canonical(expected) == expected
    assert A.get(text).spec == expected


def test_get_uses_the_parameters():
    act = A.get("leaky_relu(alpha=0.3)")
    assert act.params == {"alpha": 0.3}
    torch.testing.assert_close(act.f(torch.tensor([-2.0])), torch.tensor([-0.6]))


def test_unknown_name_lists_every_valid_name():
    with pytest.raises(ConfigError) as err:
        A.canonical("sigmod", field_name="model.activation")
    msg = str(err.value)
    assert msg.startswith("model.activation:") and "'sigmod'" in msg and "\n" not in msg
    for name in A.NAMES:
        assert name in msg
    assert "swish" in msg


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("relu(alpha=0.1)", "'alpha'"),
        ("leaky_relu(slope=0.1)", "'slope'"),
        ("leaky_relu(alpha='big')", "alpha"),
        ("leaky_relu(alpha=True)", "alpha"),
        ("prelu(per_unit=1)", "per_unit"),
        ("leaky_relu(alpha=-0.1)", "alpha"),
        ("leaky_relu(alpha=1e999)", "alpha"),
        ("elu(alpha=0)", "alpha"),
        ("elu(alpha=-1)", "alpha"),
        ("prelu(init=-1e999)", "init"),
        ("rrelu(lower=0.5, upper=0.1)", "upper"),
        ("rrelu(lower=-0.1)", "lower"),
        ("elu(0.5)", "positional"),
        ("relu()()", "parse"),
        ("elu(alpha=" + "9" * 400 + ")", "alpha"),  # float() of a huge int overflows inside callspec
        ("elu(alpha=" + "-" * 100_000 + "1)", "too long"),  # bounded before the parser can run out of stack
    ],
)
def test_bad_parameters_are_rejected_with_one_line(text, fragment):
    with pytest.raises(ConfigError) as err:
        A.canonical(text, field_name="model.activation")
    msg = str(err.value)
    assert msg.startswith("model.activation:") and fragment in msg and "\n" not in msg


_KEYS = st.sampled_from(["alpha", "init", "per_unit", "lower", "upper", "beta", "x"])
_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**500), max_value=10**500).map(str),
    st.booleans().map(str),
    st.text(max_size=5).map(repr),
    st.sampled_from(["None", "1/0", "1/3", "-(-1)", "[1]", "x", "__import__('os')"]),
)
_CALLS = st.builds(
    lambda name, kv: f"{name}({', '.join(f'{k}={v}' for k, v in kv)})",
    st.sampled_from(A.NAMES + ("swish", "foo")),
    st.lists(st.tuples(_KEYS, _VALUES), max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), _CALLS))
def test_random_text_only_ever_raises_config_error(text):
    try:
        spec = A.canonical(text)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    assert A.canonical(spec) == spec  # canonical text is a fixed point
    assert A.get(spec).spec == spec


# --------------------------------------------------------------------------- docs


def _doc_rows():
    rows = {}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\|\s*`(\w+)", line)
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if m and m.group(1) in A.NAMES and len(cells) == 8:  # the main table, not the f″ one
            rows[m.group(1)] = cells
    return rows


def test_docs_table_lists_every_activation_with_its_flags():
    from vanishing import init

    rows = _doc_rows()
    assert set(rows) == set(A.NAMES)
    for name, cells in rows.items():
        act = A.get(name)
        *_, saturates, hard_zero, max_df, auto = cells
        assert saturates == ("yes" if act.saturates else "no"), name
        assert hard_zero.startswith("yes" if act.hard_zero else "no"), name
        assert auto == f"`{init.resolve_auto(name)}`", name
        number = re.match(r"[0-9.]+", max_df)
        if number and not act.params:
            assert float(number.group()) == pytest.approx(act.max_abs_df, rel=1e-5), name
