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
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import StoreError
from .atomic import read_json
from .index import FINAL, Index

EPOCH_COLUMNS = [
    "run_id", "seed", "epoch", "train_loss", "train_acc", "val_loss", "val_acc",
    "test_loss", "test_acc", "test_mcr", "lr", "epoch_time_s", "eval_time_s",
]
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

    def __repr__(self) -> str:
        counts = self.runs["status"].value_counts().to_dict() if len(self.runs) else {}
        return f"Results({str(self.root)!r}, runs={len(self.runs)} {counts}, epochs={len(self.epochs)})"


def flatten_config(config: dict) -> dict:
    """Section-less columns of a config dict (``model.hidden`` → ``hidden`` as "128,128")."""
    row: dict = {"seed": config.get("seed")}
    for section in ("data", "model", "optim", "train"):
        for key, value in config.get(section, {}).items():
            if isinstance(value, list):
                value = ",".join(str(v) for v in value)
            row[key] = value
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
    for path in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        doc = read_json(path / "config.json")
        if doc is None:
            continue
        rid = doc["run_id"]
        summary = read_json(path / "summary.json") or {}
        indexed = index_rows.get(rid, {})
        status = summary.get("status") if summary.get("status") in FINAL else indexed.get("status") or summary.get("status")
        row = {"run_id": rid, "status": status or "pending", "config_hash": doc["config_hash"]}
        row.update(flatten_config(doc["config"]))
        row.update({k: summary.get(k) for k in SUMMARY_COLUMNS})
        if row["message"] is None:
            row["message"] = indexed.get("message")
        row["path"] = str(path)
        run_rows.append(row)
        history = read_json(path / "epochs.json") or []
        if history:
            frame = pd.DataFrame(history)
            frame.insert(0, "seed", doc["config"]["seed"])
            frame.insert(0, "run_id", rid)
            epoch_frames.append(frame)
    runs = pd.DataFrame(run_rows)
    epochs = pd.concat(epoch_frames, ignore_index=True) if epoch_frames else pd.DataFrame(columns=EPOCH_COLUMNS)
    return Results(root, runs, epochs)
