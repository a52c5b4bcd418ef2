"""The seed-batched training engine: K runs that differ only in their seed, trained as one computation.

``fit_batch(configs, data, sinks)`` does for K seeds what
:func:`vanishing.train.fit` does for one, with the weights of all seeds
stacked (:class:`~vanishing.seedbatch.stacked.StackedMLP`, batched matmuls),
and keeps everything that makes a run a run separate per seed:

* init — seed k's weights are those of ``build_model(config.model, …, seed_k)``;
* data order — epoch e of seed k visits ``epoch_permutation(n, seed_k, e)``;
  a step gathers the K index sets into one [K, B, D] batch;
* optimizer state — the optimizers allowed here (sgd, adagrad, adadelta,
  rmsprop, adam, adamw; see :mod:`.rule`) update every element from its own
  gradient and state only, so one torch optimizer over the stacked
  parameters is K independent optimizers; the loss is the SUM over seeds of
  each seed's mean mini-batch loss, so slice k of every gradient is seed
  k's gradient; gradient clipping uses each seed's own global norm;
* batch norm — per-seed batch statistics and running statistics;
* metrics, best epoch, early stopping, divergence, probes, checkpoint and
  store entry — per seed. A seed whose loss turns NaN/inf is recorded as
  ``diverged`` (at the same step an unbatched run would report) and its
  slices are dropped from the stack; the others go on. A seed that stops
  early leaves the same way at the end of its epoch.

Checkpoints: at every epoch end the batch's joint (stacked) checkpoint is
written first (a :class:`~vanishing.seedbatch.checkpoint.BatchDir`), then
each seed's run directory gets its epoch metrics and its own checkpoint in
the unbatched format (model and optimizer state of its slice), so every run
directory is complete on its own. The batch resumes from the joint
checkpoint as a unit. A seed whose sink is a :class:`NullSink` (already
final in the store, e.g. a crash hit after it finished) is trained along —
the batch replays exactly — but nothing is written for it.

Per-epoch ``epoch_time_s`` of a batched seed is the batch's training time
divided by the number of seeds trained in that epoch (its share of the
machine); ``summary["seed_batch"]`` records the batch.

The step: for plain MLPs the fused explicit step of
:mod:`vanishing.fused_step` with batched GEMMs (as :func:`vanishing.train.fit`),
otherwise autograd through the stacked modules.

Determinism: same configs, seeds, K, threads, engine and torch build ⇒ identical
results, also across a kill and resume of the batch. Against the unbatched
engine each seed agrees to float32 rounding (tests: parameters after 20
steps within rtol 1e-4).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

from .. import fused_step, losses
from ..allocator import tune_allocator
from ..config import ExecConfig, RunConfig, config_hash
from ..data import Dataset
from ..model import MLP, build_model
from ..optim import build_optimizer
from ..optim.direct_step import direct_step
from ..schedules import lr_factor
from ..train import (
    CHECKPOINT_FORMAT,
    MemorySink,
    RunOutcome,
    Sink,
    _is_better,
    _progress,
    _sync,
    epoch_permutation,
    resolve_device,
    summarise,
)
from .checkpoint import MemoryBatchDir
from .rule import unbatchable_reason
from .stacked import (
    StackedMLP,
    select_optimizer_state,
    unstack_optimizer_state,
    unstack_state,
)

EVAL_CHUNK = 8192
BATCH_FORMAT = 1


class NullSink:
    """A sink that records nothing: for a seed whose results are already final in the store."""

    def load_checkpoint(self) -> None:
        return None

    def save_epoch(self, checkpoint: dict, history: list[dict]) -> None:
        pass

    def finish(self, status: str, summary: dict, message: str | None = None) -> None:
        pass

    def write_probe(self, name: str, table: dict) -> None:
        pass


@dataclass
class _Seed:
    """Everything one seed of the batch owns."""

    config: RunConfig
    sink: Any
    live: bool  # False: already final elsewhere; train along, write nothing
    history: list[dict] = field(default_factory=list)
    best: dict = field(default_factory=lambda: {"epoch": None, "value": None, "state": None})
    stopped_early: bool = False
    status: str | None = None  # None while training; then done | diverged | interrupted | failed
    finished: bool = False  # its sink has been told (finish called)
    diverged_step: int | None = None
    probes: Any = None  # _SeedProbes or None
    pending: list = field(default_factory=list)  # step probes between before_update and after_update

    @property
    def seed(self) -> int:
        return self.config.seed


class BatchError(ValueError):
    """The configs cannot train as one seed batch."""


def check_batch(configs: Sequence[RunConfig]) -> None:
    """Raise BatchError unless the resolved ``configs`` differ only in distinct seeds and may be batched."""
    if not configs:
        raise BatchError("a seed batch needs at least one config")
    digests = {config_hash(c) for c in configs}
    if len(digests) != 1:
        raise BatchError("the configs of a seed batch must be identical except for the seed")
    seeds = [c.seed for c in configs]
    if len(set(seeds)) != len(seeds):
        raise BatchError(f"a seed batch needs distinct seeds, got {seeds}")
    reason = unbatchable_reason(configs[0])
    if reason is not None:
        raise BatchError(f"cannot batch these runs: {reason}")


def _arch(config: RunConfig, n_in: int, n_out: int) -> dict:
    m = config.model
    return dict(n_in=n_in, hidden=list(m.hidden), n_out=n_out, activation=m.activation, output=m.output,
                batch_norm=m.batch_norm, layer_norm=m.layer_norm, residual=m.residual)


def _seed_rng_state(seed: int) -> torch.Tensor:
    """The global RNG state an unbatched run of ``seed`` holds (seeded, never drawn from: no rrelu here)."""
    return torch.Generator().manual_seed(seed).get_state()


# --------------------------------------------------------------------------- evaluation


@torch.no_grad()
def evaluate_stacked(model: StackedMLP, loss: losses.Loss, x: torch.Tensor, y: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per seed (mean loss, accuracy) on (x, y) in eval mode: lists of length K."""
    was_training = model.training
    model.eval()
    k = model.k
    total = torch.zeros(k, dtype=torch.float64, device=x.device)
    correct = torch.zeros(k, dtype=torch.int64, device=x.device)
    for start in range(0, len(x), EVAL_CHUNK):
        xb, yb = x[start : start + EVAL_CHUNK], y[start : start + EVAL_CHUNK]
        z = model.forward_shared(xb)  # [K, N, C]
        n = len(xb)
        flat_y = yb.repeat(k)
        flat_z = z.reshape(k * n, -1)
        total += loss.per_example(flat_z, flat_y).double().view(k, n).sum(1)
        correct += (loss.predict(flat_z) == flat_y).view(k, n).sum(1)
    model.train(was_training)
    n = max(len(x), 1)
    return (total / n).tolist(), [int(c) / n for c in correct.tolist()]


# --------------------------------------------------------------------------- probes per seed


class _SeedProbes:
    """One seed's probes: a :class:`vanishing.probes.ProbeRecorder` fed from the seed's slices.

    Step probes read a :class:`~vanishing.probes.StepView` of slice k of the
    stacked weights and gradients (and δ of the mini-batch); snapshot probes
    run on an unstacked MLP loaded with seed k's state. The sequence of calls
    is that of :class:`vanishing.probes.ProbeCallback` in the unbatched engine.
    """

    def __init__(self, config: RunConfig, steps: int, device: torch.device, layer_names: tuple[list[str], list[str]], state: dict | None) -> None:
        from ..probes import ProbeRecorder, StepProbe
        from ..probes.spec import build_probes

        p = config.probes
        probes = build_probes(list(p.enabled), config.train.epochs, steps)
        weight_layers, hidden_layers = layer_names
        self.recorder = ProbeRecorder(probes, weight_layers, hidden_layers, config.train.epochs, steps, device)
        if state:
            self.recorder.load_state_dict(state)
        self.wants_delta_probes = any(q.needs_deltas for q in probes if isinstance(q, StepProbe))
        self.last_step = 0

    def tables(self, status: str) -> dict:
        if status == "diverged":
            self.recorder.end_epoch(self.last_step)
        return self.recorder.tables()


class _ProbeContext:
    """What every seed's snapshots share: the probe set and one unstacked MLP to load a seed into."""

    def __init__(self, config: RunConfig, data: Dataset, arch: dict, device: torch.device) -> None:
        from ..probes import MLPLayers, make_probe_set

        p = config.probes
        self.probe_set = make_probe_set(data, p.probe_split, p.probe_per_class, p.probe_seed).to(device)
        self.model = MLP(**arch).to(device)
        self.layers = MLPLayers(self.model)

    def snapshot(self, seed_probes: _SeedProbes, stacked: StackedMLP, k: int, loss: losses.Loss, epoch: int) -> None:
        from ..probes import capture_probe_set, eval_mode

        due = seed_probes.recorder.snapshot_due(epoch)
        if not due:
            return
        self.model.load_state_dict({key: (v if v.dim() == 0 else v[k]) for key, v in stacked.state_dict().items()})
        ps = self.probe_set
        with eval_mode(self.model):
            view = capture_probe_set(self.model, ps.x, ps.y, loss, epoch, ps.n_classes, any(q.needs_deltas for q in due), self.layers)
            seed_probes.recorder.record_snapshot(epoch, view, due)


def _step_view(stacked: StackedMLP, k: int, step: int, names: tuple[list[str], list[str]], deltas=None, batch_size: int = 0):
    from ..probes import StepView

    lins = stacked.linears()
    return StepView(
        step=step,
        weight_layers=names[0],
        weights=[lin.weight[k] for lin in lins],
        weight_grads=[lin.weight.grad[k] if lin.weight.grad is not None else None for lin in lins],
        biases=[lin.bias[k] for lin in lins],
        bias_grads=[lin.bias.grad[k] if lin.bias.grad is not None else None for lin in lins],
        hidden_layers=names[1],
        deltas=deltas,
        batch_size=batch_size,
    )


def _probes_enabled(config: RunConfig) -> bool:
    p = getattr(config, "probes", None)
    return bool(p is not None and p.enabled)


# --------------------------------------------------------------------------- the loop


class _Diverged(Exception):
    pass


def fit_batch(
    configs: Sequence[RunConfig],
    data: Dataset,
    sinks: Sequence[Sink | None] | None = None,
    exec_config: ExecConfig | None = None,
    batch_dir: Any = None,
    on_epoch: Callable[[int, dict], None] | None = None,
    on_finish: Callable[[int, str, dict], None] | None = None,
) -> list[RunOutcome]:
    """Train the resolved ``configs`` (identical but for their seeds) as one seed batch.

    ``sinks[k]`` receives seed k's epochs, checkpoint, probe tables and
    final status, as :func:`vanishing.train.fit` hands them to its sink
    (None → in memory; a :class:`NullSink` → train along, record nothing).
    ``batch_dir`` keeps the joint checkpoint (a
    :class:`~vanishing.seedbatch.checkpoint.BatchDir`; None → in memory);
    when it holds one, the batch resumes from it. ``on_epoch(seed, metrics)``
    and ``on_finish(seed, status, summary)`` are called per seed. Returns
    one :class:`~vanishing.train.RunOutcome` per config, in order. A
    KeyboardInterrupt ends every unfinished seed as ``interrupted``.

    Example::

        cfgs = [resolve(with_overrides(base, {"seed": s})) for s in range(8)]
        outcomes = fit_batch(cfgs, data)
    """
    configs = list(configs)
    check_batch(configs)
    sinks = list(sinks) if sinks is not None else [None] * len(configs)
    if len(sinks) != len(configs):
        raise BatchError(f"got {len(sinks)} sinks for {len(configs)} configs")
    ex = exec_config or ExecConfig()
    tune_allocator()  # as vanishing.train.fit: recycle freed multi-MB tensors
    batch_dir = batch_dir if batch_dir is not None else MemoryBatchDir()
    device = resolve_device(ex.device)
    data = data.to(device)
    config = configs[0]
    torch.manual_seed(config.seed)  # nothing here draws from it (no rrelu); seeded for good measure

    seeds = [_Seed(c, s if s is not None else MemorySink(), not isinstance(s, NullSink)) for c, s in zip(configs, sinks)]
    arch = _arch(config, data.n_features, data.n_classes)
    stacked = StackedMLP.from_models([build_model(c.model, data.n_features, data.n_classes, c.seed) for c in configs], arch)
    stacked = stacked.to(device)
    loss_fn = losses.make_loss(config.optim.loss, config.model.output, data.n_classes)

    def make_optimizer(state: dict | None = None) -> torch.optim.Optimizer:
        opt = build_optimizer(stacked.parameters(), config.optim.optimizer, config.optim.lr)
        if state is not None:
            opt.load_state_dict(state)
        return opt

    n_train = len(data.x_train)
    batch_size = min(config.train.batch_size, n_train)
    steps = math.ceil(n_train / batch_size)
    sizes = torch.full((steps, 1), float(batch_size), device=device)
    sizes[-1] = n_train - batch_size * (steps - 1)
    epochs = config.train.epochs

    # -- resume from the joint checkpoint: the batch continues as a unit
    active = list(range(len(seeds)))  # positions in `seeds` of the stack's slices, in stack order
    start_epoch = 0
    probe_states: dict[int, dict] = {}
    checkpoint = batch_dir.load()
    if checkpoint is not None:
        if checkpoint.get("seeds") != [s.seed for s in seeds]:
            raise BatchError(f"the batch checkpoint holds seeds {checkpoint.get('seeds')}, not {[s.seed for s in seeds]}")
        slices = [int(s) for s in checkpoint["slices"]]
        position = {s.seed: i for i, s in enumerate(seeds)}
        active = [position[s] for s in slices]
        stacked.select_(list(range(len(active))))  # shape the stack for the saved slices, then load them
        stacked.load_state_dict(checkpoint["model"])
        start_epoch = int(checkpoint["epoch"])
        for s in seeds:
            saved = checkpoint["per_seed"][str(s.seed)]
            s.history = list(saved["history"])
            s.best = dict(saved["best"])
            s.stopped_early = bool(saved["stopped_early"])
            s.status = saved["status"]
            s.finished = s.status is not None and s.seed not in slices  # ended (and recorded) before this checkpoint
            s.diverged_step = saved["diverged_step"]
            probe_states[s.seed] = saved.get("probes") or {}
    optimizer = make_optimizer(checkpoint["optimizer"] if checkpoint is not None else None)
    params = [p for p in stacked.parameters() if p.requires_grad]
    stacked.train()

    names = ([f"hidden{i}" for i in range(1, len(config.model.hidden) + 1)] + ["output"],
             [f"hidden{i}" for i in range(1, len(config.model.hidden) + 1)])
    probe_ctx = None
    if _probes_enabled(config):
        in_stack = {seeds[pos].seed for pos in active}
        for s in seeds:
            if s.live and s.seed in in_stack:
                s.probes = _SeedProbes(s.config, steps, device, names, probe_states.get(s.seed))
        if any(s.probes is not None and s.probes.recorder.snapshot_probes for s in seeds):
            probe_ctx = _ProbeContext(config, data, arch, device)
    delta_probes = any(s.probes is not None and s.probes.wants_delta_probes for s in seeds)
    fused = fused_step.for_run(stacked, optimizer, loss_fn, batch_size, ex.engine)
    inline_sgd = (fused is not None and fused_step.inline_sgd_applies(optimizer) and config.optim.clip_norm is None
                  and all(s.probes is None for s in seeds))

    def stacked_state_of(pos_in_stack: int) -> tuple[dict, dict]:
        """(model, optimizer) state dicts of one slice in the unbatched format."""
        return unstack_state(stacked.state_dict(), pos_in_stack), unstack_optimizer_state(optimizer.state_dict(), pos_in_stack)

    def seed_checkpoint(s: _Seed, pos_in_stack: int) -> dict:
        model_state, opt_state = stacked_state_of(pos_in_stack)
        return {
            "format": CHECKPOINT_FORMAT,
            "model": model_state,
            "optimizer": opt_state,
            "rng_torch": _seed_rng_state(s.seed),
            "history": s.history,
            "best": s.best,
            "stopped_early": s.stopped_early,
            "callbacks": {"0": s.probes.recorder.state_dict()} if s.probes is not None else {},
            "seed_batch": {"seeds": [q.seed for q in seeds]},
        }

    def finish(s: _Seed, status: str, message: str | None = None) -> None:
        s.status, s.finished = status, True
        summary = summarise(s.history, s.best, data.val_is_test, status, s.diverged_step, s.stopped_early, steps)
        summary["seed_batch"] = {"seeds": [q.seed for q in seeds], "k": len(seeds)}
        summary["engine"] = "fused" if fused is not None else "autograd"
        if s.live:
            if s.probes is not None and status != "failed":
                write = getattr(s.sink, "write_probe", None)
                if write is not None:
                    for name, columns in s.probes.tables(status).items():
                        write(name, columns)
            if message is None:
                s.sink.finish(status, summary)
            else:
                s.sink.finish(status, summary, message)
        if on_finish is not None:
            on_finish(s.seed, status, summary)

    def drop(positions_in_stack: list[int]) -> None:
        """Remove finished seeds' slices from the stack, the optimizer state and the step buffers."""
        nonlocal active, step_loss, step_correct, perms, optimizer, params, fused
        keep = [i for i in range(len(active)) if i not in set(positions_in_stack)]
        if len(keep) == len(active):
            return
        active = [active[i] for i in keep]
        if not keep:
            return
        state = select_optimizer_state(optimizer.state_dict(), keep)
        stacked.select_(keep)
        optimizer = make_optimizer(state)
        params = [p for p in stacked.parameters() if p.requires_grad]
        fused = fused_step.for_run(stacked, optimizer, loss_fn, batch_size, ex.engine)
        index = torch.as_tensor(keep, dtype=torch.long, device=device)
        step_loss = step_loss.index_select(1, index)
        step_correct = step_correct.index_select(1, index)
        perms = perms.index_select(0, index)

    def save_joint(epoch_done: int) -> None:
        batch_dir.save({
            "format": BATCH_FORMAT,
            "kind": "seedbatch",
            "config_hash": config_hash(config),
            "seeds": [s.seed for s in seeds],
            "slices": [seeds[i].seed for i in active],
            "epoch": epoch_done,
            "model": stacked.state_dict(),
            "optimizer": optimizer.state_dict(),
            "per_seed": {
                str(s.seed): {
                    "history": s.history, "best": s.best, "stopped_early": s.stopped_early, "status": s.status,
                    "diverged_step": s.diverged_step,
                    "probes": s.probes.recorder.state_dict() if s.probes is not None else {},
                }
                for s in seeds
            },
        })

    # seeds that ended at the epoch boundary of the joint checkpoint but whose own files may lag behind it
    ended_in_checkpoint = [i for i, pos in enumerate(active) if seeds[pos].status is not None]
    for i in ended_in_checkpoint:
        s = seeds[active[i]]
        if s.live:
            s.sink.save_epoch(seed_checkpoint(s, i), s.history)
        finish(s, s.status)
    step_loss = torch.zeros(steps, len(active), device=device)
    step_correct = torch.zeros(steps, len(active), dtype=torch.int64, device=device)
    perms = torch.zeros(len(active), n_train, dtype=torch.long, device=device)
    drop(ended_in_checkpoint)

    for pos in active:
        s = seeds[pos]
        if s.probes is not None:
            if start_epoch == 0 and probe_ctx is not None:
                probe_ctx.snapshot(s.probes, stacked, active.index(pos), loss_fn, 0)
            s.probes.recorder.begin_epoch(start_epoch)

    check_every = ex.divergence_check_every
    progress = _progress(ex, epochs, start_epoch, steps)
    try:
        for epoch in range(start_epoch, epochs):
            if not active:
                break
            lr = config.optim.lr * lr_factor(config.optim.schedule, epoch)
            for group in optimizer.param_groups:
                group["lr"] = lr
            perms = torch.stack([epoch_permutation(n_train, seeds[pos].seed, epoch) for pos in active]).to(device)
            step_loss = torch.zeros(steps, len(active), device=device)
            step_correct = torch.zeros(steps, len(active), dtype=torch.int64, device=device)
            k_epoch = len(active)
            checked = 0
            _sync(device)
            t0 = time.perf_counter()
            for i in range(steps):
                k = len(active)
                idx = perms[:, i * batch_size : (i + 1) * batch_size]
                b = idx.shape[1]
                flat = idx.reshape(-1)
                xb = data.x_train.index_select(0, flat).view(k, b, -1)
                yb = data.y_train.index_select(0, flat)
                step = epoch * steps + i + 1
                want = delta_probes and any(seeds[pos].probes is not None and seeds[pos].probes.recorder.wants_deltas(step) for pos in active)
                if fused is not None and not want:
                    per_seed, z = fused.step(xb, yb, lr if inline_sgd else None)
                    flat_z = z.reshape(k * b, -1)
                else:
                    optimizer.zero_grad(set_to_none=True)
                    z, pre = stacked(xb, keep_pre=want)
                    if want:
                        for a in pre:
                            a.retain_grad()
                    flat_z = z.reshape(k * b, -1)
                    per_seed = loss_fn.per_example(flat_z, yb).view(k, b).mean(1)
                    per_seed.sum().backward()
                for j, pos in enumerate(active):
                    sp = seeds[pos].probes
                    if sp is None:
                        continue
                    due = sp.recorder.due(step)
                    if due:
                        deltas = [a.grad[j] for a in pre] if want else None
                        view = _step_view(stacked, j, step, names, deltas, b)
                        seeds[pos].pending = [(slot, slot.probe.before_update(view)) for slot in due]
                if config.optim.clip_norm is not None:
                    _clip_per_seed(params, config.optim.clip_norm)
                if not inline_sgd and not direct_step(optimizer):
                    optimizer.step()
                step_loss[i] = per_seed.detach()
                step_correct[i] = (loss_fn.predict(flat_z.detach()) == yb).view(k, b).sum(1)
                for j, pos in enumerate(active):
                    s = seeds[pos]
                    if s.probes is None:
                        continue
                    s.probes.last_step = step
                    if s.pending:
                        view = _step_view(stacked, j, step, names)
                        for slot, stash in s.pending:
                            s.probes.recorder.record(slot, step, slot.probe.after_update(view, stash))
                        s.pending = []
                if (i + 1 - checked) >= check_every or i + 1 == steps:
                    finite = torch.isfinite(step_loss[checked : i + 1])
                    if not bool(finite.all()):
                        bad_cols = (~finite.all(0)).nonzero().flatten().tolist()
                        for j in bad_cols:
                            s = seeds[active[j]]
                            first = int((~finite[:, j]).nonzero()[0, 0])
                            s.diverged_step = epoch * steps + checked + first + 1
                            finish(s, "diverged")
                        drop(bad_cols)
                        if not active:
                            break
                    checked = i + 1
                if progress is not None and (i % 20 == 19 or i + 1 == steps):
                    progress.update(min(20, i % 20 + 1))
            if not active:
                break
            _sync(device)
            train_time = time.perf_counter() - t0

            finite = torch.stack([torch.isfinite(p.detach()).flatten(1).all(1) for p in stacked.parameters()]).all(0)
            bad_cols = (~finite).nonzero().flatten().tolist()
            for j in bad_cols:
                s = seeds[active[j]]
                s.diverged_step = (epoch + 1) * steps
                finish(s, "diverged")
            drop(bad_cols)
            if not active:
                break

            t1 = time.perf_counter()
            val_loss, val_acc = evaluate_stacked(stacked, loss_fn, data.x_val, data.y_val)
            if data.val_is_test:
                test_loss, test_acc = val_loss, val_acc
            else:
                test_loss, test_acc = evaluate_stacked(stacked, loss_fn, data.x_test, data.y_test)
            eval_time = (time.perf_counter() - t1) / len(active)
            train_loss = ((step_loss * sizes).sum(0) / n_train).tolist()
            train_correct = step_correct.sum(0).tolist()
            ending: list[int] = []
            for j, pos in enumerate(active):
                s = seeds[pos]
                metrics = {
                    "epoch": epoch + 1,
                    "train_loss": train_loss[j],
                    "train_acc": train_correct[j] / n_train,
                    "val_loss": val_loss[j],
                    "val_acc": val_acc[j],
                    "test_loss": test_loss[j],
                    "test_acc": test_acc[j],
                    "test_mcr": 1.0 - test_acc[j],
                    "lr": lr,
                    "epoch_time_s": train_time / k_epoch,
                    "eval_time_s": eval_time,
                }
                s.history.append(metrics)
                monitored = val_acc[j] if config.train.monitor == "val_acc" else val_loss[j]
                if _is_better(config.train.monitor, monitored, s.best["value"]):
                    s.best = {"epoch": epoch + 1, "value": monitored, "state": unstack_state(stacked.state_dict(), j)}
                elif config.train.early_stopping is not None and epoch + 1 - (s.best["epoch"] or 0) >= config.train.early_stopping:
                    s.stopped_early = True
                if s.probes is not None:
                    s.probes.recorder.end_epoch()
                    if probe_ctx is not None:
                        probe_ctx.snapshot(s.probes, stacked, j, loss_fn, epoch + 1)
                    s.probes.recorder.begin_epoch(epoch + 1)
                if s.stopped_early or epoch + 1 == epochs:
                    ending.append(j)
                    s.status = "done"  # in the joint checkpoint: finished at this epoch boundary
            save_joint(epoch + 1)
            for j, pos in enumerate(active):
                s = seeds[pos]
                if s.live:
                    s.sink.save_epoch(seed_checkpoint(s, j), s.history)
            if on_epoch is not None:
                for pos in active:
                    on_epoch(seeds[pos].seed, seeds[pos].history[-1])
            for j in ending:
                finish(seeds[active[j]], "done")
            drop(ending)
    except KeyboardInterrupt:
        # every seed still in the stack (also one that ended at the epoch boundary being saved: the joint
        # checkpoint has it as ended, and the next call records it from there)
        for pos in active:
            if not seeds[pos].finished:
                finish(seeds[pos], "interrupted")
        active = []
    finally:
        if progress is not None:
            progress.close()

    if all(s.finished and s.status in ("done", "diverged") for s in seeds):
        batch_dir.remove()
    return [_outcome(s, arch, device, data.val_is_test, steps) for s in seeds]


def _clip_per_seed(params: list[torch.Tensor], max_norm: float) -> None:
    """Scale each seed's gradients so that its global norm is at most ``max_norm`` (as clip_grad_norm_ per run)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    sq = torch.stack([g.detach().flatten(1).pow(2).sum(1) for g in grads]).sum(0)  # [K]
    coef = (max_norm / (sq.sqrt() + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.detach().mul_(coef.view(-1, *([1] * (g.dim() - 1))))


def _outcome(s: _Seed, arch: dict, device: torch.device, val_is_test: bool, steps: int) -> RunOutcome:
    summary = summarise(s.history, s.best, val_is_test, s.status or "interrupted", s.diverged_step, s.stopped_early, steps)
    model = MLP(**arch)
    checkpoint = s.sink.load_checkpoint() if s.live else None
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
    if s.status == "done" and s.best.get("state") is not None and s.config.train.early_stopping is not None:
        model.load_state_dict(s.best["state"])  # Keras' restore_best_weights, as fit()
    return RunOutcome(s.status or "interrupted", summary, list(s.history), model.to(device))
