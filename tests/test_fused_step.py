"""The fused explicit step against torch autograd (float64), and its use by the training engine."""

import pytest
import torch

from vanishing import activations, fused_step, losses
from vanishing.config import ExecConfig, ModelConfig, resolve_exec
from vanishing.errors import ConfigError
from vanishing.model import build_model
from vanishing.optim import build_optimizer
from vanishing.train import Callback, fit

from test_train import blobs, config, strip_times

SUPPORTED = [name for name in activations.NAMES if name not in ("prelu", "rrelu")]
PAIRS = [(loss, out) for loss, outs in losses.VALID_OUTPUTS.items() for out in outs]


def _model(activation="tanh", output="softmax", hidden=(7, 6), seed=0, dtype=torch.float64, **extra):
    cfg = ModelConfig(hidden=list(hidden), activation=activation, output=output, **extra)
    return build_model(cfg, 5, 4, seed).to(dtype)


def _batches(n_steps, batch=9, seed=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    for _ in range(n_steps):
        yield torch.randn(batch, 5, generator=g, dtype=dtype) * 2, torch.randint(0, 4, (batch,), generator=g)


def _autograd_run(model, loss_fn, optimizer, batches):
    out = []
    for x, y in batches:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        out.append(loss.detach())
        optimizer.step()
    return out


def _fused_run(model, loss_fn, optimizer, batches, inline_lr=None, batch=9):
    step = fused_step.FusedMLPStep(model, loss_fn, batch)
    out = []
    for x, y in batches:
        loss, _ = step.step(x, y, inline_lr)
        out.append(loss)
        if inline_lr is None:
            optimizer.step()
    return out


def _assert_same_params(a, b, rtol=1e-10, atol=1e-12):
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=rtol, atol=atol, msg=name)


@pytest.mark.parametrize("activation", SUPPORTED)
def test_twenty_adam_steps_equal_autograd_for_every_activation(activation):
    ref, got = _model(activation), _model(activation)
    loss_fn = losses.make_loss("ce", "softmax", 4)
    ref_losses = _autograd_run(ref, loss_fn, build_optimizer(ref.parameters(), "adam", 0.01), _batches(20))
    got_losses = _fused_run(got, loss_fn, build_optimizer(got.parameters(), "adam", 0.01), _batches(20))
    torch.testing.assert_close(torch.stack(got_losses), torch.stack(ref_losses), rtol=1e-10, atol=1e-12)
    _assert_same_params(got, ref)


@pytest.mark.parametrize("loss,output", PAIRS)
def test_gradients_equal_autograd_for_every_loss_and_output(loss, output):
    ref, got = _model("sigmoid", output), _model("sigmoid", output)
    loss_fn = losses.make_loss(loss, output, 4)
    x, y = next(_batches(1))
    ref_loss = loss_fn(ref(x), y)
    ref_loss.backward()
    got_loss, z = fused_step.FusedMLPStep(got, loss_fn, 9).step(x, y)
    torch.testing.assert_close(got_loss, ref_loss.detach(), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(z, ref(x).detach(), rtol=1e-12, atol=1e-14)
    for (name, p), q in zip(got.named_parameters(), ref.parameters()):
        assert p.grad is not None and q.grad is not None
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-10, atol=1e-13, msg=name)


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "gelu"])
def test_inline_sgd_equals_autograd_sgd_over_twenty_steps(activation):
    ref, got = _model(activation, "sigmoid"), _model(activation, "sigmoid")
    loss_fn = losses.make_loss("mse", "sigmoid", 4)
    opt_ref = build_optimizer(ref.parameters(), "sgd", 0.5)
    opt_got = build_optimizer(got.parameters(), "sgd", 0.5)
    assert fused_step.inline_sgd_applies(opt_got)
    ref_losses = _autograd_run(ref, loss_fn, opt_ref, _batches(20))
    got_losses = _fused_run(got, loss_fn, opt_got, _batches(20), inline_lr=0.5)
    torch.testing.assert_close(torch.stack(got_losses), torch.stack(ref_losses), rtol=1e-10, atol=1e-12)
    _assert_same_params(got, ref)
    assert all(p.grad is None for p in got.parameters())  # no gradient tensor was written
    assert opt_got.state_dict() == opt_ref.state_dict()  # what SGD.step leaves without momentum: no state


def test_a_smaller_last_batch_uses_the_front_of_the_buffers():
    ref, got = _model("relu"), _model("relu")
    loss_fn = losses.make_loss("ce", "softmax", 4)
    batches = [next(_batches(1, batch=9, seed=3)), next(_batches(1, batch=4, seed=4)), next(_batches(1, batch=9, seed=5))]
    _autograd_run(ref, loss_fn, build_optimizer(ref.parameters(), "sgd(momentum=0.9)", 0.1), batches)
    _fused_run(got, loss_fn, build_optimizer(got.parameters(), "sgd(momentum=0.9)", 0.1), batches)
    _assert_same_params(got, ref)


def test_inline_sgd_applies_only_to_plain_sgd():
    params = list(_model().parameters())
    assert fused_step.inline_sgd_applies(build_optimizer(params, "sgd", 0.1))
    for spec in ("sgd(momentum=0.9)", "sgd(weight_decay=0.001)", "adam", "rmsprop"):
        assert not fused_step.inline_sgd_applies(build_optimizer(params, spec, 0.1)), spec


@pytest.mark.parametrize(
    "extra,needle",
    [
        ({"batch_norm": "before"}, "batch norm"),
        ({"layer_norm": True}, "layer norm"),
        ({"residual": True, "activation": "relu"}, "skip"),
        ({"activation": "prelu"}, "prelu"),
        ({"activation": "rrelu"}, "rrelu"),
    ],
)
def test_unsupported_models_are_named(extra, needle):
    extra = dict(extra)
    model = _model(extra.pop("activation", "tanh"), hidden=(6, 6), **extra)
    reason = fused_step.unsupported_reason(model, build_optimizer(model.parameters(), "adam", 0.01))
    assert reason is not None and needle in reason


def test_frozen_parameters_are_named_and_param_groups_are_left_to_the_optimizer():
    model = _model()
    model.output.bias.requires_grad_(False)
    assert "frozen" in fused_step.unsupported_reason(model, build_optimizer(model.parameters(), "adam", 0.01))
    model = _model()
    groups = torch.optim.Adam([{"params": model.output.parameters(), "lr": 0.1},
                               {"params": [p for n, p in model.named_parameters() if not n.startswith("output")]}])
    assert fused_step.unsupported_reason(model, groups) is None
    assert not fused_step.inline_sgd_applies(torch.optim.SGD([{"params": [model.output.weight]}, {"params": [model.output.bias]}], lr=0.1))


def test_fit_updates_adam_through_the_direct_kernel(monkeypatch):
    import vanishing.train as train

    taken = []
    original = train.direct_step
    monkeypatch.setattr(train, "direct_step", lambda opt: (taken.append(original(opt)), taken[-1])[1])
    out = fit(config(**{"train.epochs": 1}), blobs(n_train=320))
    assert out.status == "done" and len(taken) == 10
    assert taken == [False] + [True] * 9  # the first step creates Adam's state through torch


def test_engine_auto_matches_engine_autograd_and_uses_the_fused_step(monkeypatch):
    data = blobs()
    calls = []
    original = fused_step.FusedMLPStep.step

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(fused_step.FusedMLPStep, "step", counting)
    for overrides in ({}, {"optim.optimizer": "sgd", "optim.lr": 0.2, "optim.loss": "mse", "model.output": "sigmoid"}):
        cfg = config(**overrides)
        calls.clear()
        fast = fit(cfg, data, exec_config=ExecConfig(engine="auto"))
        assert len(calls) == 4 * fast.summary["steps_per_epoch"]
        calls.clear()
        slow = fit(cfg, data, exec_config=ExecConfig(engine="autograd"))
        assert calls == []
        for a, b in zip(strip_times(fast.history), strip_times(slow.history)):
            for key in a:
                assert a[key] == pytest.approx(b[key], rel=1e-4, abs=2e-3), key
        for p, q in zip(fast.model.parameters(), slow.model.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-3, atol=1e-4)


class GradNorms(Callback):
    """Records ‖∂E/∂W‖ of every layer after each backward pass."""

    def __init__(self):
        self.norms = []

    def on_after_backward(self, ctx, info):
        self.norms.append(torch.stack([p.grad.norm() for p in ctx.model.parameters()]))


def test_callbacks_see_the_same_gradients_as_with_autograd():
    data = blobs(n_train=200)
    cfg = config(**{"train.epochs": 1, "optim.optimizer": "sgd", "optim.lr": 0.1})
    fast, slow = GradNorms(), GradNorms()
    fit(cfg, data, exec_config=ExecConfig(engine="auto"), callbacks=[fast])
    fit(cfg, data, exec_config=ExecConfig(engine="autograd"), callbacks=[slow])
    assert len(fast.norms) == len(slow.norms) == 7
    torch.testing.assert_close(torch.stack(fast.norms), torch.stack(slow.norms), rtol=1e-4, atol=1e-6)


def test_unknown_engine_is_one_clear_error():
    with pytest.raises(ConfigError, match="engine: expected one of auto, autograd"):
        resolve_exec(ExecConfig(engine="fast"))


# --------------------------------------------------------------------------- seed-batched (stacked) weights


def _stacked(activation="tanh", output="softmax", k=3):
    from vanishing.seedbatch.stacked import StackedMLP

    models = [_model(activation, output, seed=s) for s in range(k)]
    arch = dict(n_in=5, hidden=[7, 6], n_out=4, activation=activation, output=output)
    return StackedMLP.from_models(models, arch).to(torch.float64)


def _stacked_batches(n_steps, k=3, sizes=(9,), seed=1):
    g = torch.Generator().manual_seed(seed)
    for i in range(n_steps):
        b = sizes[i % len(sizes)]
        yield torch.randn(k, b, 5, generator=g, dtype=torch.float64) * 2, torch.randint(0, 4, (k * b,), generator=g)


def _stacked_autograd_loss(model, loss_fn, x, y):
    z, _ = model(x)
    k, b = x.shape[:2]
    return loss_fn.per_example(z.reshape(k * b, -1), y).view(k, b).mean(1)


@pytest.mark.parametrize("loss,output,activation", [("ce", "softmax", "relu"), ("mse", "sigmoid", "sigmoid"), ("bce", "sigmoid", "gelu")])
def test_stacked_gradients_equal_autograd(loss, output, activation):
    ref, got = _stacked(activation, output), _stacked(activation, output)
    loss_fn = losses.make_loss(loss, output, 4)
    x, y = next(_stacked_batches(1))
    ref_loss = _stacked_autograd_loss(ref, loss_fn, x, y)
    ref_loss.sum().backward()
    got_loss, _ = fused_step.FusedMLPStep(got, loss_fn, 9).step(x, y)
    assert got_loss.shape == (3,)
    torch.testing.assert_close(got_loss, ref_loss.detach(), rtol=1e-12, atol=1e-14)
    for (name, p), q in zip(got.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-10, atol=1e-13, msg=name)


def test_stacked_inline_sgd_with_a_smaller_batch_equals_autograd():
    ref, got = _stacked("sigmoid", "sigmoid"), _stacked("sigmoid", "sigmoid")
    loss_fn = losses.make_loss("mse", "sigmoid", 4)
    opt = build_optimizer(ref.parameters(), "sgd", 0.5)
    step = fused_step.FusedMLPStep(got, loss_fn, 9)
    for x, y in _stacked_batches(6, sizes=(9, 4)):
        opt.zero_grad()
        _stacked_autograd_loss(ref, loss_fn, x, y).sum().backward()
        opt.step()
        step.step(x, y, inline_lr=0.5)
    _assert_same_params(got, ref)


# --------------------------------------------------------------------------- the command line


def test_the_engine_flag_reaches_the_training_loop(tmp_path, monkeypatch, capsys):
    from vanishing.cli import main

    calls = []
    original = fused_step.FusedMLPStep.step
    monkeypatch.setattr(fused_step.FusedMLPStep, "step", lambda self, *a, **k: (calls.append(1), original(self, *a, **k))[1])
    small = ["run", "--dataset", "mnist-sample", "--train-subset", "300", "--hidden", "16", "--batch-size", "50",
             "--epochs", "1", "--probes", "none", "--threads", "1"]
    assert main([*small, "--engine", "autograd", "--results", str(tmp_path / "a")]) == 0
    assert calls == []
    assert main([*small, "--results", str(tmp_path / "b")]) == 0
    assert len(calls) == 6  # 300 examples / 50 per step, all through the fused step


def test_a_bad_engine_in_a_sweep_file_is_one_clear_error(tmp_path, capsys):
    from vanishing.cli import main

    path = tmp_path / "s.toml"
    path.write_text('[data]\ndataset = "mnist-sample"\n[model]\nhidden = [8]\n[exec]\nengine = "fast"\n')
    assert main(["sweep", str(path), "--workers", "0", "--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "engine: expected one of auto, autograd, got 'fast'" in err
    assert not (tmp_path / "r").exists()


def test_the_per_step_benchmark_runs(tmp_path):
    """benchmarks/fused_step.py end to end on two steps (its figures are in docs/performance.md, not asserted)."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "fused_step.py"
    out = subprocess.run([sys.executable, str(script), "--configs", "tan", "--steps", "2", "--repeats", "1", "--threads", "1"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "tan" in out.stdout and "autograd / fused ×" in out.stdout
    bad = subprocess.run([sys.executable, str(script), "--configs", "pretorius-bn"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "config 'pretorius-bn'" in bad.stderr


@pytest.mark.parametrize(
    "overrides",
    [{}, {"model.batch_norm": "after"}, {"model.layer_norm": True}, {"model.residual": True}, {"model.activation": "prelu"},
     {"model.activation": "rrelu"}, {"model.activation": ["relu", "gelu"]}, {"optim.optimizer": "sdagd"},
     {"optim.optimizer": "sgd(momentum=0.9)"}],
)
def test_applies_to_reads_off_the_config_what_unsupported_reason_finds_on_the_model(overrides):
    from vanishing.config import RunConfig, resolve, with_overrides

    cfg = resolve(with_overrides(RunConfig(), {"model.hidden": [8, 8], **overrides}))
    model = build_model(cfg.model, 5, 4, 0)
    optimizer = build_optimizer(model.parameters(), cfg.optim.optimizer, cfg.optim.lr)
    assert fused_step.applies_to(cfg) == (fused_step.unsupported_reason(model, optimizer) is None)
    assert not fused_step.applies_to(cfg, engine="autograd")
