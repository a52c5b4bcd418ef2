"""The training loop for one recurrent run: fresh generated batches, clipping, evaluations and probes.

``fit(cfg, sink)``:

1. build the task, the model (:func:`.models.build`, seeded) and the
   optimizer (torch's Adam / SGD / RMSprop with ``cfg.lr``);
2. draw the fixed test set (``eval_size`` sequences) and probe set
   (``probe_size``) from their own streams (:func:`.tasks.generate`);
3. at step 0 and at every step of ``cfg.eval_steps``: evaluate on the test
   set, run the time-step gradient probe and the spectrum
   (:mod:`.probes`), and hand a history record and the probe tables to the
   sink;
4. each step draws a new batch (stream ``train-<step>``), computes the mean
   task loss, backpropagates, measures the global gradient norm ‖∇θ L‖₂ and
   clips it to ``clip_norm`` (``torch.nn.utils.clip_grad_norm_``) — the step
   counts as *clipped* when the norm exceeded the threshold — and steps the
   optimizer. A non-finite loss or gradient norm ends the run as
   ``diverged`` (no step is taken with it).

History record fields: ``step``, ``train_loss`` (mean over the steps since the
previous record; NaN at step 0), ``test_loss``, ``test_error`` (fraction),
``test_loss_ratio`` (test loss ÷ the input-blind baseline: Var(y) = 1/6 or
ln K), ``clipped_fraction`` and ``grad_norm_mean`` / ``grad_norm_max`` (over
the steps since the previous record, before clipping), ``grad_k0`` and
``grad_kmax`` (probe RMS ‖∂L/∂h‖ at the last answered step and at the first
step), ``spectral_radius`` (of W_hh, or the LSTM's forget / GRU's update
block), ``train_time_s`` (cumulative, evaluation and probes excluded).

The sink is anything with ``save(history, tables)`` and ``finish(summary)``
(:class:`.runs.RunWriter` writes the run directory; None keeps nothing).
A sink that also has ``checkpoint(state)`` and ``resume_state()`` makes the
run resumable: at every evaluation point ``fit`` hands it the whole training
state (model, optimizer, history, probe tables, counters); a later ``fit`` of
the same config starts from the last such state. Each step's batch is drawn
from its own stream (``train-<step>``) and the models draw no random numbers,
so a resumed run is the uninterrupted run, step for step.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np
import torch

from .config import RecurrentConfig
from .models import build
from .probes import spectral_stats, time_gradients
from .tasks import Task, generate

SPECTRAL_BLOCK = {"lstm": "f", "gru": "z"}  # the block whose radius the history reports (Elman: W_hh)


def make_optimizer(cfg: RecurrentConfig, params) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr)
    return torch.optim.RMSprop(params, lr=cfg.lr)


def evaluate(model, task: Task, x: torch.Tensor, y: torch.Tensor, chunk: int = 500) -> tuple[float, float]:
    """(mean test loss, error fraction) over the whole test set, in chunks."""
    losses, errors, n = 0.0, 0.0, len(x)
    with torch.no_grad():
        for i in range(0, n, chunk):
            out = model(x[i:i + chunk])
            m = len(out)
            losses += float(task.loss(out, y[i:i + chunk])) * m
            errors += task.error(out, y[i:i + chunk]) * m
    return losses / n, errors / n


def fit(cfg: RecurrentConfig, sink: Any = None, log: Callable[[str], None] | None = None) -> dict:
    """Train one run of ``cfg``; returns its summary (also handed to ``sink.finish``)."""
    task = Task(cfg.task, cfg.length, cfg.symbols, cfg.categories)
    model = build(cfg, task)
    params = [p for p in model.parameters()]
    opt = make_optimizer(cfg, params)
    x_test, y_test = generate(task, cfg.eval_size, "test", cfg.seed)
    x_probe, y_probe = generate(task, cfg.probe_size, "probe", cfg.seed)
    eval_at = set(cfg.eval_steps)
    clip = cfg.clip_norm if cfg.clip_norm is not None else math.inf

    history: list[dict] = []
    tables: dict[str, dict[str, list]] = {"time_grad": {}, "spectral": {}}
    window = {"loss": 0.0, "steps": 0, "clipped": 0, "norm_sum": 0.0, "norm_max": 0.0}
    totals = {"clipped": 0, "steps": 0}
    train_time = probe_time = 0.0

    def append(table: dict[str, list], step: int, columns: dict[str, np.ndarray]) -> None:
        n = len(next(iter(columns.values())))
        table.setdefault("step", []).extend([step] * n)
        for key, col in columns.items():
            table.setdefault(key, []).extend(np.asarray(col).tolist())

    def snapshot(step: int) -> None:
        nonlocal probe_time
        started = time.perf_counter()
        model.eval()
        test_loss, test_error = evaluate(model, task, x_test, y_test)
        tg = time_gradients(model, task, x_probe, y_probe)
        spec = spectral_stats(model)
        model.train()
        append(tables["time_grad"], step, tg)
        append(tables["spectral"], step, spec)
        block = SPECTRAL_BLOCK.get(cfg.cell, "W_hh")
        steps = window["steps"]
        history.append({
            "step": step,
            "train_loss": window["loss"] / steps if steps else math.nan,
            "test_loss": test_loss,
            "test_error": test_error,
            "test_loss_ratio": test_loss / task.chance_loss,
            "clipped_fraction": window["clipped"] / steps if steps else math.nan,
            "grad_norm_mean": window["norm_sum"] / steps if steps else math.nan,
            "grad_norm_max": window["norm_max"] if steps else math.nan,
            "grad_k0": float(tg["grad_rms"][task.readout_steps - 1]),
            "grad_kmax": float(tg["grad_rms"][-1]),
            "spectral_radius": float(spec["radius"][list(spec["block"]).index(block)]),
            "train_time_s": train_time,
        })
        window.update(loss=0.0, steps=0, clipped=0, norm_sum=0.0, norm_max=0.0)
        probe_time += time.perf_counter() - started
        if sink is not None:
            sink.save(history, tables)

    def save_state(step: int) -> None:
        if hasattr(sink, "checkpoint"):
            sink.checkpoint({"step": step, "model": model.state_dict(), "optimizer": opt.state_dict(),
                             "history": history, "tables": tables, "totals": totals,
                             "train_time": train_time, "probe_time": probe_time})

    status, diverged_step, start = "done", None, 1
    state = sink.resume_state() if hasattr(sink, "resume_state") else None
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        history[:], tables = state["history"], state["tables"]
        totals.update(state["totals"])
        train_time, probe_time, start = float(state["train_time"]), float(state["probe_time"]), int(state["step"]) + 1
        if log is not None:
            log(f"  {cfg.label} T={cfg.length} seed {cfg.seed}: resumed after step {state['step']}")
    else:
        snapshot(0)
        save_state(0)
    for step in range(start, cfg.steps + 1):
        started = time.perf_counter()
        x, y = generate(task, cfg.batch_size, "train", cfg.seed, batch=step)
        loss = task.loss(model(x), y)
        if not torch.isfinite(loss):
            status, diverged_step = "diverged", step
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = float(torch.nn.utils.clip_grad_norm_(params, clip))
        if not math.isfinite(norm):
            status, diverged_step = "diverged", step
            break
        opt.step()
        train_time += time.perf_counter() - started
        clipped = norm > clip
        window["loss"] += float(loss.detach())
        window["steps"] += 1
        window["clipped"] += clipped
        window["norm_sum"] += norm
        window["norm_max"] = max(window["norm_max"], norm)
        totals["clipped"] += clipped
        totals["steps"] += 1
        if step in eval_at:
            snapshot(step)
            save_state(step)
            if log is not None:
                h = history[-1]
                log(f"  {cfg.label} T={cfg.length} seed {cfg.seed}: step {step}, test error {100 * h['test_error']:.1f}%,"
                    f" loss ratio {h['test_loss_ratio']:.3f}")
    last = history[-1]  # after a divergence: the last snapshot before it (the bad step was never taken)
    summary = {
        "status": status,
        "diverged_step": diverged_step,
        "steps_done": totals["steps"],
        "final_step": last["step"],
        "test_error": last["test_error"],
        "test_loss": last["test_loss"],
        "test_loss_ratio": last["test_loss_ratio"],
        "best_test_error": min(h["test_error"] for h in history),
        "chance_error": task.chance_error,
        "chance_loss": task.chance_loss,
        "clipped_fraction": totals["clipped"] / totals["steps"] if totals["steps"] else math.nan,
        "train_time_s": train_time,
        "probe_time_s": probe_time,
    }
    if sink is not None:
        sink.finish(summary)
    return summary
