"""The two diagnostic benchmarks of docs/performance.md: the floor (ceiling.py) and the cross-core cost (cross_core.py).

Their figures are measured and quoted in the docs, never asserted here; these
tests hold what the figures rest on — the floor counts exactly the GEMMs the
throughput suite counts, the update is there for Adam only — and run each
script end to end on a few calls.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import ceiling  # noqa: E402
import run  # noqa: E402


@pytest.mark.parametrize("name", ["robinson", "tan", "pretorius"])
def test_the_floor_times_the_gemms_the_suite_counts(name):
    cfg = run.CONFIGS[name]
    widths = [784, *cfg["hidden"], 10]
    gemms = ceiling.step_gemms(widths, cfg["batch"], cfg["optimizer"] == "sgd")
    # per layer: forward, weight gradient (or the SGD update folded into it), input gradient but for the first layer
    assert len(gemms) == 3 * (len(widths) - 1) - 1
    assert sum(flops for _, flops, _ in gemms) == run.gemm_flops(widths, cfg["batch"])


def test_each_timed_gemm_computes_its_product():
    """The closures run the products they are named for (checked against a float64 reference)."""
    torch.manual_seed(0)
    gemms = ceiling.step_gemms([6, 5, 3], 4, inline_sgd=False)
    labels = [label for label, _, _ in gemms]
    assert labels == ["forward 6→5", "∂E/∂W 5×6", "forward 5→3", "∂E/∂W 3×5", "δ below 3→5"]
    for _, _, fn in gemms:
        out = fn()
        assert out is not None and torch.isfinite(out).all()
    fwd = gemms[0][2]
    h, w, b = (fwd.__defaults__[i] for i in range(3))
    assert torch.allclose(fwd().double(), h.double() @ w.double().T + b.double(), atol=1e-6)
    sgd = ceiling.step_gemms([6, 5], 4, inline_sgd=True)
    w, d, h = sgd[1][2].__defaults__
    before = w.clone()
    sgd[1][2]()
    assert torch.allclose(w.double(), before.double() - 1e-9 * d.double().T @ h.double(), atol=1e-7)


def test_the_update_is_adam_s_kernel_or_nothing():
    assert ceiling.optimizer_call([784, 8, 10], "sgd") is None
    step = ceiling.optimizer_call([784, 8, 10], "adam")
    adam = step.__self__
    assert isinstance(adam, torch.optim.Adam) and adam.defaults["fused"]
    assert [tuple(p.shape) for p in adam.param_groups[0]["params"]] == [(8, 784), (8,), (10, 8), (10,)]
    before = [p.clone() for p in adam.param_groups[0]["params"]]
    step()
    assert all(not torch.equal(b, p) for b, p in zip(before, adam.param_groups[0]["params"]))


def test_ceiling_runs_end_to_end_and_refuses_an_unknown_config():
    out = subprocess.run([sys.executable, str(BENCH / "ceiling.py"), "--configs", "tan", "--samples", "300",
                          "--repeats", "1", "--calls", "3"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "tan: floor" in out.stdout and "the best any engine on these kernels could reach: ×" in out.stdout
    bad = subprocess.run([sys.executable, str(BENCH / "ceiling.py"), "--configs", "sdagd"], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and "unknown config 'sdagd'" in bad.stderr


def test_cross_core_patterns_touch_the_same_bytes_and_leave_the_buffer_scaled_alike():
    import cross_core

    a = torch.randn(1000, dtype=torch.float64)
    b = a.clone()
    kept, handed = cross_core.handoff_pair(a, 1)
    assert kept > 0 and handed > 0
    # kept: ×1.0000001 then ×0.9999999 on everything; handed over: the same two factors, the second per half
    expected = b * 1.0000001 * 0.9999999
    assert torch.allclose(a, expected * 1.0000001 * 0.9999999, rtol=0, atol=1e-15)


def test_cross_core_runs_end_to_end():
    out = subprocess.run([sys.executable, str(BENCH / "cross_core.py"), "--rounds", "2", "--calls", "2"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "rounds where handing over cost more than 3× keeping:" in out.stdout
    assert len([line for line in out.stdout.splitlines() if line.strip().startswith(("1 ", "2 "))]) == 2
    bad = subprocess.run([sys.executable, str(BENCH / "cross_core.py"), "--rounds", "0"], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and "--rounds and --calls must be at least 1" in bad.stderr
