"""No hidden host syncs in the training loop (issue 18).

A training step with the default probes makes no device → host transfer
except on the scheduled steps: the divergence check (every
``ExecConfig.divergence_check_every`` steps and at the epoch's last step),
the probes' scheduled flushes and the epoch end (evaluation, checkpoint).
Every tensor → host conversion (``.item()``, ``.tolist()``, ``.cpu()``,
``.numpy()``, ``bool/float/int(tensor)``, ``.to("cpu")``) is counted through a
patched ``torch.Tensor`` and attributed to the step in progress; on CUDA the
same conversions are the syncs ``torch.cuda.set_sync_debug_mode`` reports.
The test fails when a ``.item()`` is added to the step (the negative control
below does exactly that).
"""

from __future__ import annotations

import pytest
import torch

from vanishing import fused_step
from vanishing.config import ExecConfig, RunConfig, resolve, with_overrides
from vanishing.probes import probe_callback
from vanishing.train import Callback, MemorySink, fit

from test_train import blobs

pytestmark = pytest.mark.device

SYNCING = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__")
CHECK_EVERY = 7


class StepMark(Callback):
    """First callback: records the step in progress (``wants_intermediates`` is asked at each step's start)."""

    def __init__(self):
        self.step = 0

    def wants_intermediates(self, step):
        self.step = step
        return False


class SyncCounter:
    """(step, conversion) for every tensor → host conversion made while ``active``."""

    def __init__(self, monkeypatch, mark: StepMark):
        self.mark, self.active, self.calls = mark, False, []
        for name in SYNCING:
            self._wrap(monkeypatch, name)
        original_to = torch.Tensor.to

        def to(tensor, *args, **kwargs):
            target = [a for a in (*args, kwargs.get("device")) if isinstance(a, (str, torch.device))]
            if self.active and tensor.device.type != "cpu" and any(torch.device(t).type == "cpu" for t in target):
                self.calls.append((self.mark.step, "to(cpu)"))
            return original_to(tensor, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, "to", to)

    def _wrap(self, monkeypatch, name):
        original = getattr(torch.Tensor, name)

        def wrapper(tensor, *args, **kwargs):
            if self.active:
                self.calls.append((self.mark.step, name))
            return original(tensor, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, wrapper)


def _config(**overrides):
    base = {"model.hidden": [16, 16], "train.epochs": 2, "train.batch_size": 32, "data.dataset": "mnist-sample"}
    base.update(overrides)
    return resolve(with_overrides(RunConfig(), base))


def _scheduled(step: int, steps: int) -> bool:
    """A divergence check or the epoch's end (which also holds the probe flush and the evaluation)."""
    local = (step - 1) % steps + 1
    return step == 0 or local % CHECK_EVERY == 0 or local == steps


def _train_counting(monkeypatch, device, engine="auto", **overrides):
    cfg = _config(**overrides)
    assert cfg.probes.enabled, "the default probes are on"
    sink, mark = MemorySink(), StepMark()
    counter = SyncCounter(monkeypatch, mark)
    probes = probe_callback(cfg, sink)
    ex = ExecConfig(device=str(device), divergence_check_every=CHECK_EVERY, engine=engine)
    counter.active = True
    try:
        out = fit(cfg, blobs(), sink, ex, callbacks=[mark, probes])
    finally:
        counter.active = False
    assert out.status == "done"
    return out, counter.calls


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("engine", ["auto", "autograd"])
def test_a_training_step_syncs_only_on_scheduled_steps(monkeypatch, device, optimizer, engine):
    out, calls = _train_counting(monkeypatch, device, **{"optim.optimizer": optimizer}, engine=engine)
    steps = out.summary["steps_per_epoch"]
    assert steps == 19 and out.summary["engine"] == ("fused" if engine == "auto" else "autograd")
    hidden = [(step, name) for step, name in calls if not _scheduled(step, steps)]
    assert hidden == [], f"host syncs between scheduled steps: {hidden[:10]}"
    assert any(_scheduled(s, steps) for s, _ in calls)  # the counter does see the scheduled checks


def test_the_sync_count_fails_when_an_item_is_added_to_the_step(monkeypatch, device):
    """Negative control: the fused step with one ``loss.item()`` added is caught on every unscheduled step."""
    original = fused_step.FusedMLPStep.step

    def step_with_item(self, *args, **kwargs):
        loss, z = original(self, *args, **kwargs)
        loss.item()
        return loss, z

    monkeypatch.setattr(fused_step.FusedMLPStep, "step", step_with_item)
    out, calls = _train_counting(monkeypatch, device)
    steps = out.summary["steps_per_epoch"]
    hidden = {step for step, name in calls if name == "item" and not _scheduled(step, steps)}
    assert hidden == {s for s in range(1, 2 * steps + 1) if not _scheduled(s, steps)}
