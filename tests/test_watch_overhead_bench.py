"""benchmarks/watch_overhead.py end to end in --quick mode: the table and the JSON fields (timings are not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "watch_overhead.py"


def test_quick_run_prints_the_table_and_writes_json(tmp_path):
    out_json = tmp_path / "overhead.json"
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--json", str(out_json)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    header = next(line for line in out.stdout.splitlines() if line.startswith("model"))
    for column in ("steps", "off ms/step", "on ms/step", "ratio"):
        assert column in header
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines() if line.split()[:1] in (["gpt"], ["lstm"], ["resnet"])
            and len(line.split()) >= 5 and line.split()[1].isdigit()}
    assert sorted(rows) == ["gpt", "lstm", "resnet"]
    assert "1 thread(s)" in out.stdout

    doc = json.loads(out_json.read_text())
    assert doc["quick"] is True and doc["threads"] == 1 and doc["every"] == 5 and doc["pairs"] == 2
    assert [m["model"] for m in doc["models"]] == ["gpt", "lstm", "resnet"]
    for m in doc["models"]:
        for key in ("steps", "off_ms", "on_ms", "ratio", "ratio_q25", "ratio_q75", "ratio_min", "ratio_max", "cpu_ratio",
                    "snapshots", "parameters", "block_steps", "every", "target"):
            assert key in m, key
        assert m["steps"] == m["pairs"] * m["block_steps"] == 10
        assert m["off_ms"] > 0 and m["on_ms"] > 0 and m["ratio"] > 0
        assert m["ratio_min"] <= m["ratio"] <= m["ratio_max"]
        assert m["snapshots"] >= 3  # step 0, after the warm-up block, one per measured "on" block
        assert int(rows[m["model"]][1]) == m["steps"]
    assert doc["models"][2]["hidden_layers"] > 1 and doc["models"][0]["hidden_layers"] > 1


def test_bad_model_name_is_a_usage_error():
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--models", "gpt,vgg"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and "vgg" in out.stderr
