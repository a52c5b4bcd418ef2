"""SDAGD: one step against a hand-computed update, its state record, the engine and the CLI."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from vanishing.config import RunConfig, resolve, with_overrides
from vanishing.errors import ConfigError
from vanishing.optim import SDAGD, build_optimizer, canonical, default_lr
from vanishing.train import MemorySink, fit


def two_layers():
    """Layer A = Linear(2, 1) (weight and bias), layer B = Linear(2, 1, bias=False), gradients and h set by hand.

    ‖g_A‖ = √(3² + 4² + 12²) = 13, ‖g_B‖ = √(0.6² + 0.8²) = 1, ‖g‖ = √170.
    """
    net = nn.Sequential(nn.Linear(2, 1), nn.Linear(2, 1, bias=False)).double()
    a, b = net[0], net[1]
    with torch.no_grad():
        a.weight.copy_(torch.tensor([[1.0, 2.0]]))
        a.bias.copy_(torch.tensor([0.5]))
        b.weight.copy_(torch.tensor([[-1.0, 1.0]]))
    a.weight.grad = torch.tensor([[3.0, 4.0]], dtype=torch.float64)
    a.bias.grad = torch.tensor([12.0], dtype=torch.float64)
    b.weight.grad = torch.tensor([[0.6, 0.8]], dtype=torch.float64)
    h = {
        a.weight: torch.tensor([[1.0, 0.5]], dtype=torch.float64),
        a.bias: torch.tensor([2.0], dtype=torch.float64),
        b.weight: torch.tensor([[4.0, 4.0]], dtype=torch.float64),
    }
    return net, h


def values(net):
    return [p.detach().reshape(-1).tolist() for p in net.parameters()]


def close(got, want):
    for g, w in zip(got, want):
        assert g == pytest.approx(w, rel=1e-12, abs=1e-15)


LR, R = 0.5, 0.5


def run_one(granularity="layer", switch="auto", eps=0.0):
    net, h = two_layers()
    opt = SDAGD(net, lr=LR, radius=R, eps=eps, granularity=granularity, switch=switch)
    opt.set_curvature(h)
    opt.step()
    return net, opt


def test_layer_step_by_hand():
    net, opt = run_one("layer")
    mu_a, mu_b = 13 / R, 1 / R  # 26 and 2
    close(values(net), [
        [1.0 - LR * 3 / (mu_a + 1.0), 2.0 - LR * 4 / (mu_a + 0.5)],
        [0.5 - LR * 12 / (mu_a + 2.0)],
        [-1.0 - LR * 0.6 / (mu_b + 4.0), 1.0 - LR * 0.8 / (mu_b + 4.0)],
    ])
    s = opt.stats
    assert s.layers == ("0", "1")
    assert s.mu.tolist() == pytest.approx([26.0, 2.0])
    assert s.grad_norm.tolist() == pytest.approx([13.0, 1.0])
    step_a = LR * math.sqrt((3 / 27) ** 2 + (4 / 26.5) ** 2 + (12 / 28) ** 2)
    assert s.step_norm.tolist() == pytest.approx([step_a, LR * 1 / 6])
    assert s.phase.tolist() == pytest.approx([0.0, 1.0])  # h > μ: none of A (h ≤ 2 < 26), both of B (4 > 2)
    assert s.median_h.tolist() == pytest.approx([1.0, 4.0])
    assert s.newton.tolist() == [0.0, 0.0]


def test_global_step_by_hand():
    net, opt = run_one("global")
    mu = math.sqrt(170) / R
    close(values(net), [
        [1.0 - LR * 3 / (mu + 1.0), 2.0 - LR * 4 / (mu + 0.5)],
        [0.5 - LR * 12 / (mu + 2.0)],
        [-1.0 - LR * 0.6 / (mu + 4.0), 1.0 - LR * 0.8 / (mu + 4.0)],
    ])
    assert opt.stats.mu.tolist() == pytest.approx([mu, mu])


def test_weight_step_by_hand():
    net, opt = run_one("weight")
    # μ_i = |g_i| / R = 2 |g_i|
    close(values(net), [
        [1.0 - LR * 3 / (6 + 1.0), 2.0 - LR * 4 / (8 + 0.5)],
        [0.5 - LR * 12 / (24 + 2.0)],
        [-1.0 - LR * 0.6 / (1.2 + 4.0), 1.0 - LR * 0.8 / (1.6 + 4.0)],
    ])
    assert opt.stats.mu.tolist() == pytest.approx([(6 + 8 + 24) / 3, (1.2 + 1.6) / 2])
    assert opt.stats.phase.tolist() == pytest.approx([0.0, 1.0])


def test_explicit_switch_by_hand():
    """Layer B's Newton step g/h = (0.15, 0.2) has length 0.25 ≤ R: μ_B = 0. Layer A's (3, 8, 6) is outside: μ_A stays."""
    net, opt = run_one("layer", "explicit")
    close(values(net), [
        [1.0 - LR * 3 / (26 + 1.0), 2.0 - LR * 4 / (26 + 0.5)],
        [0.5 - LR * 12 / (26 + 2.0)],
        [-1.0 - LR * 0.6 / 4.0, 1.0 - LR * 0.8 / 4.0],
    ])
    assert opt.stats.newton.tolist() == [0.0, 1.0]
    assert opt.stats.mu.tolist() == pytest.approx([26.0, 0.0])


def test_explicit_switch_per_weight_by_hand():
    """|g_i/h_i| ≤ R only for B's weights (0.15, 0.2) → μ_i = 0 there; A's (3, 8, 6) keep μ_i = 2|g_i|."""
    net, _ = run_one("weight", "explicit")
    close(values(net)[2], [-1.0 - LR * 0.6 / 4.0, 1.0 - LR * 0.8 / 4.0])
    close(values(net)[:2], [[1.0 - LR * 3 / 7.0, 2.0 - LR * 4 / 8.5], [0.5 - LR * 12 / 26.0]])


def test_running_average_of_h_by_hand():
    net, h1 = two_layers()
    opt = SDAGD(net, lr=LR, radius=R, eps=0.0, beta=0.75)
    opt.set_curvature(h1)  # first estimate: h̄ = h1
    h2 = {p: torch.full_like(v, 10.0) for p, v in h1.items()}
    opt.set_curvature(h2)  # h̄ = 0.75 h1 + 0.25 · 10
    opt.step()
    hbar = [[0.75 * 1 + 2.5, 0.75 * 0.5 + 2.5], [0.75 * 2 + 2.5], [0.75 * 4 + 2.5] * 2]
    close(values(net), [
        [1.0 - LR * 3 / (26 + hbar[0][0]), 2.0 - LR * 4 / (26 + hbar[0][1])],
        [0.5 - LR * 12 / (26 + hbar[1][0])],
        [-1.0 - LR * 0.6 / (2 + hbar[2][0]), 1.0 - LR * 0.8 / (2 + hbar[2][1])],
    ])


def test_eps_and_a_zero_curvature_give_the_normalised_step():
    """h = 0 (a parameter without curvature): the step is lr·R·g/‖g_l‖ exactly, of length lr·R."""
    net, h = two_layers()
    opt = SDAGD(net, lr=1.0, radius=R, eps=0.0)
    opt.set_curvature({p: torch.zeros_like(v) for p, v in h.items()})
    opt.step()
    assert opt.stats.step_norm.tolist() == pytest.approx([R, R])


def test_step_without_curvature_is_an_error_that_says_what_to_do():
    net, _ = two_layers()
    with pytest.raises(RuntimeError, match="set_curvature"):
        SDAGD(net).step()


def test_plain_parameter_lists_make_one_layer_per_tensor_and_explicit_layers_override():
    net, h = two_layers()
    opt = SDAGD(net.parameters(), lr=LR, radius=R, eps=0.0)
    opt.set_curvature(h)
    opt.step()
    assert len(opt.stats.layers) == 3
    assert opt.stats.mu.tolist() == pytest.approx([10.0, 24.0, 2.0])  # ‖(3,4)‖/R, 12/R, 1/R
    net2, h2 = two_layers()
    opt2 = SDAGD(net2.parameters(), lr=LR, radius=R, eps=0.0, layers=[("A", list(net2[0].parameters())), ("B", [net2[1].weight])])
    opt2.set_curvature(h2)
    opt2.step()
    assert opt2.stats.layers == ("A", "B") and opt2.stats.mu.tolist() == pytest.approx([26.0, 2.0])


def test_stats_record_stays_valid_after_the_next_step():
    net, h = two_layers()
    opt = SDAGD(net, lr=LR, radius=R, eps=0.0, beta=0.5)
    opt.set_curvature(h)
    opt.step()
    first = opt.stats
    opt.set_curvature({p: torch.full_like(v, 100.0) for p, v in h.items()})
    for p in net.parameters():
        p.grad = torch.ones_like(p)
    opt.step()
    assert first.median_h.tolist() == pytest.approx([1.0, 4.0])
    assert opt.stats is not first and opt.stats.step == 2


def test_added_param_groups_and_a_loaded_state_take_effect():
    net, h = two_layers()
    opt = SDAGD(net, lr=LR, radius=R, eps=0.0)
    opt.set_curvature(h)
    opt.step()
    extra = nn.Parameter(torch.zeros(3, dtype=torch.float64))
    opt.add_param_group({"params": [extra], "radius": 2.0})
    opt.load_state_dict(opt.state_dict())  # replaces the param-group dicts
    opt.param_groups[1]["lr"] = 0.25
    extra.grad = torch.tensor([3.0, 0.0, 4.0], dtype=torch.float64)  # ‖g‖ = 5, h = 0: step 0.25·2·g/5
    opt.step()
    assert extra.detach().tolist() == pytest.approx([-0.3, 0.0, -0.4])
    assert opt.stats.layers == ("0", "1", "group1.param0")


# --------------------------------------------------------------------------- registry, engine, CLI


def test_registry_entry_defaults_and_validation():
    assert default_lr("sdagd") == 1.0
    name, options = canonical("sdagd(radius=0.3, curvature='lecun', granularity='layer')")
    assert name == "sdagd"
    assert options == {"radius": 0.3, "eps": 1e-8, "beta": 0.0, "switch": "auto", "granularity": "layer", "curvature": "lecun"}
    opt = build_optimizer([nn.Parameter(torch.zeros(2))], "sdagd(granularity='weight', curvature='ggn')", 1.0)
    assert isinstance(opt, SDAGD) and opt.granularity == "weight" and opt.curvature == "ggn"
    for bad, match in [
        ("sdagd(radius=0)", "radius"),
        ("sdagd(beta=1.0)", "beta"),
        ("sdagd(granularity='unit')", "global, layer, weight"),
        ("sdagd(curvature='kfac')", "lecun, ggn"),
        ("sdagd(switch='on')", "auto, explicit"),
        ("sdagd(rho=0.9)", "valid"),
    ]:
        with pytest.raises(ConfigError, match=match):
            canonical(bad)


def sdagd_config(**overrides):
    base = {
        "data.dataset": "mnist-sample",
        "data.train_subset": 1000,
        "model.hidden": [32, 32, 32],
        "model.activation": "sigmoid",
        "model.output": "sigmoid",
        "model.init": "xavier_normal",
        "optim.loss": "mse",
        "optim.optimizer": "sdagd",
        "train.epochs": 3,
        "train.batch_size": 50,
        "probes.enabled": ["none"],
    }
    base.update(overrides)
    return resolve(with_overrides(RunConfig(), base))


@pytest.fixture(scope="module")
def sample_data():
    from vanishing.config import ExecConfig
    from vanishing.runner import load_run_data

    return load_run_data(sdagd_config(), ExecConfig(device="cpu"))


def strip_times(history):
    return [{k: v for k, v in h.items() if not k.endswith("time_s")} for h in history]


def test_engine_trains_a_deep_sigmoid_net_deterministically(sample_data):
    cfg = sdagd_config(**{"train.epochs": 4})
    a = fit(cfg, sample_data)
    b = fit(cfg, sample_data)
    assert a.status == "done"
    assert strip_times(a.history) == strip_times(b.history)
    losses = [h["train_loss"] for h in a.history]
    assert losses[-1] < 0.65 * losses[0]  # measured: 0.563 → 0.348
    assert a.history[-1]["test_acc"] > 0.35  # measured 0.44 (chance 0.1)
    sgd = fit(sdagd_config(**{"train.epochs": 4, "optim.optimizer": "sgd", "optim.lr": 0.5}), sample_data)
    assert sgd.history[-1]["train_loss"] > 0.44  # the vanishing gradient: plain SGD sits on the plateau (0.45)


@pytest.mark.parametrize("spec", ["sdagd(curvature='ggn', granularity='global')", "sdagd(beta=0.9, switch='explicit')"])
def test_engine_runs_every_option_and_resumes_to_the_same_metrics(sample_data, spec):
    from vanishing.train import Callback

    class InterruptAt(Callback):
        def on_step_end(self, ctx, info):
            if info.step == 25:
                raise KeyboardInterrupt

    cfg = sdagd_config(**{"optim.optimizer": spec, "train.epochs": 2, "model.batch_norm": "before"})
    reference = fit(cfg, sample_data)
    sink = MemorySink()
    assert fit(cfg, sample_data, sink, callbacks=[InterruptAt()]).status == "interrupted"
    resumed = fit(cfg, sample_data, sink)
    assert strip_times(resumed.history) == strip_times(reference.history)


def test_a_loss_without_a_gauss_newton_matrix_is_refused_before_training(tmp_path):
    with pytest.raises(ConfigError, match="not convex"):
        sdagd_config(**{"optim.loss": "ce", "model.output": "sigmoid"})  # resolve() refuses it
    from vanishing.cli import main

    results = tmp_path / "res"
    assert main(["run", "--optimizer", "sdagd", "--output", "sigmoid", "--results", str(results)]) == 2
    assert not results.exists()


def test_cli_radius_and_curvature_go_into_the_optimizer_spec():
    from vanishing.cli import build_parser, configs_from_args

    parser = build_parser()
    args = parser.parse_args(["run", "--optimizer", "sdagd(granularity='weight')", "--radius", "0.2", "--curvature", "ggn"])
    config, _ = configs_from_args(args)
    assert canonical(config.optim.optimizer) == canonical("sdagd(radius=0.2, curvature='ggn', granularity='weight')")
    args = parser.parse_args(["run", "--optimizer", "adam", "--radius", "0.2"])
    with pytest.raises(ConfigError, match="sdagd"):
        configs_from_args(args)


def test_user_loop_recipe_trains_an_nn_sequential():
    torch.manual_seed(0)
    x = torch.randn(256, 6)
    y = (x[:, 0] + x[:, 1] > 0).long() + (x[:, 2] > 1).long()
    net = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3))
    opt = SDAGD(net, radius=0.3)
    first = None
    for _ in range(60):
        loss = nn.functional.cross_entropy(net(x), y)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.compute_curvature(net, x, loss="ce", output="softmax")
        opt.step()
    with torch.no_grad():
        assert float(nn.functional.cross_entropy(net(x), y)) < 0.5 * first
    assert opt.stats.layers == ("0", "2", "4")


# --------------------------------------------------------------------------- curvature="none": the ablation backend


def test_none_backend_gives_the_per_layer_normalised_step_by_hand():
    """h = 0: θ ← θ − lr·g/(‖g_l‖/R + ε) per layer, checked in float64 through the engine's prepare() path."""
    from vanishing.config import ModelConfig
    from vanishing.losses import make_loss
    from vanishing.model import build_model
    from vanishing.optim import curvature
    from vanishing.train import StepInfo

    model = build_model(ModelConfig(hidden=[5, 4], activation="sigmoid", output="sigmoid"), 3, 2, seed=0).double()
    x = torch.randn(8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 2, (8,), generator=torch.Generator().manual_seed(2))
    loss_fn = make_loss("mse", "sigmoid", 2)
    z, pre, post = model.forward_with_intermediates(x)
    loss = loss_fn(z, y)
    loss.backward()
    h = curvature.from_step(model, StepInfo(1, 0, x, y, z, loss, pre, post), loss_fn, "none")
    assert set(h) == set(model.parameters()) and all(float(v.abs().max()) == 0.0 for v in h.values())
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    grads = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
    opt = SDAGD(model, lr=LR, radius=R, eps=1e-8, curvature="none")
    opt.prepare(model, StepInfo(1, 0, x, y, z, loss, pre, post), loss_fn)
    opt.step()
    for layer in ("hidden1.linear", "hidden2.linear", "output"):
        names = [f"{layer}.weight", f"{layer}.bias"]
        norm = math.sqrt(sum(float((grads[n] ** 2).sum()) for n in names))
        for n in names:
            want = before[n] - LR * grads[n] / (norm / R + 1e-8)
            torch.testing.assert_close(dict(model.named_parameters())[n].detach(), want, rtol=1e-12, atol=1e-15)
        # the step of each layer has length lr·‖g_l‖/(‖g_l‖/R + ε) ≈ lr·R whatever its gradient's size
        step = math.sqrt(sum(float(((dict(model.named_parameters())[n].detach() - before[n]) ** 2).sum()) for n in names))
        assert step == pytest.approx(LR * norm / (norm / R + 1e-8), rel=1e-10)
        assert step == pytest.approx(LR * R, rel=1e-4)


def test_none_backend_needs_no_supported_architecture_and_trains_in_the_engine(sample_data):
    from vanishing.optim import curvature

    conv = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 3))  # blocks_of() refuses a conv net
    h = curvature.diagonal(conv, torch.randn(4, 1, 4, 4), "ce", backend="none")
    assert [tuple(v.shape) for v in h.values()] == [tuple(p.shape) for p in conv.parameters()]
    with pytest.raises(curvature.CurvatureError):
        curvature.diagonal(conv, torch.randn(4, 1, 4, 4), "ce", backend="lecun")
    result = fit(sdagd_config(**{"train.epochs": 3, "optim.optimizer": "sdagd(curvature='none')"}), sample_data)
    losses = [row["train_loss"] for row in result.history]
    assert result.status == "done" and losses[-1] < 0.8 * losses[0]


def test_cli_accepts_the_none_curvature():
    from vanishing.cli import build_parser, configs_from_args

    args = build_parser().parse_args(["run", "--optimizer", "sdagd", "--curvature", "none"])
    config, _ = configs_from_args(args)
    assert canonical(config.optim.optimizer)[1]["curvature"] == "none"
