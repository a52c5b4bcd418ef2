"""``benchmarks/device_check.py --device cpu --quick``: the CI smoke test of the GPU proof script (issue 18)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_device_check_quick_on_the_cpu_exits_0_with_its_table_and_json(tmp_path):
    out = tmp_path / "device_check.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "device_check.py"), "--device", "cpu", "--quick",
         "--samples", "256", "--json", str(out)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = proc.stdout
    assert text.startswith("device check: cpu") and "tests (-m device):" in text and "matmul peak: fp32" in text
    for name in ("robinson", "tan", "pretorius", "pretorius-bn", "sdagd"):
        assert f"\n{name} " in text
    report = json.loads(out.read_text())
    env_ = report["environment"]
    assert {"torch", "cuda", "gpu", "device", "python"} <= env_.keys() and env_["device"] == "cpu" and env_["gpu"] is None
    tests = report["tests"]
    assert tests["ran"] and tests["ok"] and tests["selected"] >= 3 and tests["passed"] == tests["selected"]
    assert tests["failed"] == tests["errors"] == 0 and "VANISHING_TEST_DEVICE=cpu" in tests["command"]
    assert report["peak"]["fp32_tflops"] > 0 and report["peak"]["tf32_tflops"] is None  # TF32: CUDA only
    assert [r["config"] for r in report["suite"]] == ["robinson", "tan", "pretorius", "pretorius-bn", "sdagd"]
    for r in report["suite"]:
        assert r["ours_s"] > 0 and r["idiomatic_s"] > 0 and r["speedup"] > 0 and 0 < r["share_of_fp32_peak"]
        assert r["samples"] == 256
    assert [(r["width"], r["k"]) for r in report["seed_batching"]] == [(64, 1), (64, 2)]
    for r in report["seed_batching"]:
        assert r["sequential_s"] > 0 and r["batched_s"] > 0 and r["batched_tflops"] > 0
    assert report["status"] == "passed" and report["quick"] is True


def test_device_check_refuses_cuda_without_cuda_in_one_line(tmp_path):
    import pytest
    import torch

    if torch.cuda.is_available():
        pytest.skip("checks a machine without CUDA")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "device_check.py"), "--device", "cuda", "--quick"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "torch.cuda.is_available() is False" in proc.stderr
    assert not (tmp_path / "device_check.json").exists()


def test_device_check_stops_at_its_time_budget_and_says_what_it_left_out(tmp_path):
    out = tmp_path / "dc.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "device_check.py"), "--device", "cpu", "--quick",
                           "--no-tests", "--budget-s", "0", "--json", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report["tests"] == {"ran": False} and report["suite"] == [] and report["seed_batching"] == []
    assert report["skipped"][0] == "suite robinson" and report["skipped"][-1] == "seed batching width 64 K 2"
    assert "not measured (time budget --budget-s spent)" in proc.stdout and "not run (--no-tests)" in proc.stdout
