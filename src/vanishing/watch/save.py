"""``Watch.save(root)``: a watched loop as a run of the results store.

Layout (the same as ``vanishing run``'s, so ``vanishing.load``,
``vanishing status`` and ``vanishing diagnose`` read it)::

    <root>/runs/<run_id>/config.json     what was watched (below)
    <root>/runs/<run_id>/probes/*.npz    grad_norms, backprop_signal, activation_stats, activation_hist,
                                         sparsity, dead_units, saturation (numpy columns, no pickle)
    <root>/runs/<run_id>/summary.json    status "done", steps, snapshots, verdicts (written last)

``run_id`` is the ``name`` given to ``watch``/``save``, else
``watch-<UTC time of the watch's start>-<8 hex digits of config_hash>``; saving
the same watch again overwrites its run. No index row is written: ``load``
reads run directories without one.

A ``RunConfig`` cannot describe an arbitrary model, so ``config.json`` of a
watched run holds (``kind = "watch"``):

* ``config`` — the fields ``vanishing.load`` flattens into the runs table:
  ``seed`` (null), ``data.dataset`` ("probe batch"), ``data.probe_examples``,
  ``model.class`` (the model's class name), ``model.hidden`` (width of every
  hidden layer: units or channels), ``model.activation`` (their activations, a
  registry spec or "unknown"), ``model.layers`` (their module names),
  ``model.output_layer``, ``model.parameters`` (count), ``optim.loss`` (the
  loss function's name), ``optim.optimizer`` ("user"), ``train.epochs`` (0:
  a watched loop has no epochs the watcher knows of) and ``train.steps``;
* ``watch`` — the options (``every``, ``step_on``, ``unknown``,
  ``loss_reduction`` as resolved, ``saturation_threshold``, ``bins``),
  ``clock = "step"``, and one record per weight layer: ``name``, ``type``,
  ``role`` (hidden / output / gradient-only), ``node_dim``,
  ``activation_module``, ``activation``, ``width``, ``weight_shape``; the
  modules left out by the unknown-layer policy and the parameterless modules
  passed through;
* ``model_repr`` — ``repr(model)``; ``environment``, ``created``, ``command``
  as for every run.

The clock: in a watched run every ``epoch`` column of the probe tables holds
the **training step** (the probe-set tables' ``epoch`` = the step of the
snapshot, 0 = at the start; ``grad_norms.epoch`` = ``grad_norms.step``).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import StoreError, UsageError
from ..store.atomic import write_json
from ..store.rundir import environment, write_probe_table

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def _loss_name(loss_fn: Any) -> str:
    name = getattr(loss_fn, "__name__", None) or type(loss_fn).__name__
    return str(name)[:100]


def describe(w) -> dict[str, Any]:
    """The ``config`` and ``watch`` sections of a watched run's config.json."""
    hidden = list(w.hidden)
    config = {
        "seed": None,
        "data": {"dataset": "probe batch", "probe_examples": w.n},
        "model": {
            "class": type(w.model).__name__,
            "hidden": [int(w.widths[n]) for n in hidden],
            "activation": [w.activations[n] for n in hidden],
            "layers": hidden,
            "output_layer": w.output_layer,
            "parameters": int(sum(p.numel() for p in w.model.parameters())),
        },
        "optim": {"loss": _loss_name(w.loss_fn), "optimizer": "user"},
        "train": {"epochs": 0, "steps": int(w.steps)},
    }
    layers = []
    for n in w.layers:
        module = w.layout.weight[n]
        weight, _ = w.layout.params[n]
        apps = [a for a in hidden if w.app_module.get(a) == n]  # a shared module: its calls name@1 … name@k
        role = "hidden" if (n in hidden or apps) else ("output" if n == w.app_module.get(w.output_layer) else "gradient-only")
        layers.append({
            "name": n,
            "type": type(module).__name__,
            "role": role,
            "node_dim": w.layout.node_dim[n],
            "activation_module": w.activation_module.get(n),
            "activation": w.activations.get(n),
            "width": w.widths.get(n),
            "weight_shape": list(weight.shape) if hasattr(weight, "shape") else None,
        })
    options = {
        "every": repr(w.schedule),
        "step_on": w.step_on,
        "unknown": w.unknown_policy,
        "loss_reduction": w.reduction,
        "saturation_threshold": w.saturation_threshold,
        "bins": w.bins,
        "clock": "step",
        "layers": layers,
        "unknown_modules": [{"name": n, "type": t} for n, t in w.layout.unknown],
        "ignored_modules": [{"name": n, "type": t} for n, t in w.layout.ignored],
    }
    return {"config": config, "watch": options}


def save_watch(w, root: str | Path, name: str | None = None) -> Path:
    """Write watch ``w`` as ``<root>/runs/<run_id>/`` (see the module docstring); returns that folder."""
    try:
        verdicts = w.diagnose().kinds  # first: it may take a snapshot of the current step
    except UsageError:  # no hidden layer to judge: the tables are the record all the same
        verdicts = []
    tables = w.columns()
    doc = describe(w)
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()
    if name is not None and not _NAME.match(name):
        raise StoreError(f"watch name {name!r}: letters, digits, '_', '.', '-' only (up to 128), starting with a letter or digit")
    rid = name or f"watch-{w.started}-{digest[:8]}"
    path = Path(root) / "runs" / rid
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the run directory ({exc.strerror or exc})") from None
    write_json(path / "config.json", {
        "run_id": rid,
        "config_hash": digest,
        "kind": "watch",
        **doc,
        "model_repr": repr(w.model),
        "environment": environment(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": sys.argv,
    })
    for table, columns in tables.items():
        write_probe_table(path / "probes", table, columns)
    write_json(path / "summary.json", {
        "status": "done",
        "run_id": rid,
        "kind": "watch",
        "steps": int(w.steps),
        "snapshots": [int(s) for s in w.snapshot_steps],
        "epochs_done": 0,
        "verdicts": verdicts,
        "message": None,
    })
    return path
