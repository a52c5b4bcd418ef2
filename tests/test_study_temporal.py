"""The temporal study on a tiny budget: report, figures, claims; and the computations the study does itself."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vanishing.report.tables import VERDICTS
from vanishing.studies import get, run_study
from vanishing.studies import temporal

FIGURES = ("grad_vs_k_adding", "grad_vs_k_copy", "dynamics_adding", "dynamics_copy", "error_vs_length", "init_profiles",
           "error_vs_steps")
CLAIMS = ("[004 §9] RNNs (tanh", "[004 §9] LSTM", "[004 §9] the LSTM's sigmoid gates",
          "[000 → Hochreiter 1998] temporal dependencies", "[000 → Hochreiter 1998] the error flowing back",
          "[000] “there may remain a place for the sigmoid", "[000] ReLU mitigates")
TINY = {"steps": 3, "seeds": 2, "lengths": [8, 12], "hidden": 6, "evals": 2, "eval_size": 30, "probe_size": 6,
        "ablation_lengths": [12]}


@pytest.fixture(scope="module")
def study_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("temporal")
    out = io.StringIO()
    result = run_study(get("temporal"), "quick", TINY, results=root, sweep_options={"workers": 0}, out=out)
    return root, result, out.getvalue()


def test_report_has_every_figure_and_claim(study_run):
    root, result, printed = study_run
    assert result["report"] == root / "report.html" and result["report"].exists()
    page = result["report"].read_text(encoding="utf-8")
    for name in FIGURES:
        assert (root / "figures" / f"{name}.png").stat().st_size > 10_000
        assert (root / "figures" / f"{name}.pdf").exists()
    assert page.count("<figure") == len(FIGURES)
    claims = pd.read_csv(root / "claims.csv")
    assert len(claims) == len(CLAIMS)
    for start, (_, row) in zip(CLAIMS, claims.iterrows()):
        assert row["claim"].startswith(start)
        assert row["verdict"] in VERDICTS
        assert isinstance(row["reason"], str) and len(row["reason"]) > 20
    assert "paper vs measured (quick)" in printed and f"report: {root / 'report.html'}" in printed


def test_every_configuration_ran_once(study_run):
    root, *_ = study_run
    from vanishing.recurrent import load

    res = load(root)
    p = {**get("temporal").scales["quick"], **TINY}
    plan = temporal.plan(p)
    expected = {c.run_id for group in plan.values() for c in group}
    assert set(res.runs["run_id"]) == expected and (res.runs["status"] == "done").all()
    assert len(plan["main"]) == 2 * 2 * 5 * 2  # tasks × lengths × cells × seeds
    assert len(plan["ablation"]) == 2 * 1 * 3 * 2  # tasks × ablation lengths × variants × seeds


def test_report_renders_in_chromium(study_run):
    from test_report_root import ARTIFACTS, assert_renders, open_in_chromium

    root, result, _ = study_run
    rendered = open_in_chromium(result["report"], ARTIFACTS / "study-temporal.png")
    assert_renders(rendered, len(FIGURES))


def test_run_measures_against_the_probe_table(study_run):
    """Attenuation and per-step factor recomputed from the stored probe rows by hand."""
    root, *_ = study_run
    from vanishing.recurrent import load

    res = load(root)
    runs = temporal.run_measures(res, res.runs)
    tg = res.probe("time_grad")
    for _, r in runs.sample(6, random_state=0).iterrows():
        k0 = 0 if r["task"] == "adding" else r["symbols"] - 1
        for when, step in (("init", 0), ("final", r["final_step"])):
            g = tg[(tg["run_id"] == r["run_id"]) & (tg["step"] == step)].sort_values("k")["grad_rms"].to_numpy()
            assert r[f"atten_{when}"] == pytest.approx(g[-1] / g[k0])
            assert r[f"rate_{when}"] == pytest.approx((g[-1] / g[k0]) ** (1 / (len(g) - 1 - k0)))
        if r["cell"].startswith("rnn_"):
            assert r["lin_dev_init"] < 1e-9 and r["bound_ok_init"]


def test_geometric_mean_and_log_format():
    frames = [pd.DataFrame({"v": [1.0, 1e-4, 0.0]}), pd.DataFrame({"v": [100.0, 1e-6, 1e-2]})]
    np.testing.assert_allclose(temporal._geo(frames, "v"), [10.0, 1e-5, 1e-2])  # zeros left out
    assert temporal._fmt_log([1e-3, 1e-5]).startswith("1e-4.0 (±1.0 dex)")
    assert temporal._fmt_log([1e-3]) == "1e-3.0"
    assert temporal._fmt([0.1, 0.3], 2, 100) == "20.00 ± 10.00"
    assert temporal._log_mean([0.0, math.nan]) == -math.inf


def test_study_cli_flags_override_the_scale():
    import argparse

    from vanishing.studies.commands import add_parser

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["study", "temporal", "--medium", "--steps", "7", "--lengths", "10,20", "--cells",
                              "lstm,gru", "--tasks", "copy", "--ablation-lengths", "20"])
    assert (args.scale, args.steps, args.lengths, args.cells, args.tasks, args.ablation_lengths) == \
        ("medium", 7, [10, 20], ["lstm", "gru"], ["copy"], [20])
    params = get("temporal").parameters("medium", {"steps": 7, "lengths": [10, 20], "cells": None})
    assert params["steps"] == 7 and params["lengths"] == [10, 20] and params["cells"] == list(temporal.CELL_ORDER)
