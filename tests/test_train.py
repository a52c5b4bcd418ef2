"""The training engine: determinism, resume, divergence, early stopping, headline metrics."""

import math

import pytest
import torch

from vanishing.config import RunConfig, resolve, with_overrides
from vanishing.data import Dataset
from vanishing.train import Callback, MemorySink, fit


def blobs(n_train=600, n_test=200, n_val=200, dim=20, classes=5, seed=0, val_is_test=False):
    """Gaussian class clusters: learnable in a few epochs by a small MLP."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, dim, generator=g) * 2

    def draw(n):
        y = torch.arange(n) % classes
        return centers[y] + torch.randn(n, dim, generator=g), y

    xtr, ytr = draw(n_train)
    xte, yte = draw(n_test)
    xva, yva = (xte, yte) if val_is_test else draw(n_val)
    return Dataset("blobs", xtr, ytr, xva, yva, xte, yte, tuple(str(c) for c in range(classes)), val_is_test, "synthetic blobs")


def config(**overrides):
    base = {"model.hidden": [16, 16], "train.epochs": 4, "train.batch_size": 32, "data.dataset": "mnist-sample"}
    base.update(overrides)
    return resolve(with_overrides(RunConfig(), base))


def strip_times(history):
    return [{k: v for k, v in h.items() if not k.endswith("time_s")} for h in history]


def test_same_config_and_seed_give_identical_metrics():
    data = blobs()
    a = fit(config(), data)
    b = fit(config(), data)
    assert a.status == b.status == "done"
    assert strip_times(a.history) == strip_times(b.history)
    assert a.history[-1]["test_acc"] > 0.9  # it learns
    c = fit(config(seed=1), data)
    assert strip_times(c.history) != strip_times(a.history)


class InterruptAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, ctx, info):
        if info.step == self.step:
            raise KeyboardInterrupt


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"model.activation": "rrelu", "optim.optimizer": "sgd(momentum=0.9)"},  # rrelu draws from the global RNG
        {"model.batch_norm": "before", "optim.schedule": "exponential(gamma=0.9)"},
    ],
)
def test_interrupted_run_resumes_to_the_same_metrics(overrides):
    data = blobs()
    cfg = config(**overrides)
    reference = fit(cfg, data)
    sink = MemorySink()
    steps = reference.summary["steps_per_epoch"]
    first = fit(cfg, data, sink, callbacks=[InterruptAt(2 * steps + 3)])
    assert first.status == "interrupted" and sink.status == "interrupted"
    assert len(sink.history) == 2  # the partial third epoch is not recorded
    second = fit(cfg, data, sink)
    assert second.status == "done"
    assert strip_times(second.history) == strip_times(reference.history)
    ref_state, got_state = reference.model.state_dict(), second.model.state_dict()
    assert all(torch.equal(ref_state[k], got_state[k]) for k in ref_state)


def test_divergence_stops_the_run_with_the_step():
    data = blobs()
    cfg = config(**{"optim.optimizer": "sgd", "optim.lr": 1e6, "optim.loss": "mse", "model.output": "linear"})
    sink = MemorySink()
    out = fit(cfg, data, sink)
    assert out.status == "diverged" and sink.status == "diverged"
    step = out.summary["diverged_step"]
    assert isinstance(step, int) and 1 <= step <= 3 * out.summary["steps_per_epoch"]
    # brute force: replay the run step by step and find the first non-finite loss
    torch.manual_seed(cfg.seed)
    from vanishing import losses
    from vanishing.model import build_model
    from vanishing.optim import build_optimizer
    from vanishing.train import epoch_permutation

    model = build_model(cfg.model, 20, 5, cfg.seed)
    opt = build_optimizer(model.parameters(), cfg.optim.optimizer, cfg.optim.lr)
    loss_fn = losses.make_loss("mse", "linear", 5)
    first_bad, global_step = None, 0
    for epoch in range(cfg.train.epochs):
        perm = epoch_permutation(len(data.x_train), cfg.seed, epoch)
        for i in range(0, len(perm), 32):
            idx = perm[i : i + 32]
            global_step += 1
            opt.zero_grad()
            loss = loss_fn(model(data.x_train[idx]), data.y_train[idx])
            if not math.isfinite(loss.item()):
                first_bad = global_step
                break
            loss.backward()
            opt.step()
        if first_bad:
            break
    assert step == first_bad


def test_early_stopping_restores_the_best_weights(monkeypatch):
    import vanishing.train as train

    scripted = iter([0.5, 0.7, 0.6, 0.65, 0.9, 0.95])
    real_evaluate = train.evaluate
    snapshots = []

    def fake_evaluate(model, loss, x, y):
        real_evaluate(model, loss, x, y)
        if x is data.x_val:
            snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
            return 1.0, next(scripted)
        return 1.0, 0.5

    data = blobs()
    monkeypatch.setattr(train, "evaluate", fake_evaluate)
    out = fit(config(**{"train.epochs": 6, "train.early_stopping": 2}), data)
    assert out.summary["epochs_done"] == 4 and out.summary["stopped_early"]
    assert out.summary["best_val_epoch"] == 2 and out.summary["headline_epoch"] == 2
    best = snapshots[1]
    assert all(torch.equal(best[k], v) for k, v in out.model.state_dict().items())


def test_headline_is_last_epoch_when_test_serves_as_validation():
    out = fit(config(), blobs(val_is_test=True))
    assert out.summary["headline_epoch"] == 4
    assert out.summary["headline"].startswith("last epoch (the test set serves as validation)")
    assert out.history[-1]["val_acc"] == out.history[-1]["test_acc"]


def test_headline_is_best_validation_epoch_otherwise():
    out = fit(config(**{"train.epochs": 5}), blobs())
    vals = [h["val_acc"] for h in out.history]
    best_epoch = vals.index(max(vals)) + 1
    assert out.summary["headline_epoch"] == best_epoch
    assert out.summary["test_acc"] == out.history[best_epoch - 1]["test_acc"]


def test_epoch_metrics_match_an_independent_evaluation():
    data = blobs()
    out = fit(config(), data)
    model = out.model.eval()
    with torch.no_grad():
        z = model(data.x_test)
        acc = (z.argmax(1) == data.y_test).double().mean().item()
        loss = torch.nn.functional.cross_entropy(z, data.y_test).item()
    last = out.history[-1]
    assert last["test_acc"] == pytest.approx(acc, abs=1e-12)
    assert last["test_mcr"] == pytest.approx(1 - acc, abs=1e-12)
    assert last["test_loss"] == pytest.approx(loss, rel=1e-5)
    assert set(last) >= {"train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time_s", "eval_time_s"}


def test_learning_rate_schedule_is_applied_per_epoch():
    out = fit(config(**{"optim.schedule": "exponential(gamma=0.5)", "optim.lr": 0.01}), blobs())
    assert [h["lr"] for h in out.history] == pytest.approx([0.01, 0.005, 0.0025, 0.00125])


def test_gradient_clipping_bounds_the_update():
    data = blobs()
    cfg = config(**{"optim.optimizer": "sgd", "optim.lr": 1.0, "optim.clip_norm": 1e-3, "train.epochs": 1})
    out = fit(cfg, data)
    from vanishing.model import build_model

    start = build_model(cfg.model, 20, 5, cfg.seed)
    with torch.no_grad():
        moved = torch.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(start.parameters(), out.model.parameters())))
    steps = out.summary["steps_per_epoch"]
    assert float(moved) <= steps * 1e-3 * (1 + 1e-4)
