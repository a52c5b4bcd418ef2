"""Pretorius ablation: does *how* sparsity is measured explain the Table 1 gap? (no extra training)

Table 1 of seed 001 reports trained ReLU sparsity of 77–82% without batch norm
and 57–69% with it; the paper says only "the average percentage of samples per
node that are inactive for a hidden layer", not which samples, in which mode,
or of which model (the best-validation one or the 300th epoch's). This module
re-reads the *same trained nets* — each 4-layer ReLU run of the study, from
the weights its run directory keeps (``checkpoint.pt``: the last epoch's model
and the best-validation one; the untrained one rebuilt from the run's seed) —
under every combination of

- **weights**: ``untrained`` (epoch 0), ``selected`` (best validation, the
  study's "trained"), ``last`` (the last epoch trained);
- **samples**: ``probe`` (the study's 100 training examples per class, the
  probe set of the run's config), ``train`` (the whole training split),
  ``test`` (the whole test set);
- **mode**: ``eval`` (batch norm with its running statistics, as the study's
  probes) or ``train`` (batch norm with the statistics of each batch of
  ``batch_size`` shuffled examples, as during training) — batch-norm nets only,
  since without batch norm the two modes compute the same function,

with the probe's formula (:mod:`vanishing.probes.sparsity`; y_nj the output of
node j on example n, N examples, s nodes)::

    sparsity = (1/s) Σ_j (1/N) Σ_n [y_nj ≤ 0]          (× 100: Table 1's %)

and, beside it, the share of **dead units** — nodes inactive on every example
of the whole training split (eval mode), which count fully towards sparsity.
A reading "explains" the gap of a (data set, batch norm) panel when its
layer-mean sparsity over seeds lands within max(2 s.e., 3 pp) of the paper's
layer mean; if none does, no tested measurement factor explains it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..base import mean_se
from .claims import PAPER_TABLE1

WEIGHTS = ("untrained", "selected", "last")
SAMPLES = ("probe", "train", "test")
MODES = ("eval", "train")
DEFAULT = ("selected", "probe", "eval")  # the study's own reading (Table 1 rows)
TOLERANCE_PP = 3.0


def layer_outputs(model, x: torch.Tensor, *, mode: str = "eval", batch_size: int = 1024,
                  generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """Per hidden layer, the outputs y (N, width) of ``model`` (a :class:`vanishing.model.MLP`) on ``x``.

    ``mode="eval"``: batch norm uses its running statistics (batches only split the work). ``mode="train"``:
    batch norm normalises with each batch's statistics, the examples shuffled by ``generator`` into batches of
    ``batch_size`` (the outputs are returned in the input order); the model's running statistics are left as they were.
    """
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    was_training = model.training
    saved = {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}
    order = torch.randperm(len(x), generator=generator) if mode == "train" else torch.arange(len(x))
    parts: list[list[torch.Tensor]] = []
    model.train(mode == "train")
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                idx = order[start:start + batch_size]
                _, _, post = model.forward_with_intermediates(x[idx.to(x.device)])
                parts.append([p.detach().cpu() for p in post])
    finally:
        model.load_state_dict(saved, strict=False)
        model.train(was_training)
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(len(order))
    return [torch.cat([p[i] for p in parts])[inverse] for i in range(len(parts[0]))] if parts else []


def layer_readings(outputs: Sequence[torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
    """(sparsity, dead share) per layer, as fractions: mean over nodes of P_n[y ≤ 0], and the share of nodes with y ≤ 0
    on every example."""
    inactive = [(y <= 0).double().mean(dim=0) for y in outputs]
    return (np.asarray([float(f.mean()) for f in inactive]), np.asarray([float((f == 1).double().mean()) for f in inactive]))


def run_models(path: str | Path, n_in: int, n_out: int) -> dict[str, torch.nn.Module]:
    """The three models of a finished run directory: untrained (rebuilt from its config's seed), selected, last."""
    from ...config import config_from_dict, resolve
    from ...model import build_model
    from ...store.atomic import read_json

    path = Path(path)
    doc = read_json(path / "config.json")
    config = resolve(config_from_dict(doc["config"]))
    checkpoint = torch.load(path / "checkpoint.pt", map_location="cpu", weights_only=False)
    models = {}
    for weights in WEIGHTS:
        model = build_model(config.model, n_in, n_out, config.seed)
        if weights == "last":
            model.load_state_dict(checkpoint["model"])
        elif weights == "selected":
            best = checkpoint.get("best") or {}
            model.load_state_dict(best["state"] if best.get("state") is not None else checkpoint["model"])
        models[weights] = model.eval()
    return models


def read_run(path: str | Path, data, probe_x: torch.Tensor, *, batch_norm: bool, batch_size: int = 128,
             seed: int = 0) -> pd.DataFrame:
    """Every reading of one run: rows (weights, samples, mode, layer, sparsity %, dead %); ``data``: its Dataset."""
    models = run_models(path, data.n_features, data.n_classes)
    samples = {"probe": probe_x.cpu(), "train": data.x_train.cpu(), "test": data.x_test.cpu()}
    rows = []
    for weights, model in models.items():
        _, dead = layer_readings(layer_outputs(model, samples["train"]))
        for name, x in samples.items():
            for mode in MODES if batch_norm else ("eval",):
                gen = torch.Generator().manual_seed(seed)
                sp, _ = layer_readings(layer_outputs(model, x, mode=mode, batch_size=batch_size, generator=gen))
                for i, value in enumerate(sp):
                    rows.append({"weights": weights, "samples": name, "mode": mode, "layer": i + 1,
                                 "sparsity": 100 * value, "dead": 100 * dead[i]})
    return pd.DataFrame(rows)


def summarise(readings: pd.DataFrame) -> pd.DataFrame:
    """Per (task, batch_norm, weights, samples, mode): layer-mean sparsity and dead share, mean ± s.e. over seeds,
    beside the paper's layer mean (trained values for selected/last, untrained for untrained) and whether the
    reading lands within max(2 s.e., 3 pp) of it."""
    keys = ["task", "batch_norm", "weights", "samples", "mode"]
    per_seed = readings.groupby([*keys, "seed"], as_index=False)[["sparsity", "dead"]].mean()
    rows = []
    for key, part in per_seed.groupby(keys, sort=False):
        row = dict(zip(keys, key))
        m, se, n = mean_se(part["sparsity"].tolist())
        dm, dse, _ = mean_se(part["dead"].tolist())
        state = "untrained" if row["weights"] == "untrained" else "trained"
        paper = float(np.mean(PAPER_TABLE1[(row["task"], row["batch_norm"], state)]))
        band = max(2 * se if math.isfinite(se) else math.inf, TOLERANCE_PP)
        row.update({"sparsity": m, "se": se, "n": n, "dead": dm, "dead_se": dse, "paper": paper,
                    "within": bool(n >= 3 and abs(m - paper) <= band)})
        rows.append(row)
    return pd.DataFrame(rows)


def verdict_lines(summary: pd.DataFrame) -> list[str]:
    """Per (data set, batch norm): the study's reading, the trained reading closest to the paper, and whether any
    tested measurement factor closes the gap."""
    lines = []
    trained = summary[summary["weights"] != "untrained"]
    for (task, bn), part in trained.groupby(["task", "batch_norm"], sort=False):
        own = part[(part["weights"] == DEFAULT[0]) & (part["samples"] == DEFAULT[1]) & (part["mode"] == DEFAULT[2])]
        best = part.iloc[(part["sparsity"] - part["paper"]).abs().argsort()].iloc[0]
        label = f"{task}, batch norm {bn}"
        head = f"{label}: paper {best['paper']:.1f}%"
        if len(own):
            o = own.iloc[0]
            head += f", ours (selected, probe, eval) {o['sparsity']:.1f} ± {o['se']:.1f}% (dead {o['dead']:.1f}%)"
        closest = (f"closest reading ({best['weights']}, {best['samples']}, {best['mode']}) "
                   f"{best['sparsity']:.1f} ± {best['se']:.1f}% (n = {best['n']})")
        explained = part[part["within"]]
        if len(explained):
            which = "; ".join(f"{r['weights']}/{r['samples']}/{r['mode']}" for _, r in explained.iterrows())
            lines.append(f"{head}; {closest}; within max(2 s.e., {TOLERANCE_PP:g} pp) of the paper: {which}")
        else:
            lines.append(f"{head}; {closest}; no tested measurement factor (weights, samples, mode) closes the gap")
    return lines


def readings_figure(summary: pd.DataFrame):
    """One panel per (data set, batch norm): trained layer-mean sparsity per reading (bars, mean ± s.e.), the dead
    units' share of it (dark part), the paper's layer mean (dashed line)."""
    import matplotlib

    from ...report import figures

    trained = summary[summary["weights"] != "untrained"]
    panels = list(dict.fromkeys(zip(trained["task"], trained["batch_norm"])))
    with matplotlib.rc_context(figures.STYLE):
        fig, axes = figures.new_figure(1, max(len(panels), 1), panel=(2.9, 2.6), sharey=True)
        for ax, (task, bn) in zip(axes[0], panels):
            part = trained[(trained["task"] == task) & (trained["batch_norm"] == bn)]
            labels = [f"{w[:3]}·{s}" + ("·tr" if mo == "train" else "") for w, s, mo in
                      zip(part["weights"], part["samples"], part["mode"])]
            x = np.arange(len(part))
            colors = [figures.TAB10[0] if w == "selected" else figures.TAB10[1] for w in part["weights"]]
            ax.bar(x, part["sparsity"], color=colors, yerr=np.nan_to_num(part["se"].to_numpy(float)), capsize=2)
            ax.bar(x, part["dead"], color="0.25", width=0.5)
            ax.axhline(float(part["paper"].iloc[0]), color="black", ls="--", lw=0.9)
            ax.set_xticks(x, labels, rotation=70, fontsize=6)
            ax.set_title(f"{task}, ReLU{' + batch norm' if bn != 'off' else ''}")
            ax.set_ylim(0, 100)
        axes[0][0].set_ylabel("trained layer-mean sparsity (%)")
    return fig


def measure(runs: pd.DataFrame, load_data, *, batch_size: int = 128) -> pd.DataFrame:
    """All readings of the 4-layer ReLU runs in ``runs`` (columns ``run_id, path, task, batch_norm, seed``);
    ``load_data(path)`` → (Dataset, probe inputs) for a run directory. Runs without a checkpoint are skipped."""
    frames = []
    for _, r in runs.iterrows():
        path = Path(r["path"])
        if not (path / "checkpoint.pt").exists():
            continue
        data, probe_x = load_data(path)
        part = read_run(path, data, probe_x, batch_norm=r["batch_norm"] != "off", batch_size=batch_size,
                        seed=int(r["seed"]))
        frames.append(part.assign(run_id=r["run_id"], task=r["task"], batch_norm=r["batch_norm"], seed=int(r["seed"])))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def run_data_loader(exec_config, cache: Mapping | None = None):
    """``load_data`` for :func:`measure`: the run's data set (split as its config says) and its probe set's inputs,
    loaded once per data configuration."""
    from ...config import config_from_dict, resolve, resolve_exec
    from ...probes.probe_set import make_probe_set
    from ...runner import load_run_data
    from ...store.atomic import read_json

    loaded = dict(cache or {})

    def load(path: Path):
        config = resolve(config_from_dict(read_json(Path(path) / "config.json")["config"]))
        key = (repr(config.data), config.probes.probe_split, config.probes.probe_per_class, config.probes.probe_seed)
        if key not in loaded:
            data = load_run_data(config, resolve_exec(exec_config))
            probe = make_probe_set(data, config.probes.probe_split, config.probes.probe_per_class, config.probes.probe_seed)
            loaded[key] = (data, probe.x)
        return loaded[key]

    return load
