"""Training-throughput suite: our engine against the idiomatic PyTorch loop (and Keras, if installed).

Configurations (issue 6):

=============  ==========================================  =====  =========  =============================
name           network                                     batch  optimizer  loss / output
=============  ==========================================  =====  =========  =============================
robinson       784 → 512×3 → 10, ReLU                      32     Adam 1e-3  CE / softmax
tan            784 → 700×3 → 10, sigmoid, Xavier            100    SGD 0.5    ½Σ(d−y)² / sigmoid
pretorius      784 → 800×4 → 10, ReLU, He                  128    Adam 1e-3  CE / softmax
pretorius-bn   same, batch norm before each activation     128    Adam 1e-3  CE / softmax
sdagd          784 → 700×3 → 10, sigmoid, Xavier            100    SDAGD      ½Σ(d−y)² / sigmoid
=============  ==========================================  =====  =========  =============================

Method (SPEC §13). Each measurement runs in a fresh subprocess (so peak RSS
is per variant and no state leaks between variants): it loads MNIST
(``$VANISHING_DATA`` or the bundled sample, said in the output), trains a
warm-up of a few steps, then times one epoch of training (evaluation
excluded). "ours" is ``vanishing.train.fit`` (its ``epoch_time_s``, probes
off); "idiomatic" is the loop a user would write — ``TensorDataset`` +
``DataLoader(shuffle=True)`` + ``nn.Sequential`` + the torch optimizer with
its default settings — timed around the epoch loop; "keras" is Keras 3 on
TensorFlow in its own subprocess (robinson only; skipped with a message when
TensorFlow is not installed). Variants alternate (A, B, B, A, …) for
``--repeats`` pairs and the figure quoted is the median of the per-pair
ratios. Both sides use torch's default threads unless ``--threads`` is given.

Also printed: samples/s, the achieved GFLOP/s — FLOPs of the GEMMs actually
executed: forward 2·B·in·out per layer, weight gradient 2·B·in·out, input
gradient 2·B·in·out except for the first layer — against the peak, the best
``torch.mm`` fp32 rate over square sizes 256–2048 measured in the same run
with the same threads — at the start and again at the end of the suite, the
better of the two being the peak the shares are restated against (a peak
taken in a slow minute would flatter them) — and the peak RSS of each variant.

Run alone on the machine (two torch processes on two cores slow each other
down): ``python benchmarks/run.py [--quick] [--configs robinson,tan] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

CONFIGS = {
    "robinson": dict(hidden=[512] * 3, activation="relu", init="xavier_uniform", batch=32, optimizer="adam", lr=1e-3,
                     loss="ce", output="softmax", batch_norm="off"),
    "tan": dict(hidden=[700] * 3, activation="sigmoid", init="xavier_normal", batch=100, optimizer="sgd", lr=0.5,
                loss="mse", output="sigmoid", batch_norm="off"),
    "pretorius": dict(hidden=[800] * 4, activation="relu", init="he_normal", batch=128, optimizer="adam", lr=1e-3,
                      loss="ce", output="softmax", batch_norm="off"),
    "pretorius-bn": dict(hidden=[800] * 4, activation="relu", init="he_normal", batch=128, optimizer="adam", lr=1e-3,
                         loss="ce", output="softmax", batch_norm="before"),
    "sdagd": dict(hidden=[700] * 3, activation="sigmoid", init="xavier_normal", batch=100, optimizer="sdagd", lr=1.0,
                  loss="mse", output="sigmoid", batch_norm="off"),
}
WARMUP_STEPS = 20
#: Configs also measured with the default probes on (issue 6: pretorius with probes ≥ 1.2× idiomatic without).
PROBED = ("pretorius",)


# --------------------------------------------------------------------------- one measurement (in a subprocess)


def load_mnist(n: int | None):
    """Full MNIST from $VANISHING_DATA when present, else the bundled sample; pixels / 255; first n examples."""
    from vanishing.data import load_dataset

    name = "mnist" if os.environ.get("VANISHING_DATA") and Path(os.environ["VANISHING_DATA"], "mnist").is_dir() else "mnist-sample"
    data = load_dataset(name, val_fraction=0.0)
    x, y = data.x_train, data.y_train
    if n is not None:
        x, y = x[:n], y[:n]
    return name, x.contiguous(), y.contiguous()


def gemm_flops(widths: list[int], n: int) -> float:
    """FLOPs of the GEMMs of one epoch over n samples (forward, weight gradient, input gradient but the first)."""
    total = 0.0
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        total += 2 * a * b * (3 if i > 0 else 2)
    return total * n


def measure_ours(cfg: dict, n: int | None, probes: bool = False) -> dict:
    from dataclasses import replace

    from vanishing.config import RunConfig, resolve, with_overrides
    from vanishing.data import Dataset
    from vanishing.train import fit

    name, x, y = load_mnist(n)
    config = resolve(with_overrides(RunConfig(), {
        "model.hidden": cfg["hidden"], "model.activation": cfg["activation"], "model.init": cfg["init"],
        "model.output": cfg["output"], "model.batch_norm": cfg["batch_norm"], "optim.loss": cfg["loss"],
        "optim.optimizer": cfg["optimizer"], "optim.lr": cfg["lr"], "train.batch_size": cfg["batch"],
        "train.epochs": 1, "probes.enabled": ["none"],
    }))
    tiny = (x[:1], y[:1])

    def dataset(xs, ys):  # validation/test of one example: evaluation is not what is timed
        return Dataset(name, xs, ys, *tiny, *tiny, tuple(str(i) for i in range(10)), False, name)

    warm = WARMUP_STEPS * cfg["batch"]
    fit(config, dataset(x[:warm], y[:warm]), callbacks=probe_callbacks(probes))
    if not probes:
        out = fit(config, dataset(x, y))
        return {"seconds": out.history[0]["epoch_time_s"], "samples": len(x), "data": name}
    # with probes: the whole fit, so the probe snapshots before and after the epoch count too
    start = time.perf_counter()
    fit(config, dataset(x, y), callbacks=probe_callbacks(probes))
    return {"seconds": time.perf_counter() - start, "samples": len(x), "data": name}


def probe_callbacks(probes: bool) -> list:
    """The default probes as ``vanishing run`` attaches them (grad_norms every step, snapshots at init and after the epoch)."""
    if not probes:
        return []
    from vanishing.probes import ProbeCallback

    return [ProbeCallback(["default"])]


def idiomatic_model(cfg: dict):
    import torch
    from torch import nn

    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[cfg["activation"]]
    widths = [784, *cfg["hidden"], 10]
    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        lin = nn.Linear(a, b)
        if cfg["init"] == "he_normal":
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
        elif cfg["init"] == "xavier_normal":
            nn.init.xavier_normal_(lin.weight)
        else:
            nn.init.xavier_uniform_(lin.weight)
        nn.init.zeros_(lin.bias)
        layers.append(lin)
        if i < len(widths) - 2:
            if cfg["batch_norm"] == "before":
                layers.append(nn.BatchNorm1d(b))
            layers.append(act())
    if cfg["output"] == "sigmoid":
        layers.append(nn.Sigmoid())
    model = nn.Sequential(*layers)
    if cfg["loss"] == "ce":
        loss = nn.CrossEntropyLoss()
    else:
        def loss(out, target):  # ½ Σ_k (d − y)², mean over the batch
            d = torch.nn.functional.one_hot(target, 10).float()
            return 0.5 * ((d - out) ** 2).sum(1).mean()
    opt_cls = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}[cfg["optimizer"] if cfg["optimizer"] != "sdagd" else "sgd"]
    optimizer = opt_cls(model.parameters(), lr=cfg["lr"] if cfg["optimizer"] != "sdagd" else 0.5)
    return model, loss, optimizer


def measure_idiomatic(cfg: dict, n: int | None) -> dict:
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    name, x, y = load_mnist(n)
    torch.manual_seed(0)
    model, loss_fn, optimizer = idiomatic_model(cfg)

    def epoch(loader, max_steps=None):
        for i, (xb, yb) in enumerate(loader):
            if max_steps is not None and i >= max_steps:
                break
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()

    loader = DataLoader(TensorDataset(x, y), batch_size=cfg["batch"], shuffle=True)
    epoch(loader, WARMUP_STEPS)
    start = time.perf_counter()
    epoch(loader)
    return {"seconds": time.perf_counter() - start, "samples": len(x), "data": name}


KERAS_SCRIPT = r"""
import json, os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
cfg, n = json.loads(sys.argv[1]), json.loads(sys.argv[2])
import numpy as np
import keras
sys.path.insert(0, sys.argv[3])
from run import load_mnist
name, x, y = load_mnist(n)
x, y = x.numpy(), keras.utils.to_categorical(y.numpy(), 10)
layers = [keras.Input((784,))] + [keras.layers.Dense(w, activation=cfg["activation"]) for w in cfg["hidden"]]
model = keras.Sequential(layers + [keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(cfg["lr"]), loss="categorical_crossentropy")
model.fit(x[: 20 * cfg["batch"]], y[: 20 * cfg["batch"]], batch_size=cfg["batch"], epochs=1, verbose=0)
start = time.perf_counter()
model.fit(x, y, batch_size=cfg["batch"], epochs=1, verbose=0, shuffle=True)
print(json.dumps({"seconds": time.perf_counter() - start, "samples": len(x), "data": name}))
"""


def keras_available() -> bool:
    return subprocess.run([sys.executable, "-c", "import keras, tensorflow"], capture_output=True).returncode == 0


def measure_peak(threads: int | None) -> float:
    """Best torch.mm fp32 GFLOP/s over square sizes 256–2048."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    best = 0.0
    for size in (256, 512, 768, 1024, 1536, 2048):
        a, b = torch.randn(size, size), torch.randn(size, size)
        out = torch.empty(size, size)
        torch.mm(a, b, out=out)
        reps = max(3, int(2e9 / (2 * size**3)))
        start = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b, out=out)
        best = max(best, 2 * size**3 * reps / (time.perf_counter() - start) / 1e9)
    return best


def child(args: argparse.Namespace) -> None:
    """Entry point of one measurement subprocess: print a JSON line."""
    import resource

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = CONFIGS[args.config]
    if args.variant == "idiomatic":
        result = measure_idiomatic(cfg, args.samples)
    else:
        result = measure_ours(cfg, args.samples, probes=args.variant == "ours-probes")
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["threads"] = torch.get_num_threads()
    print(json.dumps(result))


# --------------------------------------------------------------------------- the driver


def run_variant(variant: str, config: str, samples: int | None, threads: int | None) -> dict:
    here = Path(__file__).resolve().parent
    if variant == "keras":
        cmd = [sys.executable, "-c", KERAS_SCRIPT, json.dumps(CONFIGS[config]), json.dumps(samples), str(here)]
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", variant, "--config", config]
        if samples:
            cmd += ["--samples", str(samples)]
        if threads:
            cmd += ["--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{variant} {config} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description="Our training engine vs the idiomatic PyTorch loop (and Keras).")
    parser.add_argument("--quick", action="store_true", help="10,000 samples, 1 pair: a smoke check, not a figure to quote")
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated subset of {', '.join(CONFIGS)}")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved A/B pairs per comparison (default 3)")
    parser.add_argument("--samples", type=int, default=None, help="train on the first N samples (default: all)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads on both sides (default: torch's default)")
    parser.add_argument("--no-keras", action="store_true", help="skip Keras even when installed")
    parser.add_argument("--json", help="also write the results as JSON to this file")
    parser.add_argument("--child", choices=["ours", "ours-probes", "idiomatic"], help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(argparse.Namespace(variant=args.child, config=args.config, samples=args.samples, threads=args.threads))
        return

    samples = 10_000 if args.quick and args.samples is None else args.samples
    repeats = 1 if args.quick else args.repeats
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    for c in configs:
        if c not in CONFIGS:
            parser.error(f"unknown config {c!r} (valid: {', '.join(CONFIGS)})")
    import torch

    peak = measure_peak(args.threads)
    threads = args.threads or torch.get_num_threads()
    print(f"machine: {os.cpu_count()} CPUs, torch {torch.__version__}, {threads} threads; "
          f"peak fp32 torch.mm {peak:.1f} GFLOP/s at the start (best of square 256–2048; measured again at the end)")
    keras_ok = not args.no_keras and keras_available()
    rows = []
    for name in configs:
        cfg = CONFIGS[name]
        widths = [784, *cfg["hidden"], 10]
        variants = ["ours", "idiomatic"] + (["keras"] if keras_ok and name == "robinson" else [])
        variants += ["ours-probes"] if name in PROBED else []
        times: dict[str, list[float]] = {v: [] for v in variants}
        info: dict[str, dict] = {}
        for r in range(repeats):
            order = variants if r % 2 == 0 else list(reversed(variants))
            for v in order:
                res = run_variant(v, name, samples, args.threads)
                times[v].append(res["seconds"])
                info[v] = res
        n = info["ours"]["samples"]
        flops = gemm_flops(widths, n)
        ratios = [i / o for i, o in zip(times["idiomatic"], times["ours"])]
        row = {
            "config": name, "data": info["ours"]["data"], "samples": n,
            "ours_s": statistics.median(times["ours"]), "idiomatic_s": statistics.median(times["idiomatic"]),
            "speedup_vs_idiomatic": statistics.median(ratios),
            "ours_gflops": flops / statistics.median(times["ours"]) / 1e9,
            "idiomatic_gflops": flops / statistics.median(times["idiomatic"]) / 1e9,
            "ours_rss_mb": info["ours"]["rss_mb"], "idiomatic_rss_mb": info["idiomatic"]["rss_mb"],
        }
        if "ours-probes" in times:
            row["ours_probes_s"] = statistics.median(times["ours-probes"])
            row["ours_probes_rss_mb"] = info["ours-probes"]["rss_mb"]
            row["probes_speedup_vs_idiomatic"] = statistics.median(
                i / o for i, o in zip(times["idiomatic"], times["ours-probes"]))
        if "keras" in times:
            row["keras_s"] = statistics.median(times["keras"])
            row["speedup_vs_keras"] = statistics.median(k / o for k, o in zip(times["keras"], times["ours"]))
        rows.append(row)
        print(f"\n{name}: 784 → {'×'.join(str(w) for w in cfg['hidden'][:1])}×{len(cfg['hidden'])} → 10, {cfg['activation']}, "
              f"batch {cfg['batch']}, {cfg['optimizer']}{', BN' if cfg['batch_norm'] != 'off' else ''}; {n} samples of {row['data']}")
        for v in variants:
            t = statistics.median(times[v])
            extra = f", {flops / t / 1e9:6.1f} GFLOP/s = {100 * flops / t / 1e9 / peak:4.1f}% of peak" if v != "keras" else ""
            rss = f", peak RSS {info[v]['rss_mb']:.0f} MB" if "rss_mb" in info[v] else ""
            print(f"  {v:<10} epoch {t:7.2f} s  ({n / t:9.0f} samples/s{extra}{rss})  runs: {', '.join(f'{x:.2f}' for x in times[v])}")
        print(f"  speed-up vs idiomatic PyTorch: ×{row['speedup_vs_idiomatic']:.2f} (median of {repeats} interleaved pairs)")
        if "probes_speedup_vs_idiomatic" in row:
            print(f"  with the default probes (whole fit, snapshots included) vs idiomatic without: "
                  f"×{row['probes_speedup_vs_idiomatic']:.2f}")
        if "speedup_vs_keras" in row:
            print(f"  speed-up vs Keras: ×{row['speedup_vs_keras']:.2f}")
        elif name == "robinson":
            print("  keras: skipped: " + ("--no-keras" if args.no_keras else "not installed (pip install 'vanishing[keras]')"))
    # The machine's speed drifts by minutes: a peak taken in a slow minute would flatter every "% of peak",
    # so the peak is the better of the two measurements, and the shares are restated against it.
    end_peak = measure_peak(args.threads)
    best_peak = max(peak, end_peak)
    print(f"\npeak fp32 torch.mm: {peak:.1f} GFLOP/s at the start, {end_peak:.1f} at the end; shares of the better one, "
          f"{best_peak:.1f}:")
    for row in rows:
        print(f"  {row['config']:<13} ours {100 * row['ours_gflops'] / best_peak:5.1f}%   "
              f"idiomatic {100 * row['idiomatic_gflops'] / best_peak:5.1f}%")
    if args.json:
        Path(args.json).write_text(json.dumps({"peak_gflops": best_peak, "peak_start_gflops": peak, "peak_end_gflops": end_peak,
                                               "threads": threads, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
