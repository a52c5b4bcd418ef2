"""Tests whose results depend on the device: they run on ``$VANISHING_TEST_DEVICE`` (default cpu).

``VANISHING_TEST_DEVICE=cuda python -m pytest -m device`` runs them on a GPU
(``benchmarks/device_check.py`` does so); on the CPU they run in CI as every
other test. Each computes on the test device and compares, on the host, with
a float64 CPU reference (brute force, autograd, or an unbatched run). TF32 is
off on CUDA (the ``device`` fixture), so float32 tolerances are those of
IEEE float32 matmuls in a different summation order.

Tolerances: float64 comparisons rtol 1e-9 (the reference and the device sum
in different orders, nothing else differs); float32 rtol 1e-4 on 20 steps;
probe tables rtol 1e-4 (they are float32 on the device).
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vanishing import fused_step, losses
from vanishing.config import ExecConfig, ModelConfig, RunConfig, resolve, with_overrides
from vanishing.model import build_model
from vanishing.optim import SDAGD, build_optimizer, curvature
from vanishing.train import MemorySink, fit

pytestmark = pytest.mark.device

ACTIVATIONS = ["sigmoid", "tanh", "relu", "gelu", "elu"]


def _host(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu")


def _exec(device) -> ExecConfig:
    return ExecConfig(device=str(device))


# --------------------------------------------------------------------------- model forward / backward


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_mlp_forward_and_backward_match_the_cpu(device, activation):
    cfg = ModelConfig(hidden=[12, 9], activation=activation, output="softmax")
    ref = build_model(cfg, 6, 4, 0).double()
    got = copy.deepcopy(ref).to(device)
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(16, 6, generator=g, dtype=torch.float64), torch.randint(0, 4, (16,), generator=g)
    loss_fn = losses.make_loss("ce", "softmax", 4)
    loss_ref = loss_fn(ref(x), y)
    loss_ref.backward()
    loss_got = loss_fn(got(x.to(device)), y.to(device))
    loss_got.backward()
    torch.testing.assert_close(_host(loss_got), loss_ref.detach(), rtol=1e-9, atol=1e-12)
    for (name, p), q in zip(got.named_parameters(), ref.parameters()):
        torch.testing.assert_close(_host(p.grad), q.grad, rtol=1e-9, atol=1e-12, msg=name)


# --------------------------------------------------------------------------- fused step against autograd


def _batches(n_steps, device, dtype, batch=9, seed=1):
    g = torch.Generator().manual_seed(seed)
    for _ in range(n_steps):
        x = torch.randn(batch, 5, generator=g, dtype=torch.float64) * 2
        yield x.to(device=device, dtype=dtype), torch.randint(0, 4, (batch,), generator=g).to(device)


@pytest.mark.parametrize("dtype,rtol,atol", [(torch.float64, 1e-9, 1e-11), (torch.float32, 1e-4, 1e-5)], ids=["float64", "float32"])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_twenty_fused_adam_steps_on_the_device_equal_autograd_on_the_cpu(device, activation, dtype, rtol, atol):
    cfg = ModelConfig(hidden=[7, 6], activation=activation, output="softmax")
    ref = build_model(cfg, 5, 4, 0).double()
    got = copy.deepcopy(ref).to(device=device, dtype=dtype)
    loss_fn = losses.make_loss("ce", "softmax", 4)
    opt_ref = build_optimizer(ref.parameters(), "adam", 0.01)
    opt_got = build_optimizer(got.parameters(), "adam", 0.01)
    step = fused_step.FusedMLPStep(got, loss_fn, 9)
    ref_losses, got_losses = [], []
    for (x, y), (xd, yd) in zip(_batches(20, "cpu", torch.float64), _batches(20, device, dtype)):
        opt_ref.zero_grad()
        loss = loss_fn(ref(x), y)
        loss.backward()
        opt_ref.step()
        ref_losses.append(loss.detach())
        loss_d, _ = step.step(xd, yd)
        opt_got.step()
        got_losses.append(_host(loss_d).double())
    torch.testing.assert_close(torch.stack(got_losses), torch.stack(ref_losses), rtol=rtol, atol=atol)
    for (name, p), q in zip(got.named_parameters(), ref.parameters()):
        torch.testing.assert_close(_host(p).double(), q.detach(), rtol=rtol, atol=atol, msg=name)


def test_inline_sgd_on_the_device_equals_autograd_sgd(device):
    cfg = ModelConfig(hidden=[7, 6], activation="tanh", output="softmax")
    ref = build_model(cfg, 5, 4, 0).double()
    got = copy.deepcopy(ref).to(device)
    loss_fn = losses.make_loss("ce", "softmax", 4)
    opt_ref = torch.optim.SGD(ref.parameters(), lr=0.1)
    step = fused_step.FusedMLPStep(got, loss_fn, 9)
    for (x, y), (xd, yd) in zip(_batches(20, "cpu", torch.float64), _batches(20, device, torch.float64)):
        opt_ref.zero_grad()
        loss_fn(ref(x), y).backward()
        opt_ref.step()
        step.step(xd, yd, 0.1)
    for p, q in zip(got.parameters(), ref.parameters()):
        torch.testing.assert_close(_host(p), q.detach(), rtol=1e-9, atol=1e-11)


# --------------------------------------------------------------------------- SDAGD and its curvature


@pytest.mark.parametrize("granularity", ["global", "layer", "weight"])
def test_sdagd_step_on_the_device_equals_the_step_on_the_cpu(device, granularity):
    from test_sdagd import two_layers

    ref_net, ref_h = two_layers()
    got_net, got_h = two_layers()
    by_id = {id(p): h for p, h in got_h.items()}
    got_net.to(device)  # moves parameters in place: the keys of got_h stay valid
    for p in got_net.parameters():
        p.grad = p.grad.to(device) if p.grad.device != p.device else p.grad
    got_h = {p: by_id[id(p)].to(device) for p in got_net.parameters() if id(p) in by_id}
    for net, h in ((ref_net, ref_h), (got_net, got_h)):
        opt = SDAGD(net, lr=0.5, radius=0.5, granularity=granularity)
        opt.set_curvature(h)
        opt.step()
    for p, q in zip(got_net.parameters(), ref_net.parameters()):
        torch.testing.assert_close(_host(p), q.detach(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("backend", ["lecun", "ggn"])
@pytest.mark.parametrize("loss,output", [("ce", "softmax"), ("mse", "sigmoid")])
def test_curvature_on_the_device_equals_its_brute_force_twin(device, backend, loss, output):
    from test_curvature import batch, ggn_bruteforce, lecun_loop, tiny

    model = tiny("tanh")
    x, y = batch()
    want = lecun_loop(model, x, loss, output, "tanh") if backend == "lecun" else ggn_bruteforce(model, x, y, loss, output)
    dev_model = copy.deepcopy(model).to(device)
    got = curvature.diagonal(dev_model, x.to(device), loss, output, backend=backend)
    for name, p in dev_model.named_parameters():
        assert p.device.type == torch.device(device).type
        torch.testing.assert_close(_host(got[p]), want[name], rtol=1e-9, atol=1e-12, msg=name)


def test_sdagd_trains_through_the_engine_on_the_device(device):
    from test_train import blobs

    cfg = resolve(with_overrides(RunConfig(), {
        "model.hidden": [16, 16], "model.activation": "sigmoid", "model.output": "sigmoid", "optim.loss": "mse",
        "optim.optimizer": "sdagd", "train.epochs": 2, "train.batch_size": 32, "data.dataset": "mnist-sample",
    }))
    dev = fit(cfg, blobs(), exec_config=_exec(device))
    cpu = fit(cfg, blobs(), exec_config=ExecConfig(device="cpu"))
    assert dev.status == cpu.status == "done"
    for a, b in zip(dev.history, cpu.history):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)


# --------------------------------------------------------------------------- probes against brute force


def test_step_probes_on_the_device_equal_brute_force(device):
    from test_probes import Spy, blobs, config, loop_l2, table_rows

    from vanishing.probes import ProbeCallback

    data, cfg = blobs(), config()
    steps = [1, 9, 12]
    sink, spy = MemorySink(), Spy(steps)
    fit(cfg, data, sink, _exec(device), callbacks=[ProbeCallback(["grad_norms(every=1)", "update_ratio(every=1)"], sink), spy])
    for step, seen in spy.seen.items():
        assert seen["x"].device.type == torch.device(device).type
        gn = table_rows(sink.probes["grad_norms"], step=step)
        ur = table_rows(sink.probes["update_ratio"], step=step)
        for i in range(3):
            assert gn["weight_l2"][i] == pytest.approx(loop_l2(_host(seen["wgrad"][i])), rel=1e-4)
            assert gn["bias_l2"][i] == pytest.approx(loop_l2(_host(seen["bgrad"][i])), rel=1e-4)
            diff = _host(seen["after"][i]) - _host(seen["before"][i])
            assert ur["update_norm"][i] == pytest.approx(loop_l2(diff), rel=1e-3)


@pytest.mark.parametrize("activation,batch_norm", [("relu", "off"), ("sigmoid", "before"), ("tanh", "off")])
def test_probe_set_probes_on_the_device_equal_brute_force(device, activation, batch_norm):
    import statistics

    from test_probes import N_CLASSES, blobs, brute_force_probe_set, config, loop_l2, table_rows

    from vanishing.probes import ProbeCallback

    data = blobs()
    cfg = config(**{"model.activation": activation, "model.batch_norm": batch_norm})
    sink = MemorySink()
    probes = ["activation_stats(epochs='init,last', bins=7)", "sparsity(epochs='init,last')",
              "backprop_signal(epochs='init,last')"]
    cb = ProbeCallback(probes, sink, per_class=5, split="train", seed=3)
    out = fit(cfg, data, sink, _exec(device), callbacks=[cb])
    ps = cb.probe_set
    x, y = _host(ps.x), _host(ps.y)
    loss = losses.make_loss("ce", "softmax", N_CLASSES)
    model = copy.deepcopy(out.model).to("cpu")
    pre, outs, deltas = brute_force_probe_set(model, x, y, loss)
    n = len(y)
    for li, layer in enumerate(model.layer_names):
        st = table_rows(sink.probes["activation_stats"], epoch=2, layer=layer)
        for j in range(len(outs[li][0])):
            vals = [float(outs[li][k][j]) for k in range(n)]
            row = {k: v[(st["node"] == j) & (st["class"] == -1)] for k, v in st.items()}
            assert row["mean"][0] == pytest.approx(statistics.fmean(vals), rel=1e-4, abs=1e-6)
        bp = table_rows(sink.probes["backprop_signal"], epoch=2, layer=layer)
        norms = [loop_l2(d) for d in deltas[li]]
        assert bp["rms"][0] == pytest.approx(math.sqrt(sum(v * v for v in norms) / n), rel=1e-4)


# --------------------------------------------------------------------------- seed batching


@pytest.mark.parametrize("overrides", [{"optim.optimizer": "adam"}, {"model.batch_norm": "before", "optim.optimizer": "sgd(momentum=0.9)"}],
                         ids=["adam", "batchnorm-momentum"])
def test_seed_batch_on_the_device_matches_unbatched_runs(device, overrides):
    from test_seedbatch import assert_states_close, configs

    from vanishing.runner import load_run_data
    from vanishing.seedbatch import fit_batch

    cfgs = configs(**overrides)
    data = load_run_data(cfgs[0], ExecConfig())
    batched = fit_batch(cfgs, data, exec_config=_exec(device))
    for c, out in zip(cfgs, batched):
        ref = fit(c, data, exec_config=_exec(device))
        assert out.status == ref.status == "done"
        assert_states_close({k: _host(v) for k, v in ref.model.state_dict().items()},
                            {k: _host(v) for k, v in out.model.state_dict().items()})
        assert out.history[-1]["test_acc"] == pytest.approx(ref.history[-1]["test_acc"], abs=2e-3)


# --------------------------------------------------------------------------- watch() on an MLP, a CNN and an LSTM


def _watch_grad_norms_match(model, x, y, loss_fn, device, **options):
    import vanishing

    model = model.to(device)
    x, y = x.to(device), y.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    spied = {}
    w = vanishing.watch(model, probe_batch=(x, y), loss_fn=loss_fn, every=2, **options)
    with w:
        for step in range(1, 5):
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            spied[step] = [_host(model.get_submodule(n).weight.grad) for n in w.layers]
            opt.step()
    tables = w.tables()
    gn = tables["grad_norms"]
    for step, grads in spied.items():
        rows = gn[gn["step"] == step]
        assert list(rows["layer"]) == w.layers
        for i, g in enumerate(grads):
            assert rows["weight_l2"].iloc[i] == pytest.approx(float(g.double().norm()), rel=1e-5)
    assert not tables["backprop_signal"].empty
    return w


def test_watch_on_an_mlp_on_the_device(device):
    from test_watch import blobs, small_mlp

    x, y = blobs(24, (5,), 0)
    w = _watch_grad_norms_match(small_mlp(), x, y, nn.CrossEntropyLoss(), device)
    assert w.hidden == ["0", "4"]


def test_watch_on_a_cnn_on_the_device(device):
    from test_watch import blobs, small_cnn

    x, y = blobs(9, (2, 6, 6), 1)
    w = _watch_grad_norms_match(small_cnn(), x, y, F.cross_entropy, device)
    assert w.hidden == ["0", "2"]


class _LSTMHead(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(2)
        self.lstm = nn.LSTM(3, 8, batch_first=True)
        self.fc = nn.Linear(8, 6)
        self.act = nn.Tanh()
        self.out = nn.Linear(6, 3)

    def forward(self, x):
        h, _ = self.lstm(x)
        return self.out(self.act(self.fc(h[:, -1])))


def test_watch_on_an_lstm_on_the_device(device):
    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(12, 5, 3, generator=g, dtype=torch.float64), torch.arange(12) % 3
    w = _watch_grad_norms_match(_LSTMHead().double(), x, y, F.cross_entropy, device, unknown="skip")
    assert w.layers == ["fc", "out"]


# --------------------------------------------------------------------------- checkpoints across devices and auto


@pytest.mark.parametrize("first,second", [("device", "cpu"), ("cpu", "device")], ids=["device-then-cpu", "cpu-then-device"])
def test_a_checkpoint_written_on_one_device_resumes_on_the_other(device, first, second):
    from test_train import blobs, config

    class StopAfter:
        def __init__(self, n):
            self.n = n

        def __call__(self, metrics):
            if metrics["epoch"] == self.n:
                raise KeyboardInterrupt

    pick = {"device": str(device), "cpu": "cpu"}
    cfg, data = config(**{"train.epochs": 3}), blobs()
    sink = MemorySink()
    part = fit(cfg, data, sink, ExecConfig(device=pick[first]), on_epoch=StopAfter(1))
    assert part.status == "interrupted" and len(part.history) == 1
    done = fit(cfg, data, sink, ExecConfig(device=pick[second]))
    assert done.status == "done" and len(done.history) == 3
    assert next(done.model.parameters()).device.type == torch.device(pick[second]).type
    straight = fit(cfg, data, MemorySink(), ExecConfig(device=pick[second]))
    for a, b in zip(done.history, straight.history):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)


def test_auto_chooses_cuda_exactly_when_it_is_present(device):
    from vanishing.device import describe_choice, resolve_device

    chosen = resolve_device("auto")
    assert chosen.type == ("cuda" if torch.cuda.is_available() else "cpu")
    if torch.device(device).type == "cuda":
        assert chosen.type == "cuda" and "auto" in describe_choice("auto", chosen)
    assert resolve_device(str(device)).type == torch.device(device).type
