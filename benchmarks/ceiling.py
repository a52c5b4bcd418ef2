"""How fast could any engine built on torch's CPU kernels train these nets? A floor per epoch.

    python benchmarks/ceiling.py                       # robinson, tan, pretorius; 3 rounds
    python benchmarks/ceiling.py --configs pretorius --samples 60000 --repeats 5

For each configuration of ``benchmarks/run.py`` the floor of one epoch is

    steps × ( Σ_GEMMs t(GEMM) + t(optimizer update) )

where every GEMM of one training step — forward ``h Wᵀ + b`` per layer,
weight gradient ``δᵀ h`` per layer, input gradient ``δ W`` for every layer but
the first — is timed **alone**, called back to back on the same buffers with
hot caches (median of ``--calls`` calls), and the update is the fused Adam
kernel alone on the net's parameters (zero for plain SGD, which the fused step
folds into the weight-gradient GEMM). Nothing else is counted: no activation,
softmax, loss, data gathering, Python, or the cost of one kernel evicting the
next one's data — so no engine that runs these kernels can take less time.
The best possible speed-up of any such engine over the idiomatic loop is then
``idiomatic / floor``.

Each round measures the floor in this process, then our engine and the
idiomatic loop in fresh subprocesses (as ``benchmarks/run.py`` does), so the
three numbers of a round are taken within seconds of each other; the figures
quoted are medians over rounds. Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import CONFIGS, run_variant  # noqa: E402  (the configurations and subprocess runner of the suite)

from vanishing.allocator import tune_allocator  # noqa: E402


def _median_call_s(fn, calls: int) -> float:
    for _ in range(max(3, calls // 10)):
        fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def step_gemms(widths: list[int], batch: int, inline_sgd: bool) -> list[tuple[str, float, object]]:
    """The GEMMs of one training step as the fused step issues them: (label, FLOPs, zero-argument call) each."""
    calls = []
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        h, w, b = torch.randn(batch, n_in), torch.randn(n_out, n_in) * 0.01, torch.randn(n_out)
        d, a, g = torch.randn(batch, n_out), torch.empty(batch, n_out), torch.empty(n_out, n_in)
        flops = 2.0 * batch * n_in * n_out
        calls.append((f"forward {n_in}→{n_out}", flops, lambda h=h, w=w, b=b, a=a: torch.addmm(b, h, w.t(), out=a)))
        if inline_sgd:
            calls.append((f"W −= η δᵀh {n_out}×{n_in}", flops, lambda w=w, d=d, h=h: w.addmm_(d.t(), h, alpha=-1e-9)))
        else:
            calls.append((f"∂E/∂W {n_out}×{n_in}", flops, lambda d=d, h=h, g=g: torch.matmul(d.t(), h, out=g)))
        if i > 0:
            below = torch.empty(batch, n_in)
            calls.append((f"δ below {n_out}→{n_in}", flops, lambda d=d, w=w, below=below: torch.matmul(d, w, out=below)))
    return calls


def optimizer_call(widths: list[int], optimizer: str):
    """The update alone: torch's fused Adam kernel on parameters of the net's shapes; None for plain SGD (folded)."""
    if optimizer != "adam":
        return None
    params = []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        for shape in ((n_out, n_in), (n_out,)):
            p = torch.randn(shape) * 0.01
            p.grad = torch.randn(shape) * 1e-3
            params.append(p)
    adam = torch.optim.Adam(params, lr=1e-3, fused=True)
    adam.step()  # create the state
    return adam.step


def floor_seconds(name: str, samples: int, calls: int) -> dict:
    cfg = CONFIGS[name]
    widths = [784, *cfg["hidden"], 10]
    steps = -(-samples // cfg["batch"])
    gemm = sum(_median_call_s(fn, calls) for _, _, fn in step_gemms(widths, cfg["batch"], cfg["optimizer"] == "sgd"))
    update_fn = optimizer_call(widths, cfg["optimizer"])
    update = _median_call_s(update_fn, calls) if update_fn is not None else 0.0
    return {"floor_s": steps * (gemm + update), "gemm_s": steps * gemm, "update_s": steps * update}


def main() -> None:
    parser = argparse.ArgumentParser(description="A floor under any engine's epoch time, from torch's kernels timed alone.")
    parser.add_argument("--configs", default="robinson,tan,pretorius",
                        help="comma-separated subset of robinson, tan, pretorius, pretorius-bn (default: the first three)")
    parser.add_argument("--samples", type=int, default=30_000, help="samples per epoch (default 30,000, as in the docs' run.py table)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (floor, ours, idiomatic) per config (default 3)")
    parser.add_argument("--calls", type=int, default=200, help="timed calls per kernel (default 200)")
    args = parser.parse_args()
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    for c in configs:
        if c not in CONFIGS or c == "sdagd":
            parser.error(f"unknown config {c!r} (valid: robinson, tan, pretorius, pretorius-bn)")
    tune_allocator()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.samples} samples per epoch")
    for name in configs:
        rounds = []
        for _ in range(args.repeats):
            floor = floor_seconds(name, args.samples, args.calls)
            ours = run_variant("ours", name, args.samples, None)["seconds"]
            idiomatic = run_variant("idiomatic", name, args.samples, None)["seconds"]
            rounds.append({**floor, "ours_s": ours, "idiomatic_s": idiomatic})
        med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
        best = statistics.median(r["idiomatic_s"] / r["floor_s"] for r in rounds)
        ours_ratio = statistics.median(r["idiomatic_s"] / r["ours_s"] for r in rounds)
        share = statistics.median(r["floor_s"] / r["ours_s"] for r in rounds)
        print(f"\n{name}: floor {med['floor_s']:.2f} s (GEMMs {med['gemm_s']:.2f} s + update {med['update_s']:.2f} s), "
              f"ours {med['ours_s']:.2f} s, idiomatic {med['idiomatic_s']:.2f} s")
        print(f"  ours vs idiomatic ×{ours_ratio:.2f}; ours takes {100 * share:.0f}% of its time in the floor's kernels' "
              f"standalone time; the best any engine on these kernels could reach: ×{best:.2f}")
        print("  rounds (floor / ours / idiomatic s): "
              + "; ".join(f"{r['floor_s']:.2f} / {r['ours_s']:.2f} / {r['idiomatic_s']:.2f}" for r in rounds))


if __name__ == "__main__":
    main()
