"""Where a seed batch keeps its joint checkpoint: ``<root>/batches/<batch_id>/``.

Each seed of a batch has its own run directory (config, per-epoch metrics,
its own checkpoint in the unbatched format, summary, probe tables), exactly
as an unbatched run. The batch as a whole also keeps one stacked checkpoint,
written atomically *before* the seeds' own files at every epoch end: it is
the state a batch resumes from, so the K seeds always resume together from
the same epoch ("a batch of seeds resumes as a unit") even when a crash
hit between the K per-seed writes.

``batch.json`` names the seeds and the config hash, so a later sweep finds
an unfinished batch and resumes it with the same seeds even if it would
have grouped them differently. The folder is removed when every seed of the
batch has finished.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Sequence

from ..store.atomic import read_json, torch_load, torch_save, write_json

BATCHES = "batches"


def batch_id(config_hash: str, seeds: Sequence[int]) -> str:
    """``<first 12 hex of the config hash>-k<K>-<8 hex of the seed list>``."""
    digest = hashlib.sha256(",".join(str(s) for s in seeds).encode()).hexdigest()[:8]
    return f"{config_hash[:12]}-k{len(seeds)}-{digest}"


class BatchDir:
    """The joint checkpoint of one seed batch (see the module docstring)."""

    def __init__(self, root: str | Path, config_hash: str, seeds: Sequence[int]) -> None:
        self.config_hash = config_hash
        self.seeds = list(seeds)
        self.id = batch_id(config_hash, self.seeds)
        self.path = Path(root) / BATCHES / self.id

    def load(self) -> dict | None:
        return torch_load(self.path / "checkpoint.pt")

    def save(self, checkpoint: dict) -> None:
        if not (self.path / "batch.json").exists():
            self.path.mkdir(parents=True, exist_ok=True)
            write_json(self.path / "batch.json", {"id": self.id, "config_hash": self.config_hash, "seeds": self.seeds})
        torch_save(self.path / "checkpoint.pt", checkpoint)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        try:
            self.path.parent.rmdir()  # the last batch of the root: leave no empty folder
        except OSError:
            pass


def existing_batches(root: str | Path) -> list[dict]:
    """``batch.json`` records of the unfinished batches under ``root`` that have a checkpoint."""
    folder = Path(root) / BATCHES
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.iterdir()):
        record = read_json(path / "batch.json") if path.is_dir() else None
        if record is not None and (path / "checkpoint.pt").exists():
            out.append(record)
    return out


class MemoryBatchDir:
    """A batch checkpoint kept in memory (tests, notebooks)."""

    def __init__(self) -> None:
        self.checkpoint: dict | None = None
        self.removed = False

    def load(self) -> dict | None:
        return self.checkpoint

    def save(self, checkpoint: dict) -> None:
        import copy

        self.checkpoint = copy.deepcopy(checkpoint)

    def remove(self) -> None:
        self.checkpoint, self.removed = None, True
