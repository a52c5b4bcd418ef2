"""benchmarks/watch_overhead.py end to end in --quick mode: the table and the JSON fields (timings are not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "watch_overhead.py"
MODEL_KEYS = ("steps", "blocks", "block_steps", "warmup_steps", "every", "max_overhead", "timed_span", "snapshots",
              "snapshot_steps", "snapshots_total", "snapshot_ms", "snapshot_share", "steps_per_snapshot", "off_ms", "on_ms",
              "ratio", "cpu_ratio", "ratio_median", "ratio_q25", "ratio_q75", "ratio_min", "ratio_max", "parameters",
              "hidden_layers", "target")


def run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout)


def table_rows(stdout: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in stdout.splitlines()
            if line.split()[:1] in (["gpt"], ["lstm"], ["resnet"]) and len(line.split()) >= 9 and line.split()[1].isdigit()}


def test_quick_run_prints_the_table_and_writes_json(tmp_path):
    out_json = tmp_path / "overhead.json"
    out = run("--quick", "--json", str(out_json))
    assert out.returncode == 0, out.stderr
    header = next(line for line in out.stdout.splitlines() if line.startswith("model"))
    for column in ("steps", "snaps", "steps/snap", "snap ms", "off ms/step", "on ms/step", "ratio", "CPU ratio", "IQR of pairs"):
        assert column in header
    assert "total on / total off" in out.stdout and "the figure to quote" in out.stdout
    rows = table_rows(out.stdout)
    assert sorted(rows) == ["gpt", "lstm", "resnet"]
    assert "1 thread(s)" in out.stdout and "every=watch()'s default" in out.stdout

    doc = json.loads(out_json.read_text())
    assert doc["quick"] is True and doc["threads"] == 1
    assert doc["steps"] == 30 and doc["block_steps"] == 5
    assert doc["every"] == "default" and "watch_default_every" in doc and "amortised" in doc["method"]
    assert [m["model"] for m in doc["models"]] == ["gpt", "lstm", "resnet"]
    for m in doc["models"]:
        for key in MODEL_KEYS:
            assert key in m, key
        assert m["steps"] == 30 and m["blocks"] == 6 and m["block_steps"] == m["warmup_steps"] == 5
        assert m["every"] == "default"
        assert m["off_ms"] > 0 and m["on_ms"] > 0 and m["ratio"] > 0
        assert m["ratio_min"] <= m["ratio_median"] <= m["ratio_max"] and m["ratio_q25"] <= m["ratio_q75"]
        assert m["snapshots"] == len(m["snapshot_steps"]) <= m["snapshots_total"] - 1  # step 0 is before the span
        lo, hi = m["timed_span"]
        assert hi - lo == m["steps"] and all(lo <= s <= hi for s in m["snapshot_steps"])
        assert (m["steps_per_snapshot"] is None) == (m["snapshots"] == 0)
        row = rows[m["model"]]
        assert int(row[1]) == m["steps"] and int(row[2]) == m["snapshots"]
    assert doc["models"][2]["hidden_layers"] > 1 and doc["models"][0]["hidden_layers"] > 1


def test_every_counts_the_snapshots_in_the_timed_span(tmp_path):
    out_json = tmp_path / "overhead.json"
    out = run("--quick", "--models", "resnet", "--every", "4", "--steps", "12", "--block-steps", "5", "--json", str(out_json))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out_json.read_text())
    assert doc["every"] == 4 and doc["steps"] == 12
    (m,) = doc["models"]
    assert m["every"] == 4 and m["steps"] == 12 and m["blocks"] == 3  # 5 + 5 + 2
    lo, hi = m["timed_span"]
    assert (lo, hi) == (5, 17)
    assert m["snapshots"] >= 2 and all(lo <= s <= hi for s in m["snapshot_steps"])
    assert m["steps_per_snapshot"] == m["steps"] / m["snapshots"]
    if m["snapshot_ms"] is not None:  # where Watch records snapshot_seconds
        assert m["snapshot_ms"] > 0 and 0 < m["snapshot_share"] < 1
    row = table_rows(out.stdout)["resnet"]
    assert int(row[2]) == m["snapshots"] and row[3] != "–"


def test_bad_model_name_is_a_usage_error():
    out = run("--quick", "--models", "gpt,vgg", timeout=120)
    assert out.returncode == 2 and "vgg" in out.stderr
