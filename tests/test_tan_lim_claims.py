"""Tan & Lim claims on tiny synthetic tables (no training): reproduced / not reproduced / inconclusive."""

import pandas as pd

from vanishing.studies.tan_lim.claims import (
    ACTIVATIONS, DEPTHS, OPTIMIZERS, paper_mcr, qualitative_row, seeds_per_cell, table_one, table_one_rows,
    training_rows,
)


def _runs(offset=0.0, seeds=(0, 1, 2), jitter=0.1, override=None):
    """One run per (kind, activation, depth, seed) with test MCR = paper + offset (± jitter per seed), as fractions."""
    rows = []
    for kind in OPTIMIZERS:
        for act in ACTIVATIONS:
            for depth in DEPTHS:
                for s in seeds:
                    mcr = paper_mcr(kind, act, depth) + offset + jitter * (s - 1)
                    if override and (kind, act, depth) in override:
                        mcr = override[(kind, act, depth)] + jitter * (s - 1)
                    rows.append({"run_id": f"{kind}-{act}-{depth}-{s}", "kind": kind, "activation": act,
                                 "depth": depth, "seed": s, "test_mcr": mcr / 100})
    return pd.DataFrame(rows)


def _epochs(runs, sdagd_lower=True):
    loss = runs.apply(lambda r: 0.1 if (r["kind"] == "sdagd") == sdagd_lower else 0.2, axis=1)
    return pd.DataFrame({"run_id": runs["run_id"], "epoch": 1, "train_loss": loss})


def _verdicts(rows):
    return {r["claim"]: r["verdict"] for r in rows}


def test_table_one_reproduced_on_three_seeds():
    rows = table_one_rows(_runs(), list(DEPTHS))
    assert len(rows) == 20
    assert {r["verdict"] for r in rows} == {"reproduced"}
    assert all(r["measured"][2] == 3 for r in rows)


def test_table_one_not_reproduced_when_far_and_off_direction():
    # SDAGD sigmoid hl-1 at 40% MCR: far from 3.34% and above SGD's 10.73% → not reproduced
    runs = _runs(override={("sdagd", "sigmoid", 1): 40.0})
    row = next(r for r in table_one_rows(runs, list(DEPTHS)) if r["claim"].startswith("Table I: SDAGD, sigmoid, hl-1"))
    assert row["verdict"] == "not reproduced"


def test_table_one_inconclusive_on_two_seeds_or_wide_interval():
    rows = table_one_rows(_runs(seeds=(0, 1)), list(DEPTHS))
    assert {r["verdict"] for r in rows} == {"inconclusive"}
    assert all("seeds" in r["reason"] for r in rows)
    wide = table_one_rows(_runs(jitter=30.0), list(DEPTHS))  # 2·s.e. ≈ 35 pp: wider than any bound
    assert {r["verdict"] for r in wide} == {"inconclusive"}


def test_training_claims_follow_the_seed_rule():
    runs = _runs()
    t1 = table_one(runs, list(DEPTHS))
    v = _verdicts(training_rows(runs, _epochs(runs), t1, list(DEPTHS)))
    assert v["Fig 3(b): SDAGD trains the sigmoid nets at every depth"] == "reproduced"
    assert v["Fig 3–4: SDAGD has a faster roll-off than SGD"] == "reproduced"
    slower = _verdicts(training_rows(runs, _epochs(runs, sdagd_lower=False), t1, list(DEPTHS)))
    assert slower["Fig 3–4: SDAGD has a faster roll-off than SGD"] == "not reproduced"
    two = _runs(seeds=(0, 1))
    v2 = training_rows(two, _epochs(two), table_one(two, list(DEPTHS)), list(DEPTHS))
    assert {r["verdict"] for r in v2} == {"inconclusive"}
    assert seeds_per_cell(two) == 2


def test_qualitative_row_keeps_non_verdicts():
    assert qualitative_row("c", "reproduced", "e", n=2)["verdict"] == "inconclusive"
    assert qualitative_row("c", "reproduced", "e", n=3)["verdict"] == "reproduced"
    assert qualitative_row("c", "not reproduced", "e", n=None)["verdict"] == "not reproduced"
