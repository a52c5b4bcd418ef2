"""The chain study's claims as pure functions of hand-made chain results: no drawing, no context."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from vanishing.studies.chain import back_profile, chain_gradients
from vanishing.studies.chain import claims as C


def _results(w, b=None, x=None):
    w = np.asarray(w, dtype=float)
    b = np.zeros_like(w) if b is None else np.asarray(b, dtype=float)
    x = np.full(w.shape[0], 0.5) if x is None else np.asarray(x, dtype=float)
    out, prof = {}, {}
    for act in ("sigmoid", "tanh", "relu"):
        r = chain_gradients(w, b, x, act)
        r["w_used"] = w
        out[act], prof[act] = r, back_profile(r)
    return out, prof


def test_derivative_claims_are_deterministic_and_decide_on_one_value():
    rows = C.derivative_claims({"sigmoid": (0.25, 0.0), "tanh": (1.0, 0.0)})
    assert [r["verdict"] for r in rows] == ["reproduced", "reproduced"]
    wrong = C.derivative_claims({"sigmoid": (0.3, 0.0), "tanh": (1.0, 0.0)})
    assert wrong[0]["verdict"] == "not reproduced"  # no seed rule: a single exact number


def test_step_and_bound_claims_reproduced_on_many_chains():
    rng = np.random.default_rng(0)
    res, prof = _results(rng.normal(1, 0.5, size=(50, 12)))
    rows = C.sigmoid_step_claims(res["sigmoid"]) + C.bound_claims(res["sigmoid"], 12)
    by = {r["claim"]: r for r in rows}
    every = next(r for c, r in by.items() if "at every layer" in c)
    assert every["verdict"] == "reproduced" and every["measured"][2] == 50
    ten = next(r for c, r in by.items() if "10⁻⁶" in c)
    assert ten["verdict"] in ("reproduced", "partly") and ten["measured"][0] < -6


def test_two_chains_are_inconclusive_everywhere():
    res, prof = _results([[1.0] * 12, [1.2] * 12])
    rows = C.sigmoid_step_claims(res["sigmoid"]) + C.bound_claims(res["sigmoid"], 12)
    rows += C.relu_claims(res["relu"], prof, depth=12, p_pos=0.9)
    rows.append(C.tanh_claim(prof, 0.5, 12))
    assert {r["verdict"] for r in rows} == {"inconclusive"}
    assert all("n = 2" in r["reason"] for r in rows)


def test_bound_on_r_layers_alone_not_reproduced_when_weights_are_large():
    """(¼)ʳ alone fails for chains with |w| = 4 at z ≈ 0 — every chain is above it: not reproduced."""
    w = np.full((5, 10), 4.0)
    b = np.zeros_like(w)
    b[:] = -2.0  # x = 0.5 and every y = σ(0) = 0.5: z_k = 4·0.5 − 2 = 0, factor 4·¼ = 1 at every layer
    res, _ = _results(w, b)
    below = next(r for r in C.bound_claims(res["sigmoid"], 10) if "below (¼)ʳ" in r["claim"])
    assert below["verdict"] == "not reproduced" and below["measured"][0] == 0.0


def test_tuned_claim_and_tanh_claim_both_ways():
    assert C.tuned_claim(1.0, 2.6, 0.35, 10)["verdict"] == "reproduced"
    assert C.tuned_claim(0.8, 2.6, 0.35, 10)["verdict"] == "not reproduced"

    def prof(log_mean, log_se, n=100):
        return pd.DataFrame({"t": [10], "log_mean": [log_mean], "log_se": [log_se], "n": [n], "zero": [0.0]})

    far = C.tanh_claim({"tanh": prof(-1.0, 0.05), "sigmoid": prof(-7.0, 0.05)}, 0.6, 10)
    assert far["verdict"] == "reproduced"
    close = C.tanh_claim({"tanh": prof(-5.5, 0.05), "sigmoid": prof(-7.0, 0.05)}, 0.6, 10)
    assert close["verdict"] == "not reproduced"  # 1.5 decades, beyond 2 s.e., below the claimed 2
    noisy = C.tanh_claim({"tanh": prof(-1.0, 3.0), "sigmoid": prof(-7.0, 3.0)}, 0.6, 10)
    assert noisy["verdict"] == "inconclusive" and "within 2 s.e." in noisy["reason"]


def test_relu_claims_exact_factor_and_dying_units():
    w = np.array([[1.0, 2.0, 0.5]] * 3 + [[1.0, -1.0, 2.0]] * 3)
    res, prof = _results(w)
    exact, dying = C.relu_claims(res["relu"], prof, depth=3, p_pos=0.9)
    assert exact["verdict"] == "reproduced" and exact["measured"][0] == 100.0
    assert dying["verdict"] == "reproduced" and "50.0% of the 3-layer ReLU chains have a dead unit" in dying["reason"]
    alive = _results(np.ones((4, 3)))
    assert C.relu_claims(alive[0]["relu"], alive[1], depth=3, p_pos=1.0)[1]["verdict"] == "not reproduced"


def test_claims_in_report_order():
    rng = np.random.default_rng(1)
    res, prof = _results(rng.normal(1, 0.5, size=(40, 12)))
    rows = C.claims(res, prof, depth=12, maxima={"sigmoid": (0.25, 0.0), "tanh": (1.0, 0.0)}, tuned=(1.0, 2.6, 0.35),
                    p_pos=0.977)
    assert len(rows) == 12 and all(math.isfinite(r["measured"][2]) for r in rows if isinstance(r["measured"], tuple))


def test_every_scale_of_the_three_split_studies_has_three_seeds_and_a_paper_scale():
    from vanishing.studies import get

    for name in ("robinson", "chain", "temporal"):
        study = get(name)
        assert list(study.scales) == ["quick", "medium", "paper", "full"], name
        assert all(s["seeds"] >= 3 for s in study.scales.values()), name
    paper = get("temporal").scales["paper"]
    assert paper["cells"] == ["rnn_tanh", "lstm", "gru"] and max(paper["lengths"]) == 200
    assert paper["steps"] * paper["batch_size"] >= 4 * 74_000  # over 4 × Hochreiter & Schmidhuber's T = 100 budget
