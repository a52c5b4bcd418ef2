"""The training engine: one resolved configuration, one seed, one run.

``fit(config, data, sink)`` trains the MLP of ``config`` on ``data`` and
hands everything it produces to ``sink`` (a run directory of the store, or
:class:`MemorySink` in memory); it never touches files itself.

The hot loop keeps the data on the device and batches are index slices of a
seeded permutation — no DataLoader. Per-step losses and correct counts go
into preallocated device tensors, so the host synchronises with the device
only every ``divergence_check_every`` steps (to look for a NaN/inf loss) and
once per epoch.

The step itself: for plain MLPs (no batch/layer norm, skips, PReLU or
RReLU) and any optimizer but SDAGD, the fused explicit step of
:mod:`vanishing.fused_step` (backpropagation in preallocated buffers; plain
SGD folded into the weight-gradient GEMM when no callback looks at the
gradients; Adam/AdamW through :func:`vanishing.optim.direct_step.direct_step`);
otherwise, on steps where a callback asks for the intermediates, or with
``ExecConfig(engine="autograd")``, torch autograd. Both give the same updates
up to floating-point rounding. ``fit`` also tunes glibc's allocator once per
process (:mod:`vanishing.allocator`). The choice between the two is made in
one place, :class:`_Engine`.

``fit`` reads as the loop: :func:`_setup` (device, seeds, model, loss,
optimizer), :func:`_restore` (the sink's checkpoint), then per epoch
:func:`_train_epoch` (calling :func:`_step` per mini-batch),
:func:`_evaluate_epoch`, :func:`_record_epoch` (best epoch, early stopping)
and :func:`_checkpoint`; :func:`_finish` summarises.

Determinism: the weights are initialised from a generator seeded with the
run seed; the data order of epoch e comes from a generator seeded with
(seed, e); the global torch RNG (used only by RReLU in training) is seeded
with the run seed and saved in every checkpoint. Same config + seed + threads
+ engine + torch build ⇒ identical metrics, also across a kill and resume.

Per epoch the engine records train loss/accuracy (running over the epoch's
mini-batches, as Keras reports them), validation and test loss, accuracy and
misclassification rate (on the whole split, in eval mode, after the epoch),
the learning rate, the training wall time and, separately, the evaluation
time.
"""

from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

import numpy as np
import torch

from . import fused_step, losses
from .allocator import tune_allocator
from .config import ExecConfig, RunConfig
from .data import Dataset
from .model import MLP, build_model
from .optim import build_optimizer
from .optim.direct_step import direct_step
from .schedules import lr_factor

EVAL_CHUNK = 8192
CHECKPOINT_FORMAT = 1


# --------------------------------------------------------------------------- interfaces


class Sink(Protocol):
    """Where a run's results go. :class:`vanishing.store.RunDir` is the persistent one."""

    def load_checkpoint(self) -> dict | None: ...

    def save_epoch(self, checkpoint: dict, history: list[dict]) -> None:
        """Persist the state after a finished epoch (atomically) and the metrics so far."""

    def finish(self, status: str, summary: dict) -> None:
        """Record the final status (done, diverged, interrupted, failed) and the summary."""

    def write_probe(self, name: str, table: dict[str, np.ndarray]) -> None:
        """Store probe table ``name``: equal-length 1-d numpy columns, long format (see vanishing.probes)."""


@dataclass
class MemorySink:
    """A sink that keeps everything in memory (tests, notebooks)."""

    checkpoint: dict | None = None
    history: list[dict] = field(default_factory=list)
    status: str | None = None
    summary: dict | None = None
    probes: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def load_checkpoint(self) -> dict | None:
        return self.checkpoint

    def save_epoch(self, checkpoint: dict, history: list[dict]) -> None:
        # state_dict() tensors share storage with the live model: copy, as torch.save would
        self.checkpoint = copy.deepcopy(checkpoint)
        self.history = list(history)

    def finish(self, status: str, summary: dict) -> None:
        self.status, self.summary = status, summary

    def write_probe(self, name: str, table: dict[str, np.ndarray]) -> None:
        self.probes[name] = {k: np.array(v, copy=True) for k, v in table.items()}


@dataclass
class FitContext:
    """What a callback may look at during training."""

    config: RunConfig
    data: Dataset
    model: MLP
    optimizer: torch.optim.Optimizer
    loss: losses.Loss
    device: torch.device
    steps_per_epoch: int


@dataclass
class StepInfo:
    """One training step as the callbacks and the optimizer see it.

    ``pre`` and ``post`` (per hidden layer: the pre-activation a — with
    ``a.grad`` = δ = ∂E/∂a after the backward pass — and the layer output)
    are filled only on steps where a callback or the optimizer asked for
    them; otherwise they are None and the step runs the plain forward.
    """

    step: int  # global step, 1-based
    epoch: int  # 0-based epoch of this step
    x: torch.Tensor
    y: torch.Tensor
    z: torch.Tensor  # output pre-activations (graph attached until the step ends)
    loss: torch.Tensor  # scalar, mean over the batch
    pre: list[torch.Tensor] | None = None
    post: list[torch.Tensor] | None = None


class Callback:
    """Hooks into the loop. Override what you need; keep per-step work on the device.

    Order within a step: forward → backward → ``on_after_backward`` (gradients
    in ``.grad``, weights not yet updated) → clipping → optimizer step →
    ``on_step_end``.
    """

    def on_fit_start(self, ctx: FitContext, start_epoch: int) -> None: ...

    def wants_intermediates(self, step: int) -> bool:
        """Return True to get ``StepInfo.pre``/``post`` (and δ in ``pre[i].grad``) at this step."""
        return False

    def on_after_backward(self, ctx: FitContext, info: StepInfo) -> None: ...

    def on_step_end(self, ctx: FitContext, info: StepInfo) -> None: ...

    def on_epoch_end(self, ctx: FitContext, metrics: dict) -> None: ...

    def on_fit_end(self, ctx: FitContext, status: str, summary: dict) -> None: ...

    def state_dict(self) -> dict:
        """What the callback needs to resume; saved in every checkpoint."""
        return {}

    def load_state_dict(self, state: dict) -> None: ...


@dataclass
class RunOutcome:
    status: str  # done | diverged | interrupted
    summary: dict
    history: list[dict]
    model: MLP


# --------------------------------------------------------------------------- helpers


def resolve_device(name: str) -> torch.device:
    """``auto`` → the first CUDA device when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        from .errors import ConfigError

        raise ConfigError(f"device: {name!r} requested but torch.cuda.is_available() is False (use auto or cpu)")
    return device


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The data order of ``epoch``: a permutation of ``range(n)`` seeded by (seed, epoch), on the CPU."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=generator)


@torch.no_grad()
def evaluate(model: MLP, loss: losses.Loss, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(mean loss, accuracy) of ``model`` on (x, y) in eval mode, in chunks."""
    was_training = model.training
    model.eval()
    total_loss = torch.zeros((), dtype=torch.float64, device=x.device)
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    for start in range(0, len(x), EVAL_CHUNK):
        xb, yb = x[start : start + EVAL_CHUNK], y[start : start + EVAL_CHUNK]
        z = model(xb)
        total_loss += loss.per_example(z, yb).double().sum()
        correct += (loss.predict(z) == yb).sum()
    model.train(was_training)
    n = max(len(x), 1)
    return float(total_loss) / n, int(correct) / n


def _is_better(monitor: str, value: float, best: float | None) -> bool:
    if best is None or math.isnan(best):
        return not math.isnan(value)
    return value > best if monitor == "val_acc" else value < best


def _params_finite(model: torch.nn.Module) -> bool:
    flags = [torch.isfinite(p).all() for p in model.parameters()]
    return bool(torch.stack(flags).all())


def _clone_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# --------------------------------------------------------------------------- the loop


@dataclass
class _Setup:
    """What :func:`fit` builds before the first epoch: the model, its loss and optimizer, the batching."""

    config: RunConfig
    data: Dataset
    device: torch.device
    model: MLP
    loss_fn: losses.Loss
    optimizer: torch.optim.Optimizer
    params: list[torch.Tensor]
    n_train: int
    batch_size: int
    steps: int
    sizes: torch.Tensor
    ctx: FitContext


@dataclass
class _Progress:
    """The run's state that a checkpoint carries from epoch to epoch."""

    history: list[dict] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=lambda: {"epoch": None, "value": None, "state": None})
    stopped_early: bool = False


class _Diverged(Exception):
    def __init__(self, step: int) -> None:
        super().__init__(step)
        self.step = step


@dataclass
class _Engine:
    """The one place the training step's engine is chosen: the fused explicit step or torch autograd.

    ``fused`` (vanishing.fused_step) replaces autograd wherever the model allows
    it; steps that need the intermediates (per-example δ probes, or an
    optimizer that declares ``needs_intermediates = True`` such as SDAGD's
    curvature, which then gets ``prepare(model, info, loss)``) still take the
    autograd path. ``inline_sgd``: the fused step applies plain SGD itself.
    """

    fused: Any
    inline_sgd: bool
    wants_optimizer: bool

    @classmethod
    def choose(cls, run: _Setup, ex: ExecConfig, callbacks: Sequence[Callback]) -> "_Engine":
        wants_optimizer = bool(getattr(run.optimizer, "needs_intermediates", False))
        fused = fused_step.for_run(run.model, run.optimizer, run.loss_fn, run.batch_size, ex.engine)
        inline_sgd = (
            fused is not None and fused_step.inline_sgd_applies(run.optimizer) and not callbacks
            and run.config.optim.clip_norm is None
        )
        return cls(fused, inline_sgd, wants_optimizer)

    @property
    def name(self) -> str:
        return "fused" if self.fused is not None else "autograd"

    def forward_backward(self, run: _Setup, callbacks: Sequence[Callback], step: int, epoch: int,
                         xb: torch.Tensor, yb: torch.Tensor, lr: float) -> StepInfo:
        want = self.wants_optimizer or any(cb.wants_intermediates(step) for cb in callbacks)
        if self.fused is not None and not want:
            loss, z = self.fused.step(xb, yb, lr if self.inline_sgd else None)
            return StepInfo(step, epoch, xb, yb, z, loss)
        run.optimizer.zero_grad(set_to_none=True)
        if want:
            z, pre, post = run.model.forward_with_intermediates(xb)
            for a in pre:
                a.retain_grad()
        else:
            z, pre, post = run.model(xb), None, None
        loss = run.loss_fn(z, yb)
        loss.backward()
        return StepInfo(step, epoch, xb, yb, z, loss, pre, post)


def fit(
    config: RunConfig,
    data: Dataset,
    sink: Sink | None = None,
    exec_config: ExecConfig | None = None,
    callbacks: Sequence[Callback] = (),
    on_epoch: Callable[[dict], None] | None = None,
) -> RunOutcome:
    """Train one resolved ``config`` on ``data``; resume from the sink's checkpoint if it has one.

    Returns the outcome; the sink receives a checkpoint after every epoch and
    the final status. A KeyboardInterrupt ends the run with status
    ``interrupted`` (the last epoch's checkpoint stays, the next call
    resumes from it). ``on_epoch`` is called with each epoch's metrics.
    """
    sink = sink if sink is not None else MemorySink()
    ex = exec_config or ExecConfig()
    run = _setup(config, data, ex)
    state = _restore(run, sink, callbacks)
    start_epoch = len(state.history)
    for cb in callbacks:
        cb.on_fit_start(run.ctx, start_epoch)
    engine = _Engine.choose(run, ex, callbacks)
    status, diverged_step = "done", None
    progress = _progress(ex, config.train.epochs, start_epoch, run.steps)
    run.model.train()
    try:
        for epoch in range(start_epoch, config.train.epochs):
            if state.stopped_early:
                break
            lr, step_loss, step_correct, train_time = _train_epoch(run, engine, callbacks, epoch, ex, progress)
            metrics = _evaluate_epoch(run, epoch, lr, step_loss, step_correct, train_time)
            _record_epoch(run, state, metrics, callbacks)
            _checkpoint(run, state, sink, callbacks)
            if on_epoch is not None:
                on_epoch(metrics)
    except _Diverged as e:
        status, diverged_step = "diverged", e.step
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        if progress is not None:
            progress.close()
    return _finish(run, state, sink, callbacks, engine, status, diverged_step)


def _setup(config: RunConfig, data: Dataset, ex: ExecConfig) -> _Setup:
    """Device, seeds, the model, loss and optimizer, and the batch sizes of an epoch."""
    tune_allocator()  # recycle freed multi-MB tensors instead of re-mapping them (vanishing.allocator)
    device = resolve_device(ex.device)
    data = data.to(device)
    seed_everything(config.seed)
    model = build_model(config.model, data.n_features, data.n_classes, config.seed).to(device)
    loss_fn = losses.make_loss(config.optim.loss, config.model.output, data.n_classes)
    optimizer = build_optimizer(model.parameters(), config.optim.optimizer, config.optim.lr)
    params = [p for p in model.parameters() if p.requires_grad]
    n_train = len(data.x_train)
    batch_size = min(config.train.batch_size, n_train)
    steps = math.ceil(n_train / batch_size)
    sizes = torch.full((steps,), float(batch_size), device=device)
    sizes[-1] = n_train - batch_size * (steps - 1)
    ctx = FitContext(config, data, model, optimizer, loss_fn, device, steps)
    return _Setup(config, data, device, model, loss_fn, optimizer, params, n_train, batch_size, steps, sizes, ctx)


def _restore(run: _Setup, sink: Sink, callbacks: Sequence[Callback]) -> _Progress:
    """The sink's last checkpoint loaded into the model, optimizer, RNG and callbacks (a fresh state without one)."""
    checkpoint = sink.load_checkpoint()
    if checkpoint is None:
        return _Progress()
    run.model.load_state_dict(checkpoint["model"])
    run.optimizer.load_state_dict(checkpoint["optimizer"])
    torch.set_rng_state(checkpoint["rng_torch"])
    for i, cb in enumerate(callbacks):
        cb.load_state_dict(checkpoint.get("callbacks", {}).get(str(i), {}))
    return _Progress(list(checkpoint["history"]), dict(checkpoint["best"]), bool(checkpoint["stopped_early"]))


def _train_epoch(run: _Setup, engine: _Engine, callbacks: Sequence[Callback], epoch: int, ex: ExecConfig, progress):
    """One pass over the shuffled training set; (lr, per-step losses, per-step correct counts, seconds).

    Raises :class:`_Diverged` (with the first non-finite step) when a loss or,
    at the epoch's end, a parameter is not finite.
    """
    config, steps, batch_size, device = run.config, run.steps, run.batch_size, run.device
    lr = config.optim.lr * lr_factor(config.optim.schedule, epoch)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    perm = epoch_permutation(run.n_train, config.seed, epoch).to(device)
    step_loss = torch.zeros(steps, device=device)
    step_correct = torch.zeros(steps, dtype=torch.int64, device=device)
    check_every, checked = ex.divergence_check_every, 0
    _sync(device)
    t0 = time.perf_counter()
    for i in range(steps):
        idx = perm[i * batch_size : (i + 1) * batch_size]
        xb = run.data.x_train.index_select(0, idx)
        yb = run.data.y_train.index_select(0, idx)
        info = _step(run, engine, callbacks, epoch * steps + i + 1, epoch, xb, yb, lr)
        step_loss[i] = info.loss.detach()
        step_correct[i] = (run.loss_fn.predict(info.z.detach()) == yb).sum()
        for cb in callbacks:
            cb.on_step_end(run.ctx, info)
        if (i + 1 - checked) >= check_every or i + 1 == steps:
            bad = _first_nonfinite(step_loss[checked : i + 1])
            if bad is not None:
                raise _Diverged(epoch * steps + checked + bad + 1)
            checked = i + 1
        if progress is not None and (i % 20 == 19 or i + 1 == steps):
            progress.update(min(20, i % 20 + 1))
    _sync(device)
    train_time = time.perf_counter() - t0
    if not _params_finite(run.model):
        raise _Diverged((epoch + 1) * steps)
    return lr, step_loss, step_correct, train_time


def _step(run: _Setup, engine: _Engine, callbacks: Sequence[Callback], step: int, epoch: int,
          xb: torch.Tensor, yb: torch.Tensor, lr: float) -> StepInfo:
    """One mini-batch: forward and backward (the engine's), callbacks, clipping, the optimizer's update."""
    info = engine.forward_backward(run, callbacks, step, epoch, xb, yb, lr)
    if engine.inline_sgd:
        return info
    for cb in callbacks:
        cb.on_after_backward(run.ctx, info)
    if run.config.optim.clip_norm is not None:
        torch.nn.utils.clip_grad_norm_(run.params, run.config.optim.clip_norm, foreach=True)
    if engine.wants_optimizer:
        run.optimizer.prepare(run.model, info, run.loss_fn)
    if not direct_step(run.optimizer):
        run.optimizer.step()
    return info


def _evaluate_epoch(run: _Setup, epoch: int, lr: float, step_loss: torch.Tensor, step_correct: torch.Tensor,
                    train_time: float) -> dict:
    """The epoch's metrics row: training loss/accuracy from the steps, validation and test evaluated now."""
    data, loss_fn = run.data, run.loss_fn
    t1 = time.perf_counter()
    val_loss, val_acc = evaluate(run.model, loss_fn, data.x_val, data.y_val)
    if data.val_is_test:
        test_loss, test_acc = val_loss, val_acc
    else:
        test_loss, test_acc = evaluate(run.model, loss_fn, data.x_test, data.y_test)
    eval_time = time.perf_counter() - t1
    return {
        "epoch": epoch + 1,
        "train_loss": float((step_loss * run.sizes).sum() / run.n_train),
        "train_acc": int(step_correct.sum()) / run.n_train,
        "val_loss": val_loss,
        "val_acc": val_acc,
        "test_loss": test_loss,
        "test_acc": test_acc,
        "test_mcr": 1.0 - test_acc,
        "lr": lr,
        "epoch_time_s": train_time,
        "eval_time_s": eval_time,
    }


def _record_epoch(run: _Setup, state: _Progress, metrics: dict, callbacks: Sequence[Callback]) -> None:
    """Append the metrics, track the best epoch (monitor, early stopping), tell the callbacks."""
    config = run.config
    state.history.append(metrics)
    epoch = metrics["epoch"]
    monitored = metrics["val_acc"] if config.train.monitor == "val_acc" else metrics["val_loss"]
    if _is_better(config.train.monitor, monitored, state.best["value"]):
        state.best = {"epoch": epoch, "value": monitored, "state": _clone_state(run.model)}
    elif config.train.early_stopping is not None and epoch - (state.best["epoch"] or 0) >= config.train.early_stopping:
        state.stopped_early = True
    for cb in callbacks:
        cb.on_epoch_end(run.ctx, metrics)


def _checkpoint(run: _Setup, state: _Progress, sink: Sink, callbacks: Sequence[Callback]) -> None:
    """Hand the sink everything a resumed run needs (format CHECKPOINT_FORMAT)."""
    sink.save_epoch(
        {
            "format": CHECKPOINT_FORMAT,
            "model": run.model.state_dict(),
            "optimizer": run.optimizer.state_dict(),
            "rng_torch": torch.get_rng_state(),
            "history": state.history,
            "best": state.best,
            "stopped_early": state.stopped_early,
            "callbacks": {str(i): cb.state_dict() for i, cb in enumerate(callbacks)},
        },
        state.history,
    )


def _finish(run: _Setup, state: _Progress, sink: Sink, callbacks: Sequence[Callback], engine: _Engine,
            status: str, diverged_step: int | None) -> RunOutcome:
    """Restore the best weights if early stopping asked for it, summarise, tell the callbacks and the sink."""
    config = run.config
    if status == "done" and config.train.early_stopping is not None and state.best["state"] is not None:
        run.model.load_state_dict(state.best["state"])  # Keras' restore_best_weights
    summary = summarise(state.history, state.best, run.data.val_is_test, status, diverged_step, state.stopped_early,
                        run.steps)
    summary["engine"] = engine.name  # the step this run took (vanishing.fused_step)
    for cb in callbacks:
        cb.on_fit_end(run.ctx, status, summary)
    sink.finish(status, summary)
    return RunOutcome(status, summary, history=state.history, model=run.model)


def _first_nonfinite(values: torch.Tensor) -> int | None:
    finite = torch.isfinite(values)
    if bool(finite.all()):
        return None
    return int((~finite).nonzero()[0, 0])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _progress(ex: ExecConfig, epochs: int, start_epoch: int, steps: int):
    import os
    import sys

    show = ex.progress
    if show is None:
        show = sys.stderr.isatty() and not os.environ.get("CI")
    if not show or start_epoch >= epochs:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=(epochs - start_epoch) * steps, unit="step", leave=False, desc="training")


def summarise(
    history: list[dict],
    best: dict,
    val_is_test: bool,
    status: str,
    diverged_step: int | None,
    stopped_early: bool,
    steps_per_epoch: int,
) -> dict:
    """The run's headline numbers.

    Headline test accuracy: at the best-validation epoch when the data has a
    validation split of its own; at the last epoch when the test set doubles
    as validation (choosing the epoch on the test set would overstate it).
    Both are stored.
    """
    summary: dict[str, Any] = {
        "status": status,
        "epochs_done": len(history),
        "steps_per_epoch": steps_per_epoch,
        "stopped_early": stopped_early,
        "diverged_step": diverged_step,
        "train_time_s": sum(h["epoch_time_s"] for h in history),
        "eval_time_s": sum(h["eval_time_s"] for h in history),
    }
    if not history:
        summary.update(headline_epoch=None, headline="none (no epoch finished)", test_acc=None, test_mcr=None)
        return summary
    last = history[-1]
    if val_is_test or best["epoch"] is None:
        head, label = last, "last epoch (the test set serves as validation)" if val_is_test else "last epoch"
    else:
        head, label = history[best["epoch"] - 1], "best-validation epoch"
    summary.update(
        headline_epoch=head["epoch"],
        headline=label,
        test_acc=head["test_acc"],
        test_mcr=head["test_mcr"],
        test_loss=head["test_loss"],
        val_acc=head["val_acc"],
        last_test_acc=last["test_acc"],
        last_train_loss=last["train_loss"],
        best_val_epoch=best["epoch"],
    )
    return summary
