"""The seed-batched engine against the unbatched one: same init, data order, optimizer, metrics; resume; divergence."""

import math

import numpy as np
import pytest
import torch

from vanishing.config import ExecConfig, RunConfig, resolve, with_overrides
from vanishing.model import build_model
from vanishing.runner import load_run_data
from vanishing.seedbatch import (
    BatchError,
    MemoryBatchDir,
    NullSink,
    StackedMLP,
    check_batch,
    fit_batch,
    should_batch,
    unbatchable_reason,
    unstack_state,
)
from vanishing.seedbatch.engine import _arch
from vanishing.train import MemorySink, fit

# 640 training examples, batch 32: one epoch = 20 steps
BASE = {
    "data.dataset": "mnist-sample", "data.train_subset": 640, "data.val_fraction": 0.0,
    "model.hidden": [48, 48], "train.epochs": 1, "train.batch_size": 32, "probes.enabled": ["none"],
}


def configs(seeds=(0, 1, 2), **overrides):
    base = resolve(with_overrides(RunConfig(), {**BASE, **overrides}))
    return [resolve(with_overrides(base, {"seed": s})) for s in seeds]


@pytest.fixture(scope="module")
def data():
    return load_run_data(configs()[0], ExecConfig())


def strip_times(history):
    return [{k: v for k, v in h.items() if not k.endswith("time_s")} for h in history]


def assert_states_close(a, b, rtol=1e-4, atol=1e-6):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=rtol, atol=atol, msg=lambda m: f"{key}: {m}")


def test_stacking_keeps_each_seeds_init_and_round_trips(data):
    cfgs = configs()
    models = [build_model(c.model, data.n_features, data.n_classes, c.seed) for c in cfgs]
    stacked = StackedMLP.from_models(models, _arch(cfgs[0], data.n_features, data.n_classes))
    state = stacked.state_dict()
    assert list(state) == list(models[0].state_dict())  # same keys, same order as the MLP
    for k, m in enumerate(models):
        ref = m.state_dict()
        got = unstack_state(state, k)
        assert all(torch.equal(ref[key], got[key]) for key in ref)
    assert [p.shape[1:] for p in stacked.parameters()] == [p.shape for p in models[0].parameters()]
    x = data.x_test[:50]
    z = stacked.forward_shared(x)
    for k, m in enumerate(models):
        torch.testing.assert_close(z[k], m(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "overrides",
    [
        {},  # Adam
        {"model.batch_norm": "before", "optim.optimizer": "sgd(momentum=0.9)", "optim.lr": 0.05},
        {"model.batch_norm": "after", "model.layer_norm": True, "model.residual": True,
         "model.activation": "prelu(per_unit=True)", "optim.optimizer": "sgd(momentum=0.9, nesterov=True)",
         "optim.lr": 0.05, "optim.clip_norm": 0.5},
        {"model.activation": "tanh", "optim.optimizer": "adagrad", "optim.clip_norm": 0.05},
        {"model.activation": "sigmoid", "optim.optimizer": "sgd", "optim.lr": 0.5, "optim.loss": "mse", "model.output": "sigmoid"},
    ],
    ids=["adam", "batchnorm-sgd-momentum", "bn-ln-residual-prelu-nesterov-clip", "tanh-adagrad-clip", "sigmoid-plain-sgd"],
)
def test_each_seed_matches_its_unbatched_run_after_20_steps(data, overrides):
    cfgs = configs(**overrides)
    batched = fit_batch(cfgs, data)
    for c, out in zip(cfgs, batched):
        ref = fit(c, data)
        assert ref.summary["steps_per_epoch"] == 20 and out.status == ref.status == "done"
        assert_states_close(ref.model.state_dict(), out.model.state_dict())
        for r, b in zip(strip_times(ref.history), strip_times(out.history)):
            assert r.keys() == b.keys()
            for key in r:
                assert math.isclose(r[key], b[key], rel_tol=1e-4, abs_tol=1e-6), key


def test_repeating_a_batch_gives_identical_results(data):
    cfgs = configs(seeds=(3, 4, 5, 6), **{"train.epochs": 2, "model.batch_norm": "before"})
    a = fit_batch(cfgs, data)
    b = fit_batch(cfgs, data)
    for x, y in zip(a, b):
        assert strip_times(x.history) == strip_times(y.history)
        sx, sy = x.model.state_dict(), y.model.state_dict()
        assert all(torch.equal(sx[k], sy[k]) for k in sx)


class InterruptAtEpoch:
    """on_epoch hook that raises KeyboardInterrupt after the given (1-based) epoch of the first seed."""

    def __init__(self, epoch):
        self.epoch = epoch

    def __call__(self, seed, metrics):
        if metrics["epoch"] == self.epoch:
            raise KeyboardInterrupt


class KilledWhileSaving(MemorySink):
    """A sink whose save of ``epoch`` is interrupted: the crash hits between the K per-seed writes."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def save_epoch(self, checkpoint, history):
        if len(history) == self.epoch:
            self.epoch = None
            raise KeyboardInterrupt
        super().save_epoch(checkpoint, history)


def test_a_batch_resumes_as_a_unit_to_the_same_results(data):
    cfgs = configs(seeds=(0, 1, 2), **{"train.epochs": 3, "model.batch_norm": "before"})
    reference = fit_batch(cfgs, data)
    sinks, joint = [MemorySink(), KilledWhileSaving(2), MemorySink()], MemoryBatchDir()
    first = fit_batch(cfgs, data, sinks, batch_dir=joint)
    assert [o.status for o in first] == ["interrupted"] * 3
    # the joint checkpoint has epoch 2; the seeds' own files lag behind it unevenly
    assert joint.checkpoint["epoch"] == 2 and [len(s.history) for s in sinks] == [2, 1, 1]
    second = fit_batch(cfgs, data, sinks, batch_dir=joint)
    assert [o.status for o in second] == ["done"] * 3 and joint.removed
    for ref, got, sink in zip(reference, second, sinks):
        assert strip_times(got.history) == strip_times(ref.history) == strip_times(sink.history)
        assert all(torch.equal(ref.model.state_dict()[k], got.model.state_dict()[k]) for k in ref.model.state_dict())


def test_each_seed_checkpoint_resumes_unbatched(data):
    """A seed's own checkpoint has the unbatched format: fit() continues it."""
    cfgs = configs(seeds=(0, 1), **{"train.epochs": 2, "optim.optimizer": "sgd(momentum=0.9)", "optim.lr": 0.05})
    sinks = [MemorySink() for _ in cfgs]
    fit_batch(cfgs, data, sinks, on_epoch=InterruptAtEpoch(1))
    resumed = fit(cfgs[1], data, sinks[1])
    ref = fit(cfgs[1], data)
    assert resumed.status == "done" and len(resumed.history) == 2
    assert_states_close(ref.model.state_dict(), resumed.model.state_dict())


def test_a_diverging_seed_is_recorded_and_masked_while_the_others_go_on(data, monkeypatch):
    import vanishing.seedbatch.engine as engine

    cfgs = configs(seeds=(0, 1, 2), **{"train.epochs": 2, "optim.optimizer": "sgd", "optim.lr": 0.05, "optim.clip_norm": 1e9})
    sinks = [MemorySink() for _ in cfgs]
    calls = {"n": 0}

    def poison(params, max_norm):  # in place of clipping (a no-op at 1e9): seed 1's first-layer gradient → inf at step 7
        calls["n"] += 1
        if calls["n"] == 7:
            params[0].grad[1].fill_(float("inf"))

    monkeypatch.setattr(engine, "_clip_per_seed", poison)
    outs = fit_batch(cfgs, data, sinks, exec_config=ExecConfig(divergence_check_every=5))
    monkeypatch.undo()
    assert [o.status for o in outs] == ["done", "diverged", "done"]
    assert sinks[1].status == "diverged" and sinks[1].summary["diverged_step"] == 8  # first NaN loss: the step after
    assert sinks[1].history == []
    clean = fit_batch([cfgs[0], cfgs[2]], data)  # the same two seeds without the diverging one
    for got, ref in ((outs[0], clean[0]), (outs[2], clean[1])):
        for g, r in zip(strip_times(got.history), strip_times(ref.history), strict=True):
            assert all(math.isclose(g[k], r[k], rel_tol=1e-6, abs_tol=1e-9) for k in r)


def test_a_null_sink_seed_trains_along_and_records_nothing(data):
    cfgs = configs(seeds=(0, 1))
    sinks = [MemorySink(), NullSink()]
    outs = fit_batch(cfgs, data, sinks)
    assert sinks[0].status == "done" and [o.status for o in outs] == ["done", "done"]


def test_probes_in_a_batch_match_the_unbatched_probes(data):
    overrides = {"probes.enabled": ["grad_norms(every=1)", "update_ratio(every=5)", "backprop_signal_batch(every=10)",
                                    "sparsity(epochs='init,last')", "saturation(epochs='init,last')"],
                 "probes.probe_per_class": 10, "train.epochs": 2}
    cfgs = configs(seeds=(0, 1), **overrides)
    from vanishing.probes import probe_callback

    sinks = [MemorySink() for _ in cfgs]
    fit_batch(cfgs, data, sinks)
    for c, sink in zip(cfgs, sinks):
        ref_sink = MemorySink()
        fit(c, data, ref_sink, callbacks=[probe_callback(c, ref_sink)])
        assert sink.probes.keys() == ref_sink.probes.keys() and sink.probes
        for name, table in ref_sink.probes.items():
            got = sink.probes[name]
            assert got.keys() == table.keys(), name
            for col, values in table.items():
                if values.dtype.kind in "fc":
                    np.testing.assert_allclose(got[col], values, rtol=1e-3, atol=1e-6, err_msg=f"{name}.{col}")
                else:
                    np.testing.assert_array_equal(got[col], values, err_msg=f"{name}.{col}")


def test_the_rule_and_what_may_not_be_batched():
    cfg = configs()[0]
    assert unbatchable_reason(cfg) is None and should_batch(cfg, 8) and not should_batch(cfg, 1)
    wide = resolve(with_overrides(cfg, {"model.hidden": [800] * 4}))
    assert not should_batch(wide, 3)
    rrelu = resolve(with_overrides(cfg, {"model.activation": "rrelu"}))
    assert "global RNG" in unbatchable_reason(rrelu)
    sdagd = resolve(with_overrides(cfg, {"optim.optimizer": "sdagd", "optim.loss": "mse", "model.output": "sigmoid"}))
    assert "not elementwise" in unbatchable_reason(sdagd)
    with pytest.raises(BatchError, match="identical except for the seed"):
        check_batch([cfg, resolve(with_overrides(cfg, {"seed": 1, "optim.lr": 0.1}))])
    with pytest.raises(BatchError, match="distinct seeds"):
        check_batch([cfg, cfg])


def test_early_stopping_per_seed_and_a_resume_across_seeds_that_ended(data):
    """Seeds stop early at different epochs, leave the stack, and a kill at an epoch boundary where some end resumes right."""
    cfgs = configs(seeds=(0, 1, 2, 3), **{"train.epochs": 8, "train.early_stopping": 1, "train.monitor": "val_loss",
                                            "data.val_fraction": 0.2, "data.train_subset": 800, "optim.lr": 0.01})
    data = load_run_data(cfgs[0], ExecConfig())
    reference = fit_batch(cfgs, data)
    stops = [len(o.history) for o in reference]
    assert len(set(stops)) > 1 and all(o.summary["stopped_early"] for o in reference)
    for c, out in zip(cfgs, reference):
        ref = fit(c, data)
        assert len(ref.history) == len(out.history) and ref.summary["headline_epoch"] == out.summary["headline_epoch"]
        assert math.isclose(ref.summary["test_acc"], out.summary["test_acc"], abs_tol=1e-3)
    # interrupt while saving the epoch at which some seeds end: they are recorded on resume from the joint checkpoint
    boundary = sorted(set(stops))[1]
    ending_there = [i for i, n in enumerate(stops) if n == boundary]
    first_saver = min(i for i, n in enumerate(stops) if n >= boundary)
    sinks = [KilledWhileSaving(boundary) if i == first_saver else MemorySink() for i in range(4)]
    joint = MemoryBatchDir()
    first = fit_batch(cfgs, data, sinks, batch_dir=joint)
    assert all(o.status in ("done", "interrupted") for o in first)
    assert [sinks[i].status for i in ending_there if i != first_saver] == ["interrupted"] * len([i for i in ending_there if i != first_saver])
    fit_batch(cfgs, data, sinks, batch_dir=joint)
    assert [s.status for s in sinks] == ["done"] * 4 and joint.removed
    for ref, sink in zip(reference, sinks):
        assert strip_times(sink.history) == strip_times(ref.history)


def test_the_rule_batches_only_where_the_measurement_says_it_is_not_slower():
    """Issue 5: never slower than sequential where the engine chooses to batch (benchmarks/seed_batching.py --grid)."""
    from vanishing.seedbatch.rule import MEASURED, should_batch

    for (width, k), speedup in MEASURED.items():
        config = resolve(with_overrides(RunConfig(), {"model.hidden": [width] * 4, "optim.optimizer": "adam"}))
        if should_batch(config, k):
            assert speedup >= 1.0, (width, k, speedup)
    batched = [key for key in MEASURED if should_batch(resolve(with_overrides(RunConfig(), {"model.hidden": [key[0]] * 4})), key[1])]
    assert (64, 2) in batched and (64, 8) in batched and (200, 8) not in batched and (800, 3) not in batched


def test_runs_on_the_autograd_path_keep_the_rule_measured_for_autograd():
    from vanishing.seedbatch.rule import AUTOGRAD_MEASURED, should_batch

    for overrides, engine in (({"model.batch_norm": "before"}, "auto"), ({"model.activation": "prelu"}, "auto"), ({}, "autograd")):
        for (width, k), speedup in AUTOGRAD_MEASURED.items():
            config = resolve(with_overrides(RunConfig(), {"model.hidden": [width] * 4, **overrides}))
            if should_batch(config, k, engine=engine):
                assert speedup >= 1.0, (overrides, engine, width, k, speedup)
        wide = resolve(with_overrides(RunConfig(), {"model.hidden": [200] * 4, **overrides}))
        assert should_batch(wide, 8, engine=engine) and not should_batch(wide, 2, engine=engine)
    plain = resolve(with_overrides(RunConfig(), {"model.hidden": [200] * 4}))
    assert not should_batch(plain, 8)  # the fused step: RULE
