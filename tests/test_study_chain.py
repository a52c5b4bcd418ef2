"""The ``chain`` study (seed 003): its vectorised chain computation, its summaries, and a tiny end-to-end run."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

from vanishing.report.tables import VERDICTS
from vanishing.studies import get, run_study
from vanishing.studies.chain import (
    ACTIVATIONS,
    alive_fraction,
    back_profile,
    chain_gradients,
    draw_chains,
    step_factors,
)
from vanishing.theory import scalar_chain, scalar_chain_bound

STUDY = get("chain")
FIGURES = ("chain_gradients", "step_factors", "activation_derivatives", "relu_alive", "spreads")
CLAIMS = 12


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_chain_gradients_match_the_scalar_chain_of_the_theory_module(activation):
    """Every chain's ∂J/∂y_k and bound equal those of vanishing.theory.scalar_chain, one chain at a time."""
    ch = draw_chains(6, 9, w_std=1.0, b_std=0.5, seed=3)
    res = chain_gradients(ch["w"], ch["b"], ch["x"], activation)
    for i in range(6):
        ref = scalar_chain(ch["w"][i], ch["b"][i], ch["x"][i], activation=activation)
        np.testing.assert_allclose(res["z"][i], ref["z"], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(res["dJ_dy"][i, 1:], ref["dC_dy"], rtol=1e-12, atol=1e-300)
        assert res["dJ_dy"][i, 0] == pytest.approx(ref.attrs["dC_dx"], rel=1e-12, abs=1e-300)
        # scalar_chain_bound bounds ∂C/∂b_k = φ′(z_k)·∂C/∂y_k: one factor M more than our bound on ∂C/∂y_k
        m = res["max_df"]
        np.testing.assert_allclose(m * res["bound"][i, 1:], scalar_chain_bound(ch["w"][i], activation=activation), rtol=1e-12)


def test_chain_gradients_by_autograd():
    """An independent computation: torch autograd through the same chain (float64)."""
    import torch

    ch = draw_chains(4, 7, seed=5)
    res = chain_gradients(ch["w"], ch["b"], ch["x"], "sigmoid")
    for i in range(4):
        ys = [torch.tensor(ch["x"][i], dtype=torch.float64, requires_grad=True)]
        for k in range(7):
            ys.append(torch.sigmoid(ch["w"][i, k] * ys[-1] + ch["b"][i, k]))
        for y in ys:
            y.retain_grad()
        ys[-1].backward()
        got = [float(y.grad) for y in ys[:-1]] + [1.0]
        np.testing.assert_allclose(res["dJ_dy"][i], got, rtol=1e-10)


def test_bounds_hold_and_relu_is_exact():
    ch = draw_chains(2000, 15, seed=1)
    for act in ACTIVATIONS:
        res = chain_gradients(ch["w"], ch["b"], ch["x"], act)
        assert (np.abs(res["dJ_dy"]) <= res["bound"] * (1 + 1e-12)).all()
    relu = chain_gradients(ch["w"], ch["b"], ch["x"], "relu")
    active = relu["dphi"] > 0
    fac = step_factors(relu)
    # where the gradient is non-zero and the unit is active, the factor is exactly |w|
    ok = active & np.isfinite(fac)
    np.testing.assert_allclose(fac[ok], np.abs(ch["w"])[ok], rtol=1e-12)
    # sigmoid: each layer's factor is at most ¼|w|
    sig = chain_gradients(ch["w"], ch["b"], ch["x"], "sigmoid")
    assert (step_factors(sig) <= 0.25 * np.abs(ch["w"]) * (1 + 1e-12)).all()


def test_alive_fraction_is_the_share_of_positive_weight_prefixes():
    """With b = 0 and x > 0 a ReLU chain's first r units are all active iff its first r weights are positive."""
    ch = draw_chains(5000, 12, seed=2)
    res = chain_gradients(ch["w"], ch["b"], ch["x"], "relu")
    expected = np.cumprod(ch["w"] > 0, axis=1).mean(axis=0)
    np.testing.assert_array_equal(alive_fraction(res), expected)
    assert 0 < alive_fraction(res)[-1] < 1


def test_back_profile_on_a_hand_made_chain():
    """Two chains of two layers whose gradients are known: compare every column with a direct computation."""
    w = np.array([[1.0, 2.0], [-1.0, 0.5]])
    b = np.zeros_like(w)
    x = np.array([0.5, 0.2])
    res = chain_gradients(w, b, x, "relu")
    # chain 0: both units active, ∂J/∂y_1 = 2, ∂J/∂y_0 = 2·1 = 2; chain 1: unit 1 dead → z_2 = 0 → all zero below the top
    np.testing.assert_allclose(res["dJ_dy"], [[2.0, 2.0, 1.0], [0.0, 0.0, 1.0]])
    prof = back_profile(res).set_index("t")
    assert prof.loc[0, "log_mean"] == 0 and prof.loc[0, "zero"] == 0
    assert prof.loc[1, "zero"] == 0.5 and prof.loc[1, "n"] == 1
    assert prof.loc[1, "log_mean"] == pytest.approx(math.log10(2.0))
    assert prof.loc[2, "bound_log_mean"] == pytest.approx(math.log10(2.0))  # over the non-zero chain only
    assert prof.loc[2, "below_bound"] == 1.0
    assert prof.loc[2, "below_plain"] == 0.5  # M^t = 1: chain 0's 2 exceeds it, chain 1's 0 does not


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError):
        chain_gradients(np.ones((2, 3)), np.ones((2, 2)), np.ones(2))


def test_tiny_run_writes_report_figures_and_every_claim(tmp_path):
    out = run_study(STUDY, "quick", {"seeds": 300, "depth": 12, "spreads": [0.5, 1.0]}, results=tmp_path / "chain",
                    out=io.StringIO())
    report = out["report"]
    assert report.exists()
    html = report.read_text()
    assert html.count("<figure") == len(FIGURES)
    for name in FIGURES:
        assert (tmp_path / "chain" / "figures" / f"{name}.png").stat().st_size > 1000
        assert (tmp_path / "chain" / "figures" / f"{name}.pdf").exists()
    claims = pd.read_csv(tmp_path / "chain" / "claims.csv")
    assert len(claims) == CLAIMS
    assert set(claims["verdict"]) <= set(VERDICTS)
    assert claims["reason"].notna().all()
    # the bound itself can never fail, and ReLU is exactly |w| where active
    bound = claims[claims["claim"].str.contains("at every layer of the chain")]
    assert bound["verdict"].item() == "reproduced" and bound["mean"].item() == 100.0
    # the article's 10⁻⁶ at r = 10: our chains decay faster (σ′ < ¼ off z = 0, E log|w| < 0)
    ten = claims[claims["claim"].str.contains("10⁻⁶")]
    assert ten["mean"].item() < -6.0


def test_cli_flags_reach_the_parameters(tmp_path):
    from vanishing.cli import main

    assert main(["study", "chain", "--quick", "--seeds", "50", "--depth", "10", "--w-std", "0.25", "--spreads", "0.5",
                 "--results", str(tmp_path / "c")]) == 0
    html = (tmp_path / "c" / "report.html").read_text()
    assert "seeds = 50, depth = 10, w_mean = 1.0, w_std = 0.25, b_std = 0.0, spreads = [0.5]" in html
    assert pd.read_csv(tmp_path / "c" / "claims.csv")["n"].max() == 50
