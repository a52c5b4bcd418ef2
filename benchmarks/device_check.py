"""One command that proves the CUDA path (issue 18): device tests, engine benchmarks and the seed-batching grid.

    PYTHONPATH=src python3 benchmarks/device_check.py --data DIR            # on a GPU machine (≤ 8 minutes)
    PYTHONPATH=src python3 benchmarks/device_check.py --device cpu --quick  # the CI smoke test

No network, no install step: it needs only torch, numpy, pandas, pytest and
what the package imports. It prints a table and writes ``device_check.json``
(``--json PATH``) with

* ``environment`` — torch, CUDA, GPU name, Python, platform, the device;
* ``tests`` — the ``-m device`` test run on that device
  (``VANISHING_TEST_DEVICE``): passed / failed / errors / skipped counts;
* ``peak`` — the device's measured ``torch.mm`` rate in TFLOP/s, fp32 (TF32
  off) and TF32 (on CUDA only);
* ``suite`` — our engine (``vanishing.train.fit``) against the idiomatic
  loop (``DataLoader`` + ``nn.Sequential`` + torch optimizer, batches moved
  to the device) per config of ``benchmarks/run.py`` (robinson, tan,
  pretorius ± BN, sdagd): seconds for one epoch, speed-up, achieved TFLOP/s
  and its share of the fp32 peak;
* ``seed_batching`` — K sequential runs against one K-seed batch, K = 1…16,
  widths 64–800 (784 → width×4 → 10, batch 128, Adam): speed-up and
  achieved TFLOP/s; this is the measurement the GPU branch of the seed-batching
  rule (``vanishing.seedbatch.rule``) waits for.

The exit status is 0 when every selected device test passed, 1 otherwise;
measurements not started because ``--budget-s`` was spent are listed under
``skipped``. ``--quick`` shrinks everything to a smoke
check (a few device tests, a few hundred samples, one small grid point):
its numbers are not figures to quote.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
if (ROOT / "src" / "vanishing").is_dir() and str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

QUICK_TESTS = ["tests/test_device.py", "-k", "auto_chooses or inline_sgd or forward_and_backward"]


def environment(device) -> dict:
    import torch

    info = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "device": str(device),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
        info["capability"] = f"{props.major}.{props.minor}"
    return info


def run_device_tests(device, quick: bool, timeout: float) -> dict:
    """``python -m pytest -m device`` on ``device`` in a subprocess; counts from its JUnit XML."""
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "junit.xml"
        # the test files that hold device-marked tests (found by their marker, so that a test module needing an
        # optional package the GPU image lacks cannot break the collection)
        marked = sorted(f"tests/{f.name}" for f in (ROOT / "tests").glob("test_*.py") if "mark.device" in f.read_text())
        selection = QUICK_TESTS if quick else marked
        cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-m", "device", *selection,
               f"--junitxml={xml}"]
        env = {**os.environ, "VANISHING_TEST_DEVICE": str(device),
               "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
            rc, tail = proc.returncode, (proc.stdout + proc.stderr)[-3000:]
        except subprocess.TimeoutExpired as exc:
            rc, tail = 124, f"timed out after {timeout:.0f} s: {(exc.stdout or '')[-2000:]}"
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        failed = []
        if xml.exists():
            root = ET.parse(xml).getroot()
            for suite in ([root] if root.tag == "testsuite" else root.iter("testsuite")):
                for key in counts:
                    counts[key] += int(suite.get(key, 0))
                for case in suite.iter("testcase"):
                    if case.find("failure") is not None or case.find("error") is not None:
                        failed.append(f"{case.get('classname')}::{case.get('name')}")
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    return {
        "command": " ".join(["VANISHING_TEST_DEVICE=" + str(device), "python -m pytest -m device", *selection]),
        "selected": counts["tests"], "passed": passed, "failed": counts["failures"], "errors": counts["errors"],
        "skipped": counts["skipped"], "failed_tests": failed[:50], "returncode": rc,
        "seconds": round(time.perf_counter() - start, 1), "ok": rc == 0 and counts["tests"] > 0,
        **({"output_tail": tail} if rc != 0 else {}),
    }


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_peak(device, quick: bool) -> dict:
    """Best ``torch.mm`` float32 rate (TFLOP/s) over square sizes, TF32 off and (CUDA only) on."""
    import torch

    sizes = (256, 512) if quick else ((1024, 2048, 4096, 8192) if device.type == "cuda" else (256, 512, 1024, 2048))

    def best_rate() -> float:
        best = 0.0
        for size in sizes:
            a = torch.randn(size, size, device=device)
            b = torch.randn(size, size, device=device)
            out = torch.empty(size, size, device=device)
            torch.mm(a, b, out=out)
            _sync(device)
            reps = max(3, int((2e11 if device.type == "cuda" else 2e9) / (2 * size**3)))
            if quick:
                reps = 3
            start = time.perf_counter()
            for _ in range(reps):
                torch.mm(a, b, out=out)
            _sync(device)
            best = max(best, 2 * size**3 * reps / (time.perf_counter() - start) / 1e12)
        return best

    old = torch.backends.cuda.matmul.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32 = False
        fp32 = best_rate()
        tf32 = None
        if device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True
            tf32 = best_rate()
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old
    return {"fp32_tflops": fp32, "tf32_tflops": tf32, "sizes": list(sizes)}


def _data(n: int):
    from run import load_mnist

    from vanishing.data import Dataset

    name, x, y = load_mnist(n)
    tiny = (x[:1], y[:1])
    return name, Dataset(name, x, y, *tiny, *tiny, tuple(str(i) for i in range(10)), False, name)


def measure_config(name: str, cfg: dict, device, samples: int, repeats: int) -> dict:
    """One epoch of ours (fit, probes off) and of the idiomatic loop on ``device``; medians over ``repeats``."""
    import torch
    from run import CONFIGS, WARMUP_STEPS, gemm_flops, idiomatic_model  # noqa: F401
    from torch.utils.data import DataLoader, TensorDataset

    from vanishing.config import ExecConfig, RunConfig, resolve, with_overrides
    from vanishing.train import fit

    data_name, data = _data(samples)
    config = resolve(with_overrides(RunConfig(), {
        "model.hidden": cfg["hidden"], "model.activation": cfg["activation"], "model.init": cfg["init"],
        "model.output": cfg["output"], "model.batch_norm": cfg["batch_norm"], "optim.loss": cfg["loss"],
        "optim.optimizer": cfg["optimizer"], "optim.lr": cfg["lr"], "train.batch_size": cfg["batch"],
        "train.epochs": 1, "probes.enabled": ["none"],
    }))
    ex = ExecConfig(device=str(device), progress=False)
    fit(config, data, exec_config=ex)  # warm-up (kernels, allocator)
    ours = [fit(config, data, exec_config=ex).history[0]["epoch_time_s"] for _ in range(repeats)]

    torch.manual_seed(0)
    model, loss_fn, optimizer = idiomatic_model(cfg)
    model = model.to(device)
    optimizer = type(optimizer)(model.parameters(), **optimizer.defaults)
    loader = DataLoader(TensorDataset(data.x_train, data.y_train), batch_size=cfg["batch"], shuffle=True)

    def epoch(max_steps=None):
        for i, (xb, yb) in enumerate(loader):
            if max_steps is not None and i >= max_steps:
                break
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
        _sync(device)

    epoch(WARMUP_STEPS)
    idiomatic = []
    for _ in range(repeats):
        start = time.perf_counter()
        epoch()
        idiomatic.append(time.perf_counter() - start)
    n = len(data.x_train)
    flops = gemm_flops([784, *cfg["hidden"], 10], n)
    t_ours, t_idio = statistics.median(ours), statistics.median(idiomatic)
    return {"config": name, "data": data_name, "samples": n, "ours_s": t_ours, "idiomatic_s": t_idio,
            "speedup": t_idio / t_ours, "ours_tflops": flops / t_ours / 1e12, "idiomatic_tflops": flops / t_idio / 1e12}


def measure_seed_batch(width: int, k: int, device, steps: int, repeats: int) -> dict:
    """K sequential runs against one K-seed batch, 784 → width×4 → 10, batch 128, Adam (train time)."""
    from run import gemm_flops
    from seed_batching import make_configs, time_batched, time_sequential

    from vanishing.config import ExecConfig
    from vanishing.runner import load_run_data

    configs = make_configs(width, 4, k, steps, 128, "adam", "off")
    ex = ExecConfig(device=str(device), progress=False)
    data = load_run_data(configs[0], ExecConfig(device="cpu"))
    time_sequential(configs[:1], data, ex)  # warm-up
    if k > 1:
        time_batched(configs[:2], data, ex)
    seq, bat = [], []
    for _ in range(repeats):
        seq.append(time_sequential(configs, data, ex)[0])
        bat.append(time_batched(configs, data, ex)[0] if k > 1 else seq[-1])
    flops = k * gemm_flops([784, *[width] * 4, 10], steps * 128)
    t_seq, t_bat = statistics.median(seq), statistics.median(bat)
    return {"width": width, "k": k, "steps": steps, "sequential_s": t_seq, "batched_s": t_bat,
            "speedup": t_seq / t_bat, "sequential_tflops": flops / t_seq / 1e12, "batched_tflops": flops / t_bat / 1e12}


def _fmt(v, spec=".3f"):
    return "-" if v is None else format(v, spec)


def print_report(report: dict) -> None:
    env, tests, peak = report["environment"], report["tests"], report["peak"]
    print(f"device check: {env['device']} ({env['gpu'] or 'no GPU'}), torch {env['torch']}, CUDA {env['cuda']}, "
          f"Python {env['python']}{'  [--quick: smoke check, not figures to quote]' if report['quick'] else ''}")
    if tests.get("ran", True):
        print(f"tests (-m device): {tests['passed']} passed, {tests['failed']} failed, {tests['errors']} errors, "
              f"{tests['skipped']} skipped of {tests['selected']} ({tests['seconds']} s)")
        for name in tests.get("failed_tests", []):
            print(f"  FAILED {name}")
    else:
        print("tests (-m device): not run (--no-tests)")
    print(f"matmul peak: fp32 {_fmt(peak['fp32_tflops'])} TFLOP/s, TF32 {_fmt(peak['tf32_tflops'])} TFLOP/s")
    print()
    print(f"{'config':<14}{'samples':>8}{'ours s':>10}{'idiom. s':>10}{'speed-up':>10}{'TFLOP/s':>10}{'% fp32 peak':>13}")
    for r in report["suite"]:
        print(f"{r['config']:<14}{r['samples']:>8}{r['ours_s']:>10.3f}{r['idiomatic_s']:>10.3f}{r['speedup']:>10.2f}"
              f"{r['ours_tflops']:>10.3f}{100 * r['share_of_fp32_peak']:>12.1f}%")
    print()
    print(f"{'width':>6}{'K':>4}{'seq s':>10}{'batch s':>10}{'speed-up':>10}{'TFLOP/s':>10}{'% fp32 peak':>13}")
    for r in report["seed_batching"]:
        print(f"{r['width']:>6}{r['k']:>4}{r['sequential_s']:>10.3f}{r['batched_s']:>10.3f}{r['speedup']:>10.2f}"
              f"{r['batched_tflops']:>10.3f}{100 * r['share_of_fp32_peak']:>12.1f}%")
    print()
    if report["skipped"]:
        print(f"not measured (time budget --budget-s spent): {', '.join(report['skipped'])}")
    print(f"status: {report['status']} in {report['elapsed_s']:.0f} s; results in {report['json']}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto", help="auto (CUDA when present) | cpu | cuda | cuda:N")
    p.add_argument("--data", help="folder with mnist/ (sets VANISHING_DATA; default: $VANISHING_DATA or the bundled sample)")
    p.add_argument("--quick", action="store_true", help="a smoke check: a few tests, small sizes (CI runs it on the CPU)")
    p.add_argument("--json", default="device_check.json", help="where to write the results (default ./device_check.json)")
    p.add_argument("--no-tests", action="store_true", help="skip the -m device test run")
    p.add_argument("--configs", help="comma-separated subset of robinson, tan, pretorius, pretorius-bn, sdagd")
    p.add_argument("--samples", type=int, help="training samples per suite epoch (default 60000, --quick 512)")
    p.add_argument("--widths", help="seed-batching widths (default 64,128,200,400,800; --quick 64)")
    p.add_argument("--ks", help="seed-batching K values (default 1,2,4,8,16; --quick 1,2)")
    p.add_argument("--repeats", type=int, help="timed repeats per measurement, median quoted (default 3, --quick 1)")
    p.add_argument("--budget-s", type=float, default=450.0,
                   help="stop starting new measurements after this many seconds (default 450: the whole check ≤ 8 minutes)")
    args = p.parse_args(argv)
    started = time.perf_counter()
    if args.data:
        os.environ["VANISHING_DATA"] = str(Path(args.data).resolve())

    from run import CONFIGS

    from vanishing.device import resolve_device
    from vanishing.errors import ConfigError

    try:
        device = resolve_device(args.device)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if device.type == "cuda":
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False  # the suite is fp32; the TF32 peak is measured separately
        torch.backends.cudnn.allow_tf32 = False
    quick = args.quick
    repeats = args.repeats or (1 if quick else 3)
    samples = args.samples or (512 if quick else 60000)
    widths = [int(w) for w in (args.widths or ("64" if quick else "64,128,200,400,800")).split(",")]
    ks = [int(k) for k in (args.ks or ("1,2" if quick else "1,2,4,8,16")).split(",")]
    names = args.configs.split(",") if args.configs else list(CONFIGS)
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        print(f"error: --configs: unknown {', '.join(unknown)} (valid: {', '.join(CONFIGS)})", file=sys.stderr)
        return 2

    report: dict = {"quick": quick, "environment": environment(device), "json": str(Path(args.json).resolve())}
    report["tests"] = {"ran": False} if args.no_tests else {"ran": True, **run_device_tests(device, quick, 240)}
    report["peak"] = measure_peak(device, quick)
    peak = report["peak"]["fp32_tflops"]
    report["suite"], report["skipped"] = [], []

    def over_budget(what: str) -> bool:
        if time.perf_counter() - started > args.budget_s:
            report["skipped"].append(what)
            return True
        return False

    for name in names:
        if over_budget(f"suite {name}"):
            continue
        row = measure_config(name, CONFIGS[name], device, samples, repeats)
        row["share_of_fp32_peak"] = row["ours_tflops"] / peak
        report["suite"].append(row)
    report["seed_batching"] = []
    for width in widths:
        for k in ks:
            if over_budget(f"seed batching width {width} K {k}"):
                continue
            row = measure_seed_batch(width, k, device, steps=10 if quick else 40, repeats=repeats)
            row["share_of_fp32_peak"] = row["batched_tflops"] / peak
            report["seed_batching"].append(row)
    tests_ok = args.no_tests or report["tests"]["ok"]
    report["status"] = "passed" if tests_ok else "tests failed"
    report["elapsed_s"] = time.perf_counter() - started
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)
    return 0 if tests_ok else 1


if __name__ == "__main__":
    sys.exit(main())
