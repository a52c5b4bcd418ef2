"""Step time of three ordinary training loops with and without ``vanishing.watch``, printed as a ratio (issue 17).

The loops are written as their authors would write them, and watched with
``watch()``'s defaults (``every`` not passed, so watch's own default — "auto":
a snapshot every 100 steps, spaced further apart when a snapshot is slow so
that snapshots take at most ``max_overhead``, 5%, of the training time;
``step_on = "backward"``, nothing called in the loop):

* ``gpt`` — a small GPT (nanoGPT style): token + position embeddings, pre-norm
  blocks of hand-written causal self-attention (one qkv ``Linear``,
  ``F.scaled_dot_product_attention(is_causal=True)``) and a GELU MLP, output
  weight tied to the token embedding; AdamW, cross-entropy on windows of a
  tiny char corpus (this repository's README.md);
* ``lstm`` — an LSTM language model: ``nn.Embedding`` → ``nn.LSTM`` →
  ``nn.Linear``, Adam, ``clip_grad_norm_(…, 1.0)``, cross-entropy on the same
  char corpus;
* ``resnet`` — a small ResNet (CIFAR style): conv-BN-ReLU stem, three stages
  of basic residual blocks with ``nn.BatchNorm2d``, global average pooling,
  ``Linear``; SGD with momentum 0.9 and weight decay, on 32×32 images — real
  CIFAR-10 from ``$VANISHING_DATA`` when the package's loader finds it
  (``--data auto``, the default), else random tensors.

Method: two copies of each model with the same weights and optimizer settings
train on the same batches, one unwatched ("off"), one inside ``watch()``
("on"; ``--every N`` passes ``every=N``). After one warm-up block of ``--block-steps`` steps each (allocator,
caches, watch's step-time estimate), ``--steps`` timed steps per mode run in
alternating blocks of ``--block-steps`` (off/on, then on/off, …), so that both
share the machine's state (at most 400 distinct batches per model, then they
repeat). A block's time is wall clock and process CPU time
over its steps (synchronised on CUDA). With ``every="auto"`` most on-blocks
hold no snapshot and a few hold one, so a median over blocks would hide the
snapshot cost; the figure to quote is therefore amortised, as in training:

    ratio = total on wall time / total off wall time over all timed steps

(target ≤ 1.10), with the timed span long enough (default 1500 steps per mode)
to include several snapshots. Printed per model: timed steps per mode, the
number of snapshots taken inside the timed on-blocks (``snaps``, counted from
``Watch.snapshot_steps``), their mean duration (``snap ms``, from
``Watch.snapshot_seconds`` where the Watch records it), the effective timed
steps per snapshot (``steps/snap``), the mean off and on ms/step, the
amortised ratio, the same ratio by CPU time (less disturbed when other jobs
share the cores), and the interquartile range of the per-block-pair on/off
ratios — a spread indicator only, not the figure.

Run alone — other torch processes on the same cores distort the ratio::

    python benchmarks/watch_overhead.py [--models gpt,lstm,resnet] [--steps 1500] [--block-steps 100] [--json watch_overhead.json]
    python benchmarks/watch_overhead.py --quick       # a smoke test: tiny models, 30 timed steps in 5-step blocks
"""

from __future__ import annotations

import argparse
import copy
import inspect
import json
import math
import platform
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

import vanishing
from vanishing.watch.watcher import Watch

MODELS = ("gpt", "lstm", "resnet")
DEFAULT_EVERY = inspect.signature(Watch.__init__).parameters["every"].default
MAX_BATCHES = 400  # distinct batches per model at most (400 × 64 CIFAR images ≈ 315 MB)
README = Path(__file__).resolve().parents[1] / "README.md"


# --------------------------------------------------------------------------- data


def char_corpus(min_chars: int = 20_000) -> tuple[torch.Tensor, int]:
    """The repository's README.md as a tensor of character ids (repeated up to ``min_chars``) and the vocabulary size."""
    text = README.read_text(encoding="utf-8") if README.is_file() else "the quick brown fox jumps over the lazy dog. " * 50
    text = text * max(1, -(-min_chars // len(text)))
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    return torch.tensor([index[c] for c in text], dtype=torch.long), len(vocab)


def char_batches(ids: torch.Tensor, n: int, batch: int, ctx: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n`` batches of (input, next-character target) windows of length ``ctx``."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        start = torch.randint(0, len(ids) - ctx - 1, (batch,), generator=g)
        rows = torch.stack([ids[s:s + ctx + 1] for s in start.tolist()])
        out.append((rows[:, :-1].contiguous(), rows[:, 1:].contiguous()))
    return out


def image_data(source: str, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    """(N, 3, 32, 32) images and labels: CIFAR-10 through vanishing.data when found (``auto``/``cifar``), else random."""
    if source in ("auto", "cifar"):
        from vanishing.data import load_dataset, locate

        if locate("cifar10") is not None or source == "cifar":
            ds = load_dataset("cifar10", val_fraction=0.0, train_subset=n, standardize=True, download=source == "cifar")
            return ds.x_train.view(-1, 3, 32, 32), ds.y_train, f"CIFAR-10 ({len(ds.y_train):,} training images, standardised)"
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g), "random 32×32 tensors"


# --------------------------------------------------------------------------- models


class CausalSelfAttention(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, d))


class Block(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = CausalSelfAttention(d, heads)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab: int, ctx: int, d: int = 128, layers: int = 4, heads: int = 4):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying

    def forward(self, idx):
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))


class LSTMLM(nn.Module):
    def __init__(self, vocab: int, emb: int = 64, hidden: int = 256, layers: int = 1):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, num_layers=layers, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, idx):
        h, _ = self.lstm(self.embed(idx))
        return self.out(h)


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self, widths=(16, 32, 64), blocks: int = 1, classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        layers, c = [], widths[0]
        for i, w in enumerate(widths):
            for j in range(blocks):
                layers.append(BasicBlock(c, w, 2 if (i > 0 and j == 0) else 1))
                c = w
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


# --------------------------------------------------------------------------- the loops


@dataclass
class Setup:
    """One model's loop: the model, its optimizer factory, one training step, the batches, the watch arguments."""

    name: str
    model: nn.Module
    make_optimizer: Callable[[nn.Module], torch.optim.Optimizer]
    step: Callable[[nn.Module, torch.optim.Optimizer, Any], None]
    batches: list
    probe: tuple[torch.Tensor, torch.Tensor]
    loss_fn: Callable
    describe: str


def lm_loss(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def gpt_setup(quick: bool, n_batches: int, seed: int, device: torch.device) -> Setup:
    ids, vocab = char_corpus()
    ctx, batch = (16, 4) if quick else (64, 16)
    d, layers = (32, 2) if quick else (128, 4)
    torch.manual_seed(seed)
    model = GPT(vocab, ctx, d=d, layers=layers, heads=4).to(device)

    def step(model, opt, b):
        x, y = b
        logits = model(x)
        loss = lm_loss(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    batches = [(x.to(device), y.to(device)) for x, y in char_batches(ids, n_batches, batch, ctx, seed)]
    px, py = map(torch.cat, zip(*char_batches(ids, 1, 16 if quick else 128, ctx, seed + 1)))
    return Setup("gpt", model, lambda m: torch.optim.AdamW(m.parameters(), lr=3e-4, weight_decay=0.1), step, batches,
                 (px.to(device), py.to(device)), lm_loss,
                 f"GPT {layers}×(attention + MLP), d={d}, ctx {ctx}, batch {batch}, vocab {vocab}, AdamW")


def lstm_setup(quick: bool, n_batches: int, seed: int, device: torch.device, layers: int = 1) -> Setup:
    ids, vocab = char_corpus()
    ctx, batch = (16, 4) if quick else (64, 32)
    emb, hidden = (16, 32) if quick else (64, 256)
    torch.manual_seed(seed)
    model = LSTMLM(vocab, emb, hidden, layers).to(device)

    def step(model, opt, b):
        x, y = b
        opt.zero_grad()
        loss = lm_loss(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    batches = [(x.to(device), y.to(device)) for x, y in char_batches(ids, n_batches, batch, ctx, seed)]
    px, py = map(torch.cat, zip(*char_batches(ids, 1, 16 if quick else 128, ctx, seed + 1)))
    return Setup("lstm", model, lambda m: torch.optim.Adam(m.parameters(), lr=2e-3), step, batches,
                 (px.to(device), py.to(device)), lm_loss,
                 f"Embedding {emb} → LSTM {hidden} ×{layers} → Linear, ctx {ctx}, batch {batch}, Adam, clip 1.0")


def resnet_setup(quick: bool, n_batches: int, seed: int, device: torch.device, data: str) -> Setup:
    batch = 8 if quick else 64
    widths = (8, 16, 16) if quick else (16, 32, 64)
    probe_n = 32 if quick else 256
    x, y, source = image_data("random" if (quick and data == "auto") else data, max(n_batches * batch, 2 * probe_n), seed)
    torch.manual_seed(seed)
    model = ResNet(widths, blocks=1).to(device)
    g = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(n_batches):
        idx = torch.randint(0, len(y), (batch,), generator=g)
        batches.append((x[idx].to(device), y[idx].to(device)))
    criterion = nn.CrossEntropyLoss()

    def step(model, opt, b):
        xb, yb = b
        opt.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        opt.step()

    return Setup("resnet", model, lambda m: torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4),
                 step, batches, (x[-probe_n:].to(device), y[-probe_n:].to(device)), criterion,
                 f"ResNet stem + 3 stages {widths} × 1 basic block, BatchNorm2d, batch {batch}, SGD momentum 0.9; {source}")


# --------------------------------------------------------------------------- timing


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def block_sizes(steps: int, block_steps: int) -> list[int]:
    """``steps`` split into blocks of ``block_steps`` (the last one shorter when it does not divide)."""
    full, rest = divmod(steps, block_steps)
    return [block_steps] * full + ([rest] if rest else [])


def measure(setup: Setup, *, steps: int, block_steps: int, every: int | None, device: torch.device) -> dict[str, Any]:
    """Interleaved off/on blocks of one model (see the module docstring); returns the row of the table."""
    off_model = setup.model
    on_model = copy.deepcopy(off_model)
    off_opt, on_opt = setup.make_optimizer(off_model), setup.make_optimizer(on_model)
    off_model.train()
    on_model.train()
    options = {} if every is None else {"every": every}  # watch()'s own default unless --every is given
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unknown-layer note (embeddings, nn.LSTM's policy) once per model
        w = vanishing.watch(on_model, setup.probe, setup.loss_fn, **options)
    cursor = {"off": 0, "on": 0}
    seconds_list = getattr(w, "snapshot_seconds", None)  # wall time of each snapshot, where Watch records it

    def block(which: str, n: int) -> tuple[float, float]:
        """Total wall and CPU seconds of ``n`` steps of one copy."""
        model, opt = (off_model, off_opt) if which == "off" else (on_model, on_opt)
        i = cursor[which]
        _sync(device)
        wall, cpu = time.perf_counter(), time.process_time()
        for k in range(n):
            setup.step(model, opt, setup.batches[(i + k) % len(setup.batches)])
        _sync(device)
        cursor[which] = i + n
        return time.perf_counter() - wall, time.process_time() - cpu

    sizes = block_sizes(steps, block_steps)
    try:
        block("off", block_steps)  # warm-up: allocator, caches, watch's step-time estimate
        block("on", block_steps)
        first_snap = len(w.snapshot_steps)  # snapshots so far: step 0 and any in the warm-up block
        first_sec = len(seconds_list) if seconds_list is not None else 0
        span_start = w.steps
        off_t, on_t, pair_n = [], [], []
        for p, n in enumerate(sizes):
            order = ("off", "on") if p % 2 == 0 else ("on", "off")
            got = {which: block(which, n) for which in order}
            off_t.append(got["off"])
            on_t.append(got["on"])
            pair_n.append(n)
        timed_steps = list(w.snapshot_steps[first_snap:])  # taken inside the timed "on" blocks (close() adds one after)
        timed_seconds = list(seconds_list[first_sec:first_sec + len(timed_steps)]) if seconds_list is not None else None
        total_snapshots = len(w.snapshot_steps)
    finally:
        w.close()
    off_wall, on_wall = sum(t[0] for t in off_t), sum(t[0] for t in on_t)
    off_cpu, on_cpu = sum(t[1] for t in off_t), sum(t[1] for t in on_t)
    ratios = [on[0] / off[0] for on, off in zip(on_t, off_t)]
    q = statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) > 1 else [ratios[0]] * 3
    n_snap = len(timed_steps)
    snap_s = statistics.fmean(timed_seconds) if timed_seconds else None
    return {
        "model": setup.name,
        "describe": setup.describe,
        "parameters": int(sum(p.numel() for p in off_model.parameters())),
        "watched_layers": len(w.layers),
        "hidden_layers": len(w.hidden),
        "probe_examples": int(w.n),
        "steps": sum(sizes),
        "blocks": len(sizes),
        "block_steps": block_steps,
        "warmup_steps": block_steps,
        "every": "default" if every is None else every,
        "max_overhead": getattr(w, "max_overhead", None),
        "timed_span": [span_start, span_start + sum(sizes)],  # the "on" copy's watch steps timed
        "snapshots": n_snap,
        "snapshot_steps": timed_steps,
        "snapshots_total": total_snapshots,
        "snapshot_ms": None if snap_s is None else 1e3 * snap_s,
        "snapshot_share": None if not timed_seconds else sum(timed_seconds) / on_wall,
        "steps_per_snapshot": sum(sizes) / n_snap if n_snap else None,
        "off_ms": 1e3 * off_wall / sum(sizes),
        "on_ms": 1e3 * on_wall / sum(sizes),
        "ratio": on_wall / off_wall,
        "cpu_ratio": on_cpu / off_cpu if off_cpu > 0 else math.nan,
        "ratio_median": statistics.median(ratios),
        "ratio_q25": q[0],
        "ratio_q75": q[2],
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "target": 1.10,
    }


def build(name: str, args, n_batches: int, device: torch.device) -> Setup:
    if name == "gpt":
        return gpt_setup(args.quick, n_batches, args.seed, device)
    if name == "lstm":
        return lstm_setup(args.quick, n_batches, args.seed, device, layers=args.lstm_layers)
    return resnet_setup(args.quick, n_batches, args.seed, device, args.data)


def _fmt(value, spec: str, width: int) -> str:
    return f"{'–':>{width}}" if value is None else f"{value:>{width}{spec}}"


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'model':<8} {'steps':>6} {'snaps':>5} {'steps/snap':>10} {'snap ms':>8} {'off ms/step':>12} {'on ms/step':>11} "
            f"{'ratio':>7} {'CPU ratio':>10} {'IQR of pairs':>14}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['model']:<8} {r['steps']:>6} {r['snapshots']:>5} {_fmt(r['steps_per_snapshot'], '.0f', 10)} "
                     f"{_fmt(r['snapshot_ms'], '.1f', 8)} {r['off_ms']:>12.2f} {r['on_ms']:>11.2f} {r['ratio']:>7.3f} "
                     f"{r['cpu_ratio']:>10.3f} {r['ratio_q25']:>6.3f}–{r['ratio_q75']:<7.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, from {', '.join(MODELS)} (default all)")
    parser.add_argument("--steps", type=int, default=None,
                        help="timed training steps per mode (off and on) per model, after the warm-up (default 1500; quick 30)")
    parser.add_argument("--block-steps", type=int, default=None,
                        help="training steps per alternating off/on block, and of each warm-up block (default 100; quick 5)")
    parser.add_argument("--every", type=int, default=None,
                        help=f"pass every=N to watch() (default: not passed, so watch()'s own default, {DEFAULT_EVERY!r})")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--data", choices=("auto", "cifar", "random"), default="auto",
                        help="resnet images: CIFAR-10 if found (auto; random in --quick), CIFAR-10 (download if needed), random")
    parser.add_argument("--lstm-layers", type=int, default=1,
                        help="nn.LSTM num_layers (default 1: the layer watch reads through time)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="smoke test: tiny models, 30 timed steps per mode in 5-step blocks")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in names if m not in MODELS]
    if bad or not names:
        parser.error(f"--models: unknown {', '.join(bad) or '(none given)'}; choose from {', '.join(MODELS)}")
    steps = args.steps or (30 if args.quick else 1500)
    block_steps = args.block_steps or (5 if args.quick else 100)
    if min(steps, block_steps, args.threads) < 1 or (args.every is not None and args.every < 1):
        parser.error("--steps, --block-steps, --every and --threads must be >= 1")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    # each copy sees each batch once, up to MAX_BATCHES distinct batches (then they repeat: the images would not fit)
    n_batches = min(steps + block_steps, MAX_BATCHES)
    every_text = f"every={args.every}" if args.every is not None else f"every=watch()'s default ({DEFAULT_EVERY!r})"
    print(f"watch overhead: {torch.get_num_threads()} thread(s), device {device}, {every_text}, {steps} timed steps "
          f"per mode per model in alternating {block_steps}-step off/on blocks after one warm-up block each"
          f"{' (quick)' if args.quick else ''}; torch {torch.__version__}")
    rows = []
    for name in names:
        setup = build(name, args, n_batches, device)
        print(f"  {name}: {setup.describe}", flush=True)
        row = measure(setup, steps=steps, block_steps=block_steps, every=args.every, device=device)
        snap = "" if row["snapshot_ms"] is None else f" of {row['snapshot_ms']:.1f} ms"
        print(f"    {row['parameters']:,} parameters, {row['watched_layers']} watched weight layers "
              f"({row['hidden_layers']} hidden), {row['probe_examples']} probe examples; {row['snapshots']} snapshots"
              f"{snap} in the {row['steps']} timed steps; ratio {row['ratio']:.3f}", flush=True)
        rows.append(row)
    print()
    print(table(rows))
    print("ratio = total on / total off wall time over all timed steps, snapshots amortised: the figure to quote "
          "(target <= 1.10); CPU ratio = the same by process CPU time; snaps = snapshots taken in the timed on-blocks, "
          "snap ms = their mean duration, steps/snap = timed steps per snapshot; IQR of pairs = interquartile range of "
          "the per-block-pair on/off ratios (a spread indicator only: most on-blocks hold no snapshot).")
    if any(r["snapshots"] < 2 for r in rows):
        print("note: fewer than 2 snapshots in a model's timed span — the ratio barely sees the snapshot cost; use more --steps.")
    over = [r["model"] for r in rows if r["ratio"] > 1.10]
    if over and not args.quick:
        print(f"above the 1.10 target: {', '.join(over)}")
    if args.json:
        doc = {
            "benchmark": "watch_overhead", "method": "amortised: total on / total off time over all timed steps",
            "quick": args.quick, "threads": torch.get_num_threads(), "device": str(device),
            "every": "default" if args.every is None else args.every, "watch_default_every": DEFAULT_EVERY,
            "steps": steps, "block_steps": block_steps, "torch": torch.__version__,
            "python": platform.python_version(), "machine": platform.machine(), "command": [sys.executable, *sys.argv],
            "models": rows,
        }
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"json: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
