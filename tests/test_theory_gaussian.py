"""Gauss–Hermite expectations (vanishing.theory.gaussian) against closed forms and Monte Carlo."""

import itertools
import math

import numpy as np
import pytest
import torch

from vanishing import activations
from vanishing.theory.gaussian import (
    DEFAULT_NODES,
    gauss_hermite_rule,
    gaussian_expectation,
    has_closed_form,
    second_moments,
)


def reference_expectation(h, v, mu=0.0, kinks=(), panels=300, span=12.0):
    """E[h(μ + √v z)] by composite Gauss–Legendre in z, split at the kinks (an independent reference).

    No node sits on a kink, so one-sided limits are used on each side, and each
    smooth piece converges spectrally.
    """
    xg, wg = np.polynomial.legendre.leggauss(20)
    cuts = sorted({-span, span, *[(c - mu) / math.sqrt(v) for c in kinks if abs(c - mu) < span * math.sqrt(v)]})
    total = 0.0
    for lo, hi in itertools.pairwise(cuts):
        edges = np.linspace(lo, hi, panels + 1)
        mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
        z = (mid[:, None] + half[:, None] * xg).ravel()
        w = (half[:, None] * wg).ravel()
        g = h(torch.from_numpy(mu + math.sqrt(v) * z)).numpy() * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        total += float((w * g).sum())
    return total


def test_rule_is_normalised_symmetric_and_exact_for_polynomials():
    x, w = gauss_hermite_rule(DEFAULT_NODES)
    assert len(x) == DEFAULT_NODES and DEFAULT_NODES % 2 == 0
    assert w.sum() == pytest.approx(1.0, abs=1e-14)
    np.testing.assert_allclose(x, -x[::-1], atol=1e-12)
    assert np.min(np.abs(x)) > 0.01  # no node at the kink
    # E z^2k = (2k-1)!!
    for k, moment in [(1, 1.0), (2, 3.0), (3, 15.0), (4, 105.0)]:
        assert (w * x ** (2 * k)).sum() == pytest.approx(moment, rel=1e-12)
    assert abs((w * x**5).sum()) < 1e-12


def test_odd_node_counts_are_refused_and_would_sit_on_the_relu_kink():
    with pytest.raises(ValueError, match="even number"):
        gauss_hermite_rule(31)
    x, w = gauss_hermite_rule(31, allow_odd=True)
    mid = len(x) // 2
    assert x[mid] == 0.0 and w[mid] > 0.1  # a heavy node exactly at z = 0
    relu = activations.get("relu")
    # relu′(0) = 0 (torch's convention) is weighted by w_mid: E[relu′²] comes out ½ − w_mid/2, not ½
    odd = float(gaussian_expectation(lambda a: relu.df(a) ** 2, 1.0, n=31, allow_odd=True))
    assert odd == pytest.approx(0.5 - w[mid] / 2, abs=1e-12)
    assert abs(odd - 0.5) > 0.05
    even = float(gaussian_expectation(lambda a: relu.df(a) ** 2, 1.0, n=32))
    assert even == pytest.approx(0.5, abs=1e-14)
    with pytest.raises(ValueError, match="even"):
        gaussian_expectation(lambda a: a, 1.0, n=31)


@pytest.mark.parametrize("n", [2, 8, 64, DEFAULT_NODES])
@pytest.mark.parametrize("v", [0.01, 0.3, 1.0, 7.0, 100.0])
def test_even_rule_is_exact_for_relu_at_any_node_count(n, v):
    e_f2, e_df2 = second_moments("relu", v, method="quadrature", n=n)
    assert e_f2 == pytest.approx(v / 2, rel=1e-12)  # E[relu(√q z)²] = q/2
    assert e_df2 == pytest.approx(0.5, rel=1e-12)  # E[relu′²] = ½


def test_closed_forms_for_the_relu_family():
    v = np.array([0.0, 0.2, 1.0, 3.0])
    e_f2, e_df2 = second_moments("relu", v)
    np.testing.assert_allclose(e_f2, v / 2, rtol=1e-15)
    np.testing.assert_allclose(e_df2, 0.5, rtol=1e-15)  # v = 0: the limit v → 0⁺
    e_f2, e_df2 = second_moments("leaky_relu(alpha=0.2)", v)
    np.testing.assert_allclose(e_f2, v * (1 + 0.04) / 2, rtol=1e-15)
    np.testing.assert_allclose(e_df2, (1 + 0.04) / 2, rtol=1e-15)
    e_f2, e_df2 = second_moments("linear", v, mu=0.5)
    np.testing.assert_allclose(e_f2, v + 0.25, rtol=1e-15)
    np.testing.assert_allclose(e_df2, 1.0)
    assert has_closed_form("rrelu") and has_closed_form("prelu") and not has_closed_form("elu")
    with pytest.raises(ValueError, match="no closed form"):
        second_moments("tanh", 1.0, method="closed")


@pytest.mark.parametrize("spec", ["relu", "leaky_relu(alpha=0.3)"])
@pytest.mark.parametrize("v,mu", [(1.0, 0.5), (0.3, -0.4), (2.0, 0.0), (0.0, 0.7)])
def test_closed_forms_with_a_bias_mean_match_an_independent_integral(spec, v, mu):
    act = activations.get(spec)
    e_f2, e_df2 = second_moments(spec, v, mu)
    if v == 0:
        assert e_f2 == pytest.approx(float(act.f(torch.tensor(mu))) ** 2)
        assert e_df2 == pytest.approx(float(act.df(torch.tensor(mu))) ** 2)
        return
    assert e_f2 == pytest.approx(reference_expectation(lambda a: act.f(a) ** 2, v, mu, kinks=(0.0,)), rel=1e-12)
    assert e_df2 == pytest.approx(reference_expectation(lambda a: act.df(a) ** 2, v, mu, kinks=(0.0,)), rel=1e-12)


@pytest.mark.parametrize("spec", ["sigmoid", "tanh", "gelu", "silu", "softplus", "mish"])
@pytest.mark.parametrize("v", [0.01, 0.25, 1.0, 4.0])
def test_smooth_activations_match_an_independent_integral(spec, v):
    act = activations.get(spec)
    e_f2, e_df2 = second_moments(spec, v)
    rel = 1e-5 if v > 1 else 1e-10  # tanh′² at v = 4: 1e-6 with 200 nodes
    assert e_f2 == pytest.approx(reference_expectation(lambda a: act.f(a) ** 2, v), rel=rel)
    assert e_df2 == pytest.approx(reference_expectation(lambda a: act.df(a) ** 2, v), rel=rel)


KINKED = [("elu", (0.0,)), ("elu(alpha=0.5)", (0.0,)), ("selu", (0.0,)), ("relu6", (0.0, 6.0)),
          ("hardtanh", (-1.0, 1.0)), ("hardswish", (-3.0, 3.0))]


@pytest.mark.parametrize("spec,kinks", KINKED)
def test_kinked_activations_use_the_piecewise_rule(spec, kinks):
    act = activations.get(spec)
    for v, mu in ((0.05, 0.0), (1.0, 0.0), (4.0, 0.3), (30.0, 0.0)):
        e_f2, e_df2 = second_moments(spec, v, mu)
        ref_f2 = reference_expectation(lambda a: act.f(a) ** 2, v, mu, kinks=kinks)
        ref_df2 = reference_expectation(lambda a: act.df(a) ** 2, v, mu, kinks=kinks)
        assert e_f2 == pytest.approx(ref_f2, rel=1e-11) and e_df2 == pytest.approx(ref_df2, rel=1e-11)


def test_why_kinks_need_the_piecewise_rule():
    """Gauss–Hermite through a jump of f′ converges slowly: hardtanh′² is 10% off at v = 1 with 200 nodes."""
    gh = float(second_moments("hardtanh", 1.0, method="quadrature")[1])
    exact = math.erf(1 / math.sqrt(2))  # P(|z| < 1)
    assert float(second_moments("hardtanh", 1.0)[1]) == pytest.approx(exact, rel=1e-12)
    assert abs(gh / exact - 1) > 0.05


@pytest.mark.parametrize("spec", ["sigmoid", "tanh", "relu", "leaky_relu", "gelu", "elu", "selu", "hardtanh"])
def test_quadrature_agrees_with_monte_carlo(spec):
    act = activations.get(spec)
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(2_000_000, generator=gen, dtype=torch.float64)
    for v in (0.1, 1.0, 3.0):
        a = math.sqrt(v) * z
        for h, expected in ((lambda t: act.f(t) ** 2, second_moments(spec, v)[0]),
                            (lambda t: act.df(t) ** 2, second_moments(spec, v)[1])):
            samples = h(a)
            mc, se = float(samples.mean()), float(samples.std()) / math.sqrt(len(samples))
            assert abs(float(expected) - mc) < 5 * se + 1e-12, (spec, v, float(expected), mc, se)


def test_vectorised_over_v_and_v_zero_is_the_limit():
    v = np.linspace(0, 2, 7)
    e_f2, e_df2 = second_moments("tanh", v)
    assert e_f2.shape == v.shape == e_df2.shape
    assert e_f2[0] < 1e-290 and e_df2[0] == pytest.approx(1.0, abs=1e-15)  # v = 0 as the limit v → 0⁺
    assert np.all(np.diff(e_f2) > 0) and np.all(np.diff(e_df2) < 0)
    s_f2, s_df2 = second_moments("sigmoid", 0.0)
    assert float(s_f2) == pytest.approx(0.25) and float(s_df2) == pytest.approx(1 / 16)
    with pytest.raises(ValueError):
        second_moments("tanh", -1.0)
