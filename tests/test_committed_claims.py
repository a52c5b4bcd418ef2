"""Issue 16's must-show on the committed tables: no row of docs/studies/*_claims.csv says
reproduced / not reproduced / partly for a seed-averaged number on n < 3 seeds, or (for claims in
percentage points, whose tolerance is 1 pp unless stated) on 2 s.e. > max(3 pp, 25% of |paper|), nor
for a directional claim (no paper number) whose effect lies within 2 s.e. of zero."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from vanishing.report.tables import VERDICTS, interval_bound

DOCS = Path(__file__).resolve().parents[1] / "docs" / "studies"
TABLES = sorted(DOCS.glob("*_claims.csv"))
DECISIVE = ("reproduced", "partly", "not reproduced")


def test_every_study_has_a_committed_table():
    assert {p.name.removesuffix("_claims.csv") for p in TABLES} >= {
        "robinson", "pretorius", "tan-lim", "chain", "zoo", "temporal"}


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.name)
def test_no_decisive_verdict_on_too_few_seeds_or_a_wide_interval(path):
    frame = pd.read_csv(path)
    assert "seed_averaged" in frame.columns, f"{path.name}: no seed_averaged column"
    assert set(frame["verdict"]) <= set(VERDICTS)
    bad = []
    for _, row in frame.iterrows():
        if str(row["seed_averaged"]) != "True" or row["verdict"] not in DECISIVE:
            continue
        n, se = float(row["n"]), float(row["se"])
        if n < 3:
            bad.append((row["claim"], f"n = {n:g}"))
            continue
        try:
            paper = float(row["paper"])
        except ValueError:  # a directional claim ("A beats B"): decisive only beyond 2 s.e. of zero
            if not (math.isfinite(se) and abs(float(row["mean"])) > 2 * se):
                bad.append((row["claim"], f"effect {row['mean']} within 2 s.e. = {2 * se:.2f} of zero"))
            continue
        if str(row["unit"]) in ("%", "pp", "nan"):
            if not math.isfinite(se) or 2 * se > interval_bound(paper, 1.0):
                bad.append((row["claim"], f"2 s.e. = {2 * se:.2f} > {interval_bound(paper, 1.0):.2f}"))
    assert not bad, f"{path.name}: {bad}"
