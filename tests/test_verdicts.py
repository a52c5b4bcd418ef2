"""The verdict rules of issue 16: every branch of numeric_verdict / direction_verdict, and properties (hypothesis)
that no decisive verdict is ever issued on fewer than 3 seeds or on an interval wider than the bound."""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vanishing.report import tables
from vanishing.report.tables import direction_verdict, interval_bound, numeric_verdict, seeds_to_resolve
from vanishing.studies.base import claims_frame, direction_claim_row, numeric_claim_row

DECISIVE = ("reproduced", "not reproduced", "partly")


@pytest.mark.parametrize(
    ("paper", "mean", "se", "n", "direction", "verdict", "in_reason"),
    [
        (93.7, 93.0, 0.2, 3, None, "reproduced", "≤ max(2 s.e."),          # within 1 pp
        (93.7, 91.0, 1.4, 5, None, "reproduced", "≤ max(2 s.e. = 2.80"),   # within 2 s.e.
        (93.7, 91.0, 0.5, 3, True, "partly", "the direction holds"),
        (93.7, 91.0, 0.5, 3, False, "not reproduced", "does not hold"),
        (93.7, 91.0, 0.5, 3, None, "not reproduced", "> max(2 s.e."),
        (9.0, 36.65, 26.65, 2, None, "inconclusive", "n = 2; needs ≥ 3 seeds"),  # robinson quick's ReLU-output row
        (9.0, 36.65, 26.65, 3, None, "inconclusive", "seeds would resolve it"),  # 53 pp > max(3, 2.25)
        (93.7, 93.0, math.nan, 3, None, "inconclusive", "no s.e."),
        (93.7, math.nan, 0.1, 3, None, "inconclusive", "no measurement"),
        (10.6, 11.35, math.nan, None, None, "reproduced", "no s.e."),  # not a seed average: no seed rule
    ],
)
def test_numeric_verdict_branches(paper, mean, se, n, direction, verdict, in_reason):
    got, reason = numeric_verdict(paper, mean, se, n=n, direction_holds=direction)
    assert got == verdict, reason
    assert in_reason in reason


def test_the_bound_is_three_tolerances_or_a_quarter_of_the_paper_value():
    assert interval_bound(9.0, 1.0) == 3.0
    assert interval_bound(80.0, 1.0) == 20.0
    assert interval_bound(-80.0, 10.0) == 30.0
    # 2 s.e. = 20.0 sits on the bound (decidable), 20.02 just over it (not)
    assert numeric_verdict(80.0, 79.0, 10.0, n=3)[0] == "reproduced"
    assert numeric_verdict(80.0, 79.0, 10.01, n=3)[0] == "inconclusive"


def test_seeds_to_resolve_follows_one_over_root_n():
    # s.e. 26.65 on 2 seeds, bound 3: n·(53.3/3)² = 631.3 → 632
    assert seeds_to_resolve(26.65, 2, 3.0) == math.ceil(2 * (53.3 / 3.0) ** 2)
    # never fewer than 3, never fewer than n + 1
    assert seeds_to_resolve(0.01, 5, 3.0) == 6
    assert seeds_to_resolve(math.nan, 1, 3.0) == 3
    # an effect a million times smaller than its noise: no seed count is offered
    assert seeds_to_resolve(1.0, 3, 1e-170) is None
    assert "no feasible number of seeds" in direction_verdict(1e-170, 1.0, 3)[1]


@pytest.mark.parametrize(
    ("effect", "se", "n", "sign", "verdict", "in_reason"),
    [
        (5.0, 1.0, 3, 1, "reproduced", "claimed direction"),
        (-5.0, 1.0, 3, -1, "reproduced", "claimed direction"),
        (-5.0, 1.0, 3, 1, "not reproduced", "against"),
        (1.5, 1.0, 4, 1, "inconclusive", "within 2 s.e. = 2.00 of zero"),
        (-1.5, 1.0, 4, 1, "inconclusive", "within 2 s.e."),
        (5.0, 1.0, 2, 1, "inconclusive", "needs ≥ 3 seeds"),
        (5.0, math.nan, 3, 1, "inconclusive", "without an s.e."),
        (math.nan, 1.0, 3, 1, "inconclusive", "no measurement"),
    ],
)
def test_direction_verdict_branches(effect, se, n, sign, verdict, in_reason):
    got, reason = direction_verdict(effect, se, n, sign=sign)
    assert got == verdict, reason
    assert in_reason in reason


def test_claim_rows_take_mean_se_over_the_seed_values():
    values = [10.0, 63.3]  # robinson quick: one seed near 10 %, one near 63 %
    row = numeric_claim_row("ReLU → ReLU output reaches ~9 %", 9.0, values)
    mean, se, n = row["measured"]
    assert (mean, n) == (statistics.mean(values), 2)
    assert se == pytest.approx(statistics.stdev(values) / math.sqrt(2))
    assert row["verdict"] == "inconclusive" and "needs ≥ 3 seeds" in row["reason"]
    frame = claims_frame([row, direction_claim_row("A beats B", "A > B", 4.0, 1.0, 3)])
    assert list(frame["verdict"]) == ["inconclusive", "reproduced"]
    assert list(frame["n"]) == [2, 3]


def test_inconclusive_has_its_own_colour_in_the_report(tmp_path):
    assert tables.verdict_class("inconclusive") == "unsure"
    assert len({tables.verdict_class(v) for v in tables.VERDICTS}) == len(tables.VERDICTS)
    from vanishing.report.html import Report

    rep = Report("t")
    rep.add_verdicts([{"claim": "c", "paper": 9.0, "measured": (36.65, 26.65, 2), "verdict": "inconclusive",
                       "reason": "n = 2; needs ≥ 3 seeds"}])
    html = rep.write(tmp_path / "report.html").read_text()
    assert 'class="unsure"' in html and "td.unsure {" in html


finite = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)


@settings(max_examples=400, deadline=None)
@given(paper=finite, mean=finite, se=st.floats(min_value=0, max_value=1e4, allow_nan=False), n=st.integers(0, 50),
       tolerance=st.floats(min_value=0.01, max_value=50), direction=st.sampled_from([None, True, False]))
def test_property_no_decisive_numeric_verdict_on_few_seeds_or_a_wide_interval(paper, mean, se, n, tolerance,
                                                                                direction):
    verdict, reason = numeric_verdict(paper, mean, se, n=n, tolerance=tolerance, direction_holds=direction)
    assert verdict in tables.VERDICTS and reason
    if n < 3 or 2 * se > interval_bound(paper, tolerance):
        assert verdict == "inconclusive", (verdict, reason)
    else:
        assert verdict in DECISIVE


@settings(max_examples=400, deadline=None)
@given(effect=finite, se=st.floats(min_value=0, max_value=1e4, allow_nan=False), n=st.integers(0, 50),
       sign=st.sampled_from([1, -1]))
def test_property_no_directional_verdict_within_noise(effect, se, n, sign):
    verdict, _ = direction_verdict(effect, se, n, sign=sign)
    if n < 3 or abs(effect) <= 2 * se:
        assert verdict == "inconclusive"
    else:
        assert verdict == ("reproduced" if sign * effect > 0 else "not reproduced")


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), min_size=0, max_size=8),
       paper=st.floats(min_value=0, max_value=100))
def test_property_claim_rows_are_never_decisive_below_three_seeds(values, paper):
    row = numeric_claim_row("c", paper, values)
    if len(values) < 3:
        assert row["verdict"] == "inconclusive"
