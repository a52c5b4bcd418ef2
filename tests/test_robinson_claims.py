"""Robinson's claims as pure functions of a synthetic per-seed accuracy table: no training."""

from __future__ import annotations

import pytest

from vanishing.studies.robinson import claims as C

W = 128


def _table(relu=(91.0, 91.2, 90.8), sigmoid=(10.6, 10.5, 10.7), relu_out_relu=(9.0, 9.2, 8.8),
           sig_out=(10.5, 10.4, 10.6), adam_sigmoid=(95.0, 95.5, 94.5), relu784=(11.0, 11.3, 10.8), times=1.0):
    main = ("main", "keras-sgd", W)
    groups = {
        (*main, "relu", "softmax", "/255"): relu,
        (*main, "sigmoid", "softmax", "/255"): sigmoid,
        ("main", "adam", W, "sigmoid", "softmax", "/255"): adam_sigmoid,
        ("output-ablation", "keras-sgd", W, "relu", "relu", "/255"): relu_out_relu,
        ("output-ablation", "keras-sgd", W, "sigmoid", "relu", "/255"): sig_out,
        ("output-ablation", "keras-sgd", W, "sigmoid", "sigmoid", "/255"): sig_out,
        ("input-784", "keras-sgd", W, "relu", "softmax", "/255/784"): relu784,
    }
    return C.synthetic_table(groups, epoch_time_s=times)


def _row(rows, text):
    found = [r for r in rows if text in r["claim"]]
    assert len(found) == 1, text
    return found[0]


def test_issue_16_quick_run_row_two_seeds_10_and_63_is_inconclusive():
    """The quick run's 'ReLU output ~9%: 36.65 ± 26.65 (n=2) → reproduced' is now inconclusive."""
    rows = C.output_claims(_table(relu_out_relu=(10.0, 63.3)), width=W, epochs=5)
    row = _row(rows, "ReLU output layer reaches only ~9%")
    mean, se, n = row["measured"]
    assert mean == pytest.approx(36.65) and se == pytest.approx(26.65) and n == 2
    assert row["verdict"] == "inconclusive"
    assert "n = 2; needs ≥ 3 seeds" in row["reason"]


def test_three_seeds_with_a_53pp_band_are_still_inconclusive_and_say_how_many_seeds():
    rows = C.output_claims(_table(relu_out_relu=(10.0, 63.3, 10.0)), width=W, epochs=5)
    row = _row(rows, "ReLU output layer")
    assert row["verdict"] == "inconclusive" and "seeds would resolve it" in row["reason"]


def test_numeric_claims_reproduced_and_not_reproduced():
    good = C.claims(_table(), width=W, epochs=10)
    for text in ("after 5 epochs ≈ 91%", "sigmoid stalls at 10.6% after 10", "ReLU output layer", "whatever its output"):
        assert _row(good, text)["verdict"] == "reproduced", text
    bad = C.claims(_table(relu_out_relu=(80.0, 81.0, 79.0), sigmoid=(85.0, 86.0, 84.0)), width=W, epochs=10)
    assert _row(bad, "ReLU output layer")["verdict"] == "not reproduced"  # not far below the softmax ReLU
    assert _row(bad, "sigmoid stalls at 10.6% after 5")["verdict"] == "not reproduced"  # no gap: direction fails
    partly = C.claims(_table(sigmoid=(60.0, 61.0, 59.0)), width=W, epochs=10)
    assert _row(partly, "sigmoid stalls at 10.6% after 5")["verdict"] == "partly"  # off, but far below ReLU


def test_no_epochal_improvement_speed_and_setting_claims():
    rows = C.claims(_table(), width=W, epochs=10)
    assert _row(rows, "no epochal improvement")["verdict"] == "reproduced"  # gains of 0 on 3 seeds
    assert _row(rows, "no speed difference")["verdict"] == "reproduced"
    assert _row(rows, "depends on the optimizer")["verdict"] == "reproduced"  # Adam ≫ SGD beyond 2 s.e.
    assert _row(rows, "÷255÷784")["verdict"] == "reproduced"  # 20 − 11 ≫ 2 s.e.
    two = C.claims(_table(relu=(91.0, 91.2), sigmoid=(10.6, 10.5), adam_sigmoid=(95.0, 96.0)), width=W, epochs=10)
    for text in ("after 5 epochs ≈ 91%", "no epochal improvement", "depends on the optimizer", "no speed difference"):
        assert _row(two, text)["verdict"] == "inconclusive", text


def test_setting_claim_inconclusive_within_two_se_and_not_reproduced_against():
    noisy = C.optimizer_claim(_table(adam_sigmoid=(11.0, 40.0, 10.0)), width=W, early=5)
    assert noisy["verdict"] == "inconclusive" and "within 2 s.e." in noisy["reason"]
    against = C.optimizer_claim(_table(adam_sigmoid=(5.0, 5.1, 4.9)), width=W, early=5)
    assert against["verdict"] == "not reproduced"


def test_gradient_claim_needs_three_seeds():
    ratios = {"sigmoid": 1e-3, "relu": 0.5}
    assert C.gradient_claim(ratios, width=W, n=3)["verdict"] == "reproduced"
    row = C.gradient_claim(ratios, width=W, n=2)
    assert row["verdict"] == "inconclusive" and "sigmoid 0.001, ReLU 0.5" in row["reason"]
    assert C.gradient_claim({"sigmoid": 0.4, "relu": 0.5}, width=W, n=3)["verdict"] == "partly"


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_acc = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(_acc, min_size=1, max_size=2), st.lists(_acc, min_size=1, max_size=2),
       st.lists(_acc, min_size=1, max_size=2))
def test_property_no_decisive_verdict_on_fewer_than_three_seeds(relu, sigmoid, relu_out_relu):
    """Whatever the accuracies, a table of 1–2 seeds never yields reproduced / not reproduced / partly."""
    n = min(len(relu), len(sigmoid), len(relu_out_relu))
    relu, sigmoid, relu_out_relu = relu[:n], sigmoid[:n], relu_out_relu[:n]
    table = _table(relu=relu, sigmoid=sigmoid, relu_out_relu=relu_out_relu, sig_out=sigmoid,
                   adam_sigmoid=relu, relu784=sigmoid)
    rows = C.claims(table, width=W, epochs=10, grad_ratios={"sigmoid": 1e-3, "relu": 0.5}, grad_n=n)
    assert {r["verdict"] for r in rows} == {"inconclusive"}
