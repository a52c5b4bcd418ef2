"""``vanishing.load(root)``: everything in a results root as pandas DataFrames.

``Results.runs`` — one row per run:

==================  ==========================================================
column              meaning
==================  ==========================================================
run_id              ``<config hash[:12]>-s<seed>``
status              pending, running, done, diverged, interrupted, failed
config_hash         full hash of the resolved config (without the seed)
seed                the run's seed
dataset … monitor   every config field, without its section prefix (``hidden``
                    as text ``"128,128"``; ``depth`` and ``width`` = number of
                    hidden layers and the widest one)
epochs_done         finished epochs
headline_epoch      the epoch the headline metrics come from
headline            which epoch that is ("best-validation epoch" or "last epoch …")
test_acc, test_mcr  headline test accuracy and misclassification rate (fractions)
val_acc             validation accuracy at the headline epoch
last_test_acc       test accuracy after the last epoch
train_time_s        total training wall time (evaluation excluded)
diverged_step       global step (1-based) of the first NaN/inf loss, if any
message             failure message, if any
path                the run directory
==================  ==========================================================

``Results.epochs`` — one row per run and finished epoch: ``run_id, seed,
epoch, train_loss, train_acc, val_loss, val_acc, test_loss, test_acc,
test_mcr, lr, epoch_time_s, eval_time_s`` (accuracies as fractions in [0, 1];
``epoch`` counts from 1; ``epoch_time_s`` is training only).

``Results.probes`` — the probe tables (:mod:`vanishing.probes`, ``docs/probes.md``),
a dict of DataFrames by table name, long format, every row starting with
``run_id, seed``; ``Results.probe(name)`` returns one (empty, with these
columns, when no run recorded it). The runs table also has the columns
``probes`` (the resolved probe specs joined by "; "), ``probe_per_class``,
``probe_split`` and ``probe_seed``.

Per-step tables (``step`` = global optimizer step from 1, ``epoch`` = the
1-based epoch it belongs to; ``layer`` = hidden1 … hiddenL, output):

=====================  =====================================================================
table                  columns after run_id, seed
=====================  =====================================================================
grad_norms             step, epoch, layer, weight_l2, weight_mean_abs, bias_l2, bias_mean_abs
                       (‖∇W‖₂, mean |∇W|, ‖∇b‖₂, mean |∇b| of the mini-batch loss, before clipping)
backprop_signal_batch  step, epoch, layer (hidden only), delta_rms (√B‖∂E/∂A‖_F),
                       delta_mean_norm (‖Σ_n ∂E/∂a_n‖₂)
update_ratio           step, epoch, layer, update_norm (‖ΔW‖₂), weight_norm (‖W‖₂), ratio
=====================  =====================================================================

Probe-set tables (``epoch`` = finished epochs, 0 = at initialisation;
``layer`` = hidden1 … hiddenL; eval mode; NaN with ``defined`` False where
the quantity is not defined for the layer's activation):

=====================  =====================================================================
table                  columns after run_id, seed
=====================  =====================================================================
backprop_signal        epoch, layer, rms, mean_norm, median_norm, rms_node (of per-example
                       ‖∂E_n/∂a_n‖₂), n_samples
activation_stats       epoch, layer, node (0-based), class (label; −1 = all classes), count,
                       mean, std, q05, q25, median, q75, q95 (of the node's output f(a))
activation_hist        epoch, layer, bin, lo, hi, count (histogram of f(a) over the layer)
sparsity               epoch, layer, sparsity (fraction of (example, node) pairs with
                       f(a) ≤ 0 = mean over nodes, Pretorius Table 1 / 100), defined,
                       n_samples, width
dead_units             epoch, layer, dead (nodes with f(a) ≤ 0 on every example), width,
                       fraction, defined
saturation             epoch, layer, saturation (fraction of pairs with |f′(a)| < threshold ·
                       max|f′|), defined, threshold
jacobian_spectrum      epoch, example (index in the probe set), class, index (rank from 0),
                       singular_value (of ∂h_L/∂x, descending)
=====================  =====================================================================
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import StoreError
from .atomic import read_json
from .index import FINAL, Index

EPOCH_COLUMNS = [
    "run_id", "seed", "epoch", "train_loss", "train_acc", "val_loss", "val_acc",
    "test_loss", "test_acc", "test_mcr", "lr", "epoch_time_s", "eval_time_s",
]
PROBE_COLUMNS: dict[str, list[str]] = {
    "grad_norms": ["step", "epoch", "layer", "weight_l2", "weight_mean_abs", "bias_l2", "bias_mean_abs"],
    "backprop_signal_batch": ["step", "epoch", "layer", "delta_rms", "delta_mean_norm"],
    "update_ratio": ["step", "epoch", "layer", "update_norm", "weight_norm", "ratio"],
    "backprop_signal": ["epoch", "layer", "rms", "mean_norm", "median_norm", "rms_node", "n_samples"],
    "activation_stats": ["epoch", "layer", "node", "class", "count", "mean", "std", "q05", "q25", "median", "q75", "q95"],
    "activation_hist": ["epoch", "layer", "bin", "lo", "hi", "count"],
    "sparsity": ["epoch", "layer", "sparsity", "defined", "n_samples", "width"],
    "dead_units": ["epoch", "layer", "dead", "width", "fraction", "defined"],
    "saturation": ["epoch", "layer", "saturation", "defined", "threshold"],
    "jacobian_spectrum": ["epoch", "example", "class", "index", "singular_value"],
}
SUMMARY_COLUMNS = [
    "epochs_done", "headline_epoch", "headline", "test_acc", "test_mcr", "val_acc",
    "last_test_acc", "train_time_s", "diverged_step", "message",
]


@dataclass
class Results:
    """The tables of a results root (see the module docstring for the schema)."""

    root: Path
    runs: pd.DataFrame
    epochs: pd.DataFrame
    probes: dict[str, pd.DataFrame] = field(default_factory=dict)

    def probe(self, name: str) -> pd.DataFrame:
        """One probe table (empty with the documented columns when no run recorded it)."""
        if name in self.probes:
            return self.probes[name]
        if name not in PROBE_COLUMNS:
            raise StoreError(f"unknown probe table {name!r} (valid: {', '.join(PROBE_COLUMNS)})")
        return pd.DataFrame(columns=["run_id", "seed", *PROBE_COLUMNS[name]])

    def __repr__(self) -> str:
        counts = self.runs["status"].value_counts().to_dict() if len(self.runs) else {}
        tables = f", probes={sorted(self.probes)}" if self.probes else ""
        return f"Results({str(self.root)!r}, runs={len(self.runs)} {counts}, epochs={len(self.epochs)}{tables})"


def flatten_config(config: dict) -> dict:
    """Section-less columns of a config dict (``model.hidden`` → ``hidden`` as "128,128")."""
    row: dict = {"seed": config.get("seed")}
    for section in ("data", "model", "optim", "train"):
        for key, value in config.get(section, {}).items():
            if isinstance(value, list):
                value = ",".join(str(v) for v in value)
            row[key] = value
    probes = config.get("probes")
    if probes is not None:
        row["probes"] = "; ".join(probes.get("enabled", []))
        for key in ("probe_per_class", "probe_split", "probe_seed"):
            row[key] = probes.get(key)
    hidden = config.get("model", {}).get("hidden", [])
    row["depth"] = len(hidden)
    row["width"] = max(hidden) if hidden else None
    return row


def load(root: str | Path) -> Results:
    """Load every run of a results root into DataFrames."""
    root = Path(root)
    runs_dir = root / "runs"
    if not runs_dir.is_dir():
        raise StoreError(f"{root}: not a results root (no runs/ folder)")
    index_rows = {r["run_id"]: r for r in Index(root).rows()} if (root / "index.sqlite").exists() else {}
    run_rows, epoch_frames = [], []
    probe_frames: dict[str, list[pd.DataFrame]] = {}
    for path in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        try:
            loaded = _read_run(path, index_rows)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:  # a hand-edited or foreign folder
            raise StoreError(f"{path}: malformed run directory ({type(exc).__name__}: {exc})") from None
        if loaded is None:
            continue
        row, history_frame, tables = loaded
        run_rows.append(row)
        if history_frame is not None:
            epoch_frames.append(history_frame)
        for name, frame in tables.items():
            probe_frames.setdefault(name, []).append(frame)
    runs = pd.DataFrame(run_rows)
    epochs = pd.concat(epoch_frames, ignore_index=True) if epoch_frames else pd.DataFrame(columns=EPOCH_COLUMNS)
    probes = {name: pd.concat(frames, ignore_index=True) for name, frames in sorted(probe_frames.items())}
    return Results(root, runs, epochs, probes)


def _read_run(path: Path, index_rows: dict) -> tuple[dict, pd.DataFrame | None, dict[str, pd.DataFrame]] | None:
    """One run directory: its runs-table row, its epochs frame and its probe tables (None: no config.json)."""
    doc = read_json(path / "config.json")
    if doc is None:
        return None
    if not (isinstance(doc, dict) and isinstance(doc.get("run_id"), str) and isinstance(doc.get("config_hash"), str)
            and isinstance(doc.get("config"), dict)):
        raise StoreError(f"{path / 'config.json'}: not a run's config (expected run_id, config_hash and config)")
    rid = doc["run_id"]
    summary = read_json(path / "summary.json") or {}
    if not isinstance(summary, dict):
        raise StoreError(f"{path / 'summary.json'}: not a run summary (expected a JSON object)")
    indexed = index_rows.get(rid, {})
    status = summary.get("status") if summary.get("status") in FINAL else indexed.get("status") or summary.get("status")
    row = {"run_id": rid, "status": status or "pending", "config_hash": doc["config_hash"]}
    row.update(flatten_config(doc["config"]))
    row.update({k: summary.get(k) for k in SUMMARY_COLUMNS})
    if row["message"] is None:
        row["message"] = indexed.get("message")
    row["path"] = str(path)
    history = read_json(path / "epochs.json") or []
    if not (isinstance(history, list) and all(isinstance(h, dict) for h in history)):
        raise StoreError(f"{path / 'epochs.json'}: not per-epoch metrics (expected a list of JSON objects)")
    history_frame = None
    if history:
        history_frame = pd.DataFrame(history)
        history_frame.insert(0, "seed", doc["config"]["seed"])
        history_frame.insert(0, "run_id", rid)
    tables = read_probe_tables(path / "probes")
    for frame in tables.values():
        frame.insert(0, "seed", doc["config"]["seed"])
        frame.insert(0, "run_id", rid)
    return row, history_frame, tables


def read_probe_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """The ``<name>.npz`` probe tables of one run directory's ``probes/`` folder (never unpickles)."""
    import numpy as np

    tables: dict[str, pd.DataFrame] = {}
    if not folder.is_dir():
        return tables
    for file in sorted(folder.glob("*.npz")):
        try:
            with np.load(file, allow_pickle=False) as npz:
                tables[file.stem] = pd.DataFrame({key: npz[key] for key in npz.files})
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, MemoryError) as exc:
            raise StoreError(f"{file}: unreadable probe table ({exc or type(exc).__name__})") from None
    return tables
