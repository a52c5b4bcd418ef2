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
of the whole training split in eval mode, which count fully towards an
eval-mode sparsity. Whether a reading matches the paper's layer mean is the
project's numeric rule (:func:`vanishing.report.tables.numeric_verdict`, a
tolerance of 3 pp on the layer mean): "reproduced" when |mean − paper| ≤
max(2 s.e., 3 pp), "inconclusive" on fewer than 3 seeds or an interval wider
than max(9 pp, 25% of the paper's value). A reading *explains* the gap of a
(data set, batch norm) panel when it is "reproduced"; when every reading is
decided and none is, no tested measurement factor explains it; otherwise the
panel is inconclusive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ...report.tables import numeric_verdict
from ..base import mean_se
from .claims import PAPER_TABLE1

WEIGHTS = ("untrained", "selected", "last")
SAMPLES = ("probe", "train", "test")
MODES = ("eval", "train")
DEFAULT = ("selected", "probe", "eval")  # the study's own reading (Table 1 rows)
TOLERANCE_PP = 3.0


def layer_outputs(model, x: torch.Tensor, *, mode: str = "eval", batch_size: int = 1024,
                  generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """Per hidden layer, the activation outputs f(a) (N, width) of ``model`` (a :class:`vanishing.model.MLP`) on
    ``x`` — what the sparsity probe reads (before a batch norm "after" or a residual sum).

    ``mode="eval"``: batch norm uses its running statistics (batches only split the work). ``mode="train"``:
    batch norm normalises with each batch's statistics, the examples shuffled by ``generator`` into batches of
    ``batch_size`` (a last batch of one joins the one before: batch norm needs two); the outputs are returned in the
    input order and the model's running statistics and mode are left as they were.
    """
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    was_training = model.training
    saved = {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}
    order = torch.randperm(len(x), generator=generator) if mode == "train" else torch.arange(len(x))
    starts = list(range(0, len(x), batch_size))
    if mode == "train" and len(starts) > 1 and len(x) - starts[-1] == 1:
        starts.pop()
    parts: list[list[torch.Tensor]] = []
    model.train(mode == "train")
    try:
        with torch.no_grad():
            for start, end in zip(starts, [*starts[1:], len(x)]):
                idx = order[start:end]
                _, pre, _ = model.forward_with_intermediates(x[idx.to(x.device)])
                parts.append([layer.act(a).detach().cpu() for layer, a in zip(model.hidden_layers, pre)])
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
    from ...store.atomic import read_json, torch_load

    path = Path(path)
    doc = read_json(path / "config.json")
    config = resolve(config_from_dict(doc["config"]))
    checkpoint = torch_load(path / "checkpoint.pt")
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
    """Every reading of one run: rows (weights, samples, mode, n_samples, layer, sparsity %, dead %); ``data``: the
    run's Dataset, ``probe_x``: its probe set's inputs, ``batch_size``: its training batch (train-mode batch norm)."""
    models = run_models(path, data.n_features, data.n_classes)
    samples = {"probe": probe_x.cpu(), "train": data.x_train.cpu(), "test": data.x_test.cpu()}
    rows = []
    for weights, model in models.items():
        read = {}
        for name, x in samples.items():
            for mode in MODES if batch_norm else ("eval",):
                gen = torch.Generator().manual_seed(seed)
                read[name, mode] = layer_readings(layer_outputs(model, x, mode=mode, batch_size=batch_size, generator=gen))
        dead = read["train", "eval"][1]  # dead on the whole training split, eval mode
        for (name, mode), (sp, _) in read.items():
            for i, value in enumerate(sp):
                rows.append({"weights": weights, "samples": name, "mode": mode, "n_samples": len(samples[name]),
                             "layer": i + 1, "sparsity": 100 * value, "dead": 100 * dead[i]})
    return pd.DataFrame(rows)


def summarise(readings: pd.DataFrame) -> pd.DataFrame:
    """Per (task, batch_norm, weights, samples, mode): layer-mean sparsity and dead share, mean ± s.e. over runs,
    beside the paper's layer mean (its trained values for selected/last, untrained for untrained) and the numeric
    verdict of the reading against it (``verdict``, ``reason``; see the module docstring)."""
    keys = ["task", "batch_norm", "weights", "samples", "mode"]
    per_run = readings.groupby([*keys, "run_id"], as_index=False)[["sparsity", "dead"]].mean()
    rows = []
    for key, part in per_run.groupby(keys, sort=False):
        row = dict(zip(keys, key))
        m, se, n = mean_se(part["sparsity"].tolist())
        dm, dse, _ = mean_se(part["dead"].tolist())
        state = "untrained" if row["weights"] == "untrained" else "trained"
        paper = float(np.mean(PAPER_TABLE1[(row["task"], row["batch_norm"], state)]))
        verdict, reason = numeric_verdict(paper, m, se, n=n, tolerance=TOLERANCE_PP)
        row.update({"sparsity": m, "se": se, "n": n, "dead": dm, "dead_se": dse, "paper": paper,
                    "verdict": verdict, "reason": reason})
        rows.append(row)
    return pd.DataFrame(rows)


def verdict_lines(summary: pd.DataFrame) -> list[str]:
    """Per (data set, batch norm): the study's reading, the trained reading closest to the paper, and whether a
    tested measurement factor explains the gap ("reproduced" reading), none does (every reading decided, none
    reproduced), or the runs cannot tell (some reading inconclusive)."""
    lines = []
    trained = summary[summary["weights"] != "untrained"]
    for (task, bn), part in trained.groupby(["task", "batch_norm"], sort=False):
        own = part[(part["weights"] == DEFAULT[0]) & (part["samples"] == DEFAULT[1]) & (part["mode"] == DEFAULT[2])]
        gap = (part["sparsity"] - part["paper"]).abs().fillna(np.inf)
        best = part.loc[gap.idxmin()]
        head = f"{task}, batch norm {bn}: paper {best['paper']:.1f}% (layer mean)"
        if len(own):
            o = own.iloc[0]
            head += f", ours (selected, probe, eval) {o['sparsity']:.1f} ± {o['se']:.1f}% (dead {o['dead']:.1f}%)"
        closest = (f"closest reading ({best['weights']}, {best['samples']}, {best['mode']}) "
                   f"{best['sparsity']:.1f} ± {best['se']:.1f}% (n = {best['n']})")
        explained = part[part["verdict"] == "reproduced"]
        undecided = part[part["verdict"] == "inconclusive"]
        if len(explained):
            which = "; ".join(f"{r['weights']}/{r['samples']}/{r['mode']}" for _, r in explained.iterrows())
            lines.append(f"{head}; {closest}; matches the paper within max(2 s.e., {TOLERANCE_PP:g} pp): {which}")
        elif len(undecided):
            lines.append(f"{head}; {closest}; inconclusive: {len(undecided)} of {len(part)} readings cannot decide "
                         f"({undecided.iloc[0]['reason']})")
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
            dead = np.where(part["mode"] == "eval", part["dead"].to_numpy(float), 0.0)  # eval-mode dead units only
            ax.bar(x, dead, color="0.25", width=0.5)
            ax.axhline(float(part["paper"].iloc[0]), color="black", ls="--", lw=0.9)
            ax.set_xticks(x, labels, rotation=70, fontsize=6)
            ax.set_title(f"{task}, ReLU{' + batch norm' if bn != 'off' else ''}")
            ax.set_ylim(0, 100)
        axes[0][0].set_ylabel("trained layer-mean sparsity (%)")
    return fig


def measure(runs: pd.DataFrame, load_data, *, log=None) -> pd.DataFrame:
    """All readings of the runs in ``runs`` (columns ``run_id, path, task, batch_norm, seed``); ``load_data(path)``
    → (Dataset, probe inputs, training batch size) for a run directory. A run without a checkpoint is skipped and
    named to ``log``."""
    frames = []
    for _, r in runs.iterrows():
        path = Path(r["path"])
        if not (path / "checkpoint.pt").exists():
            if log is not None:
                log(f"[pretorius] sparsity readings: {r['run_id']} has no checkpoint.pt; left out")
            continue
        data, probe_x, batch_size = load_data(path)
        part = read_run(path, data, probe_x, batch_norm=r["batch_norm"] != "off", batch_size=batch_size,
                        seed=int(r["seed"]))
        frames.append(part.assign(run_id=r["run_id"], task=r["task"], batch_norm=r["batch_norm"], seed=int(r["seed"])))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def run_data_loader(exec_config):
    """``load_data`` for :func:`measure`: the run's data set (split as its config says), its probe set's inputs and
    its training batch size; each data configuration is loaded once."""
    from ...config import config_from_dict, resolve, resolve_exec
    from ...probes.probe_set import make_probe_set
    from ...runner import load_run_data
    from ...store.atomic import read_json

    loaded: dict = {}

    def load(path: Path):
        config = resolve(config_from_dict(read_json(Path(path) / "config.json")["config"]))
        key = (repr(config.data), config.probes.probe_split, config.probes.probe_per_class, config.probes.probe_seed)
        if key not in loaded:
            data = load_run_data(config, resolve_exec(exec_config))
            probe = make_probe_set(data, config.probes.probe_split, config.probes.probe_per_class, config.probes.probe_seed)
            loaded[key] = (data, probe.x)
        return (*loaded[key], int(config.train.batch_size))

    return load
