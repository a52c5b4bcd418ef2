"""The pretorius rate / batch-size ablation (studies/pretorius/sparsity_ablation.py) against hand-worked loops."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vanishing.studies.pretorius.sparsity_ablation import ablation_table, per_run, select

ROOT = Path(__file__).resolve().parents[1]


def _tables(seed=0):
    rng = np.random.default_rng(seed)
    runs, epochs, sparsity = [], [], []
    for setting, (lr, bs, level) in enumerate([(1e-3, 128, 0.73), (1e-3, 32, 0.80), (3e-3, 128, 0.88)]):
        for s in range(3):
            rid = f"r{setting}-s{s}"
            n_ep = 5 if rid != "r2-s2" else 3  # one run stopped short of the budget: left out
            runs.append({"run_id": rid, "seed": s, "lr": lr, "batch_size": bs})
            for e in range(0, n_ep + 1):
                if e:
                    epochs.append({"run_id": rid, "epoch": e, "val_acc": float(rng.choice([0.90, 0.95, 0.97])),
                                   "test_acc": float(rng.uniform(0.9, 1.0))})
                for layer in range(1, 5):
                    sparsity.append({"run_id": rid, "epoch": e, "layer": f"hidden{layer}",
                                     "sparsity": float(np.clip(level + rng.normal(0, 0.02), 0, 1))})
    return pd.DataFrame(runs), pd.DataFrame(epochs), pd.DataFrame(sparsity)


def test_per_run_selects_the_first_best_validation_epoch_within_the_budget_and_averages_layers():
    runs, epochs, sparsity = _tables()
    budget = 4
    got = per_run(runs, epochs, sparsity, budget).set_index("run_id")
    assert "r2-s2" not in got.index and len(got) == 8
    for rid in got.index:
        best_e, best_v = None, -1.0
        for _, row in epochs[epochs["run_id"] == rid].sort_values("epoch").iterrows():
            if 1 <= row["epoch"] <= budget and row["val_acc"] > best_v:  # strict: the first of equal maxima
                best_e, best_v, best_test = int(row["epoch"]), row["val_acc"], row["test_acc"]
        layer_mean = lambda e: 100 * sum(  # noqa: E731
            v for v in sparsity[(sparsity["run_id"] == rid) & (sparsity["epoch"] == e)]["sparsity"]) / 4
        assert got.loc[rid, "selected_epoch"] == best_e
        assert got.loc[rid, "sparsity_selected"] == pytest.approx(layer_mean(best_e), rel=1e-12)
        assert got.loc[rid, "sparsity_budget"] == pytest.approx(layer_mean(budget), rel=1e-12)
        assert got.loc[rid, "test_acc_selected"] == pytest.approx(100 * best_test, rel=1e-12)


def test_ablation_table_statistics_verdicts_and_effects():
    runs, epochs, sparsity = _tables()
    rows = per_run(runs, epochs, sparsity, 4)
    table = ablation_table(rows, paper=80.9, reference=(1e-3, 128)).set_index(["lr", "batch_size"])
    ref_vals = rows[(rows["lr"] == 1e-3) & (rows["batch_size"] == 128)]["sparsity_selected"].to_numpy()
    for key, part in rows.groupby(["lr", "batch_size"]):
        vals = part["sparsity_selected"].to_numpy()
        mean, se = vals.mean(), vals.std(ddof=1) / math.sqrt(len(vals))
        r = table.loc[key]
        assert r["n"] == len(vals) and r["sparsity_selected"] == pytest.approx(mean) and r["se"] == pytest.approx(se)
        if key != (1e-3, 128):
            ref_se = ref_vals.std(ddof=1) / math.sqrt(3)
            assert r["effect_vs_reference"] == pytest.approx(mean - ref_vals.mean())
            assert r["effect_se"] == pytest.approx(math.hypot(se, ref_se))
    assert table.loc[(1e-3, 128), "effect_why"] == "reference"
    assert table.loc[(1e-3, 128), "verdict"] == "not reproduced"  # ≈ 73% vs 80.9%, sparsity not raised
    assert table.loc[(1e-3, 32), "verdict"] == "reproduced"  # ≈ 80% within 3 pp of 80.9%
    assert table.loc[(1e-3, 32), "effect_verdict"] == "reproduced"  # raises it beyond 2 s.e.
    assert table.loc[(3e-3, 128), "n"] == 2 and table.loc[(3e-3, 128), "verdict"] == "inconclusive"  # n < 3
    assert table.loc[(3e-3, 128), "effect_verdict"] == "inconclusive"


def test_select_reads_the_store_and_config_forms_of_hidden():
    runs = pd.DataFrame([
        {"run_id": "a", "dataset": "mnist", "activation": "relu", "batch_norm": "off", "hidden": "200,200,200,200",
         "status": "done"},
        {"run_id": "b", "dataset": "mnist", "activation": "relu", "batch_norm": "off", "hidden": [200] * 4,
         "status": "done"},
        {"run_id": "c", "dataset": "mnist", "activation": "relu", "batch_norm": "before", "hidden": "200,200,200,200",
         "status": "done"},
        {"run_id": "d", "dataset": "mnist", "activation": "relu", "batch_norm": "off", "hidden": "200,200",
         "status": "done"},
        {"run_id": "e", "dataset": "mnist", "activation": "relu", "batch_norm": "off", "hidden": "200,200,200,200",
         "status": "running"},
        {"run_id": "f", "dataset": "cifar10", "activation": "relu", "batch_norm": "off", "hidden": "200,200,200,200",
         "status": "done"},
    ])
    assert list(select(runs)["run_id"]) == ["a", "b"]
    assert list(select(runs, dataset="cifar10")["run_id"]) == ["f"]


def test_script_names_a_folder_that_is_not_a_results_root(tmp_path):
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "pretorius_sparsity_ablation.py"), str(tmp_path),
                        str(tmp_path)], capture_output=True, text=True)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip().splitlines() == [f"error: {tmp_path}: not a results root (no runs/ folder)"]


def test_script_takes_the_ablation_root_alone_and_names_it_when_it_is_not_a_results_root(tmp_path):
    """The CIFAR-10 batch-norm sweep reruns its reference, so PAPER_ROOT may be left out."""
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "pretorius_sparsity_ablation.py"), str(tmp_path),
                        "--dataset", "cifar10", "--batch-norm", "before"], capture_output=True, text=True)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip().splitlines() == [f"error: {tmp_path}: not a results root (no runs/ folder)"]
