"""The ``robinson`` study (seed 000): a tiny end-to-end run, its claims checked against the stored runs."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

import vanishing
from vanishing.report.tables import VERDICTS
from vanishing.studies import get, run_study

STUDY = get("robinson")
FIGURES = ("grad_norms_sigmoid", "grad_norms_relu", "delta_sigmoid", "delta_relu", "learning_curves")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("robinson")
    overrides = {"epochs": 2, "seeds": 2, "train_subset": 600, "widths": [16]}
    lines = []

    class Out:
        def write(self, text):
            lines.append(text)

        def flush(self):
            pass

    result = run_study(STUDY, "quick", overrides, results=root, sweep_options={"workers": 0, "display": "silent"},
                       out=Out())
    return root, result, "".join(lines)


def test_report_has_every_figure_and_the_command(tiny):
    root, result, printed = tiny
    page = result["report"].read_text()
    assert page.count("<figure") == len(FIGURES)
    for name in FIGURES:
        assert (root / "figures" / f"{name}.png").stat().st_size > 1000, name
        assert (root / "figures" / f"{name}.pdf").exists(), name
    assert "vanishing study robinson --quick" in page
    assert printed.rstrip().endswith(f"report: {result['report']}")  # README command 1 ends with the report's path


def test_the_data_source_is_said_before_training(tiny):
    _, _, printed = tiny
    first = printed.strip().splitlines()[0]
    assert first.startswith("[robinson] data: mnist-sample: ") and "bundled with the package" in first


def test_every_claim_has_a_verdict_and_a_reason(tiny):
    root, _, _ = tiny
    claims = pd.read_csv(root / "claims.csv")
    assert set(claims["verdict"]) <= set(VERDICTS) and claims["reason"].notna().all()
    # 2 epochs < 10: no 10-epoch claims; the rest are all there
    expected = ["ReLU val accuracy after 2 epochs", "sigmoid stalls at 10.6% after 2 epochs", "no epochal improvement",
                "depends on the optimizer", "no speed difference", "gradients vanish towards the input",
                "ReLU output layer", "whatever its output layer", "÷255÷784"]
    for part in expected:
        assert claims["claim"].str.contains(part, regex=False).sum() == 1, part
    assert len(claims) == len(expected)


def test_numeric_claims_are_the_mean_of_the_stored_runs(tiny):
    """The 'ReLU accuracy' claim = mean over seeds of test_acc at the last epoch of the Keras-default ReLU runs."""
    root, _, _ = tiny
    claims = pd.read_csv(root / "claims.csv")
    res = vanishing.load(root)
    runs = res.runs[(res.runs["activation"] == "relu") & (res.runs["optimizer"].str.startswith("sgd"))
                    & (res.runs["output"] == "softmax") & (res.runs["pixel_divisor"] == 255)]
    assert len(runs) == 2
    last = res.epochs[res.epochs["run_id"].isin(runs["run_id"]) & (res.epochs["epoch"] == 2)]
    expected = 100 * last["test_acc"].mean()
    row = claims[claims["claim"].str.startswith("ReLU val accuracy after 2 epochs")].iloc[0]
    assert row["mean"] == pytest.approx(expected, abs=1e-9) and row["n"] == 2


def test_gradient_claim_recomputed_from_the_probe_table(tiny):
    """hidden1/hidden4 weight-gradient ratio over the first 100 steps, recomputed by a plain loop over rows."""
    root, _, _ = tiny
    claims = pd.read_csv(root / "claims.csv")
    res = vanishing.load(root)
    grad = res.probes["grad_norms"]
    keras = res.runs[res.runs["optimizer"].str.startswith("sgd") & (res.runs["output"] == "softmax")
                     & (res.runs["pixel_divisor"] == 255)]
    ratios = {}
    for act in ("sigmoid", "relu"):
        ids = set(keras[keras["activation"] == act]["run_id"])
        sums = {"hidden1": [0.0, 0], "hidden4": [0.0, 0]}
        for row in grad.itertuples(index=False):
            if row.run_id in ids and row.step <= 100 and row.layer in sums:
                sums[row.layer][0] += row.weight_l2
                sums[row.layer][1] += 1
        ratios[act] = (sums["hidden1"][0] / sums["hidden1"][1]) / (sums["hidden4"][0] / sums["hidden4"][1])
    reason = claims[claims["claim"].str.contains("gradients vanish towards the input")].iloc[0]["reason"]
    found = dict(re.findall(r"(sigmoid|ReLU) ([0-9.e+-]+)", reason))
    assert float(found["sigmoid"]) == pytest.approx(ratios["sigmoid"], rel=1e-2)
    assert float(found["ReLU"]) == pytest.approx(ratios["relu"], rel=1e-2)
    assert math.isfinite(ratios["sigmoid"]) and ratios["sigmoid"] > 0


def test_cli_widths_flag_reaches_the_parameters():
    import argparse

    from vanishing.studies.robinson import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args(["--widths", "64,256"]).widths == [64, 256]
    assert STUDY.parameters("quick", {"widths": [64, 256]})["widths"] == [64, 256]
