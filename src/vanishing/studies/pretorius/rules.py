"""Verdict rules of the Pretorius claims: one directional check, and checks combined into a qualitative claim.

Every check is a :func:`~vanishing.report.tables.direction_verdict` (issue 16):
"inconclusive" on fewer than 3 seeds, without an s.e., or with the effect
within 2 s.e. of zero; "reproduced" / "not reproduced" beyond 2 s.e. in /
against the claimed direction. A qualitative claim that rests on several
checks is decided by :func:`combine` (all must hold) or :func:`share` (a
share of cells must hold); an equivalence ("within 1 pp") by :func:`within`.
All are pure functions of numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ...analysis import mean_se
from ...report.tables import MIN_SEEDS, direction_verdict

DECIDED = ("reproduced", "not reproduced")


def diff(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, int]:
    """mean(a) − mean(b), its standard error √(se_a² + se_b²) (NaN when either has one value) and min(n_a, n_b)."""
    ma, sa, na = mean_se(a)
    mb, sb, nb = mean_se(b)
    se = math.sqrt(sa ** 2 + sb ** 2) if math.isfinite(sa) and math.isfinite(sb) else math.nan
    return ma - mb, se, min(na, nb)


def check(effect: float, se: float, n: int | None, sign: int = 1) -> str:
    """The verdict of one directional check "``effect`` has the sign ``sign``" (:func:`direction_verdict`)."""
    return direction_verdict(effect, se, n, sign=sign)[0]


def check_diff(a: Sequence[float], b: Sequence[float], sign: int = 1) -> str:
    """"mean(a) > mean(b)" (``sign`` = 1) or "<" (−1), per-seed values, as one directional check."""
    return check(*diff(a, b), sign=sign)


def within(effect: float, se: float, n: int | None, tolerance: float) -> str:
    """An equivalence "|effect| ≤ tolerance": "inconclusive" on n < 3 or no s.e.; "reproduced" when
    |effect| + 2 s.e. ≤ tolerance; "not reproduced" when |effect| − 2 s.e. > tolerance; else "inconclusive"."""
    if not math.isfinite(effect) or n is None or n < MIN_SEEDS or not math.isfinite(se):
        return "inconclusive"
    if abs(effect) + 2 * se <= tolerance:
        return "reproduced"
    if abs(effect) - 2 * se > tolerance:
        return "not reproduced"
    return "inconclusive"


def combine(parts: Sequence[str]) -> str:
    """A claim that needs every one of its checks (verdicts ``parts``).

    * every part "reproduced" → "reproduced";
    * no part contradicts ("not reproduced") and some part is "inconclusive" → "inconclusive"
      (more seeds could still decide it either way);
    * some part holds ("reproduced" or "partly") and some contradicts → "partly";
    * no part holds and some contradicts → "not reproduced";
    * otherwise (parts reproduced or partly, some partly) → "partly".
    No parts → "inconclusive".
    """
    parts = list(parts)
    if not parts:
        return "inconclusive"
    holds = sum(p in ("reproduced", "partly") for p in parts)
    against = sum(p == "not reproduced" for p in parts)
    if all(p == "reproduced" for p in parts):
        return "reproduced"
    if against == 0:
        return "inconclusive" if "inconclusive" in parts else "partly"
    return "partly" if holds else "not reproduced"


def share(parts: Sequence[str], need: float = 0.75) -> str:
    """A claim that holds "generally": a share ``need`` of its cells (one check each) must hold.

    With k cells reproduced, i inconclusive and j contradicting out of N:
    "reproduced" when k ≥ need·N; "inconclusive" when k + i ≥ need·N (the
    undecided cells could still carry it); "partly" when k > j; else "not reproduced".
    """
    parts = list(parts)
    if not parts:
        return "inconclusive"
    n, k = len(parts), sum(p == "reproduced" for p in parts)
    i, j = sum(p in ("inconclusive", "partly") for p in parts), sum(p == "not reproduced" for p in parts)
    if k >= need * n:
        return "reproduced"
    if k + i >= need * n:
        return "inconclusive"
    return "partly" if k > j else "not reproduced"


def tally(parts: Sequence[str]) -> str:
    """"k reproduced, j not, i inconclusive of N checks" — for the evidence text."""
    return (f"{sum(p == 'reproduced' for p in parts)} reproduced, {sum(p == 'not reproduced' for p in parts)} not, "
            f"{sum(p not in DECIDED for p in parts)} undecided of {len(parts)} checks")


def qualitative(claim: str, verdict: str, evidence: str, paper: str = "stated") -> dict:
    """A claim row without a number (the same shape as :meth:`StudyContext.qualitative_claim`)."""
    return {"claim": claim, "paper": paper, "measured": evidence, "verdict": verdict, "reason": evidence, "unit": ""}


def fmt(values: Sequence[float], digits: int = 2) -> str:
    m, se, n = mean_se(values)
    if n == 0:
        return "–"
    return f"{m:.{digits}f}" + (f" ± {se:.{digits}f}" if math.isfinite(se) else "")


def pm(value: float, se: float, digits: int = 2, unit: str = " pp") -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{value:+.{digits}f}" + (f" ± {se:.{digits}f}" if math.isfinite(se) else "") + unit


def m(values) -> float:
    return mean_se(values)[0]
