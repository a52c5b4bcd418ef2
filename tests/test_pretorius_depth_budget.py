"""scripts/pretorius_depth_budget.py: the runs frame it judges Fig 2a's depth trend on, and its bad-input line."""

import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def test_depth_budget_frame_reads_depth_and_width_and_keeps_finished_runs():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from pretorius_depth_budget import depth_frame
    finally:
        sys.path.pop(0)

    class Tables:
        runs = pd.DataFrame([
            {"run_id": "a", "hidden": "200,200", "status": "done", "test_acc": 0.98, "val_acc": 0.97},
            {"run_id": "b", "hidden": [200] * 8, "status": "done", "test_acc": 0.97, "val_acc": 0.96},
            {"run_id": "c", "hidden": "200,200,200,200", "status": "failed", "test_acc": None, "val_acc": None},
        ])
        epochs = pd.DataFrame({"run_id": ["a", "a", "b", "c"], "train_acc": [0.9, 0.99, 0.95, 0.5]})

    f = depth_frame(Tables)
    assert list(f["run_id"]) == ["a", "b"]
    assert list(f["depth"]) == [2, 8] and list(f["width"]) == [200, 200]
    assert list(f["test_pct"]) == [98.0, 97.0] and list(f["train_pct"]) == [99.0, 95.0]


def test_depth_budget_script_names_a_folder_that_is_not_a_results_root(tmp_path):
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "pretorius_depth_budget.py"), str(tmp_path)],
                       capture_output=True, text=True)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip().splitlines() == [f"error: {tmp_path}: not a results root (no runs/ folder)"]
