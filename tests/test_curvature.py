"""Diagonal Gauss–Newton curvature: both backends against independent brute-force computations in float64.

* ``lecun`` against a hand-written per-example Python loop of the recursion
  (plain MLPs) and against the node-by-node rule D_in,i = Σ_j J_ji² D_out,j with
  every Jacobian taken by autograd (batch norm, layer norm, residual, PReLU).
* ``ggn`` against diag((1/N) Σ_n J_nᵀ H_n J_n) with J_n the full autograd
  Jacobian of the network outputs and H_n the autograd Hessian of the loss
  at its convex split point (z for ce and bce, y = φ(z) for mse).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from vanishing.errors import ConfigError
from vanishing.losses import make_loss
from vanishing.model import MLP
from vanishing.optim import curvature

TORCH_ACT = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}
CASES = [("ce", "softmax"), ("mse", "sigmoid"), ("mse", "linear"), ("mse", "softmax"), ("bce", "sigmoid")]


def tiny(activation="sigmoid", seed=0, n_out=3, **kwargs) -> MLP:
    torch.manual_seed(seed)
    model = MLP(4, [5, 5], n_out, activation=activation, **kwargs).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p))  # O(1) weights: saturated units and dead ReLUs both occur
    return model


def batch(n=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (n,), generator=g)


def assert_same(got: dict, want: dict, model: nn.Module, rtol=1e-9, atol=1e-12):
    for name, p in model.named_parameters():
        assert p in got, f"no curvature for {name}"
        torch.testing.assert_close(got[p], want[name], rtol=rtol, atol=atol, msg=lambda m, name=name: f"{name}: {m}")
        assert (got[p] >= 0).all(), name


# --------------------------------------------------------------------------- lecun: per-example loop


def fprime(act: str, value: float) -> float:
    a = torch.tensor(value, dtype=torch.float64, requires_grad=True)
    (d,) = torch.autograd.grad(TORCH_ACT[act](a), a)
    return float(d)


def output_diag_loop(loss: str, output: str, z: list[float]) -> list[float]:
    """diag of the Gauss–Newton Hessian in z, written out per output unit."""
    k_out = len(z)
    if output == "softmax":
        e = [math.exp(v - max(z)) for v in z]
        p = [v / sum(e) for v in e]
        if loss == "ce":
            return [p[k] * (1 - p[k]) for k in range(k_out)]
        jac = [[(p[j] if j == k else 0.0) - p[j] * p[k] for k in range(k_out)] for j in range(k_out)]
        return [sum(jac[j][k] ** 2 for j in range(k_out)) for k in range(k_out)]  # mse: Σ_j (∂y_j/∂z_k)²
    if output == "linear":
        return [1.0] * k_out
    s = [1 / (1 + math.exp(-v)) for v in z]
    if loss == "bce":
        return [s[k] * (1 - s[k]) / k_out for k in range(k_out)]
    return [(s[k] * (1 - s[k])) ** 2 for k in range(k_out)]  # ½(d − y)²: ∂²E/∂y² = 1


def lecun_loop(model: MLP, x: torch.Tensor, loss: str, output: str, act: str) -> dict[str, torch.Tensor]:
    linears = [layer.linear for layer in model.hidden_layers] + [model.output]
    names = [f"hidden{i + 1}.linear" for i in range(len(linears) - 1)] + ["output"]
    h = {f"{n}.{k}": torch.zeros_like(getattr(lin, k)) for n, lin in zip(names, linears) for k in ("weight", "bias")}
    n_examples = len(x)
    for n in range(n_examples):
        ys, pre = [x[n].tolist()], []
        for l, lin in enumerate(linears):
            w, b = lin.weight.tolist(), lin.bias.tolist()
            a = [sum(w[i][j] * ys[-1][j] for j in range(len(ys[-1]))) + b[i] for i in range(len(b))]
            pre.append(a)
            if l < len(linears) - 1:
                ys.append([float(TORCH_ACT[act](torch.tensor(v, dtype=torch.float64))) for v in a])
        d = output_diag_loop(loss, output, pre[-1])
        for l in range(len(linears) - 1, -1, -1):
            w = linears[l].weight.tolist()
            hw, hb = h[f"{names[l]}.weight"], h[f"{names[l]}.bias"]
            for i in range(len(d)):
                hb[i] += d[i] / n_examples
                for j in range(len(ys[l])):
                    hw[i, j] += d[i] * ys[l][j] ** 2 / n_examples
            if l == 0:
                break
            d_y = [sum(d[i] * w[i][j] ** 2 for i in range(len(d))) for j in range(len(ys[l]))]
            d = [fprime(act, pre[l - 1][j]) ** 2 * d_y[j] for j in range(len(d_y))]
    return h


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("loss,output", CASES)
def test_lecun_equals_the_per_example_loop(act, loss, output):
    model = tiny(act)
    x, _ = batch()
    got = curvature.diagonal(model, x, loss, output, backend="lecun")
    assert_same(got, lecun_loop(model, x, loss, output, act), model)


# --------------------------------------------------------------------------- ggn: full autograd Jacobians


def ggn_bruteforce(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: str, output: str) -> dict[str, torch.Tensor]:
    """diag((1/N) Σ_n J_nᵀ H_n J_n) with every derivative from torch.autograd."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    sizes = [p.numel() for _, p in model.named_parameters()]
    buffers = dict(model.named_buffers())
    theta = torch.cat([p.detach().reshape(-1) for _, p in model.named_parameters()])
    split_at_y = loss == "mse"  # ½‖d − φ(z)‖² is convex in y = φ(z): the Gauss–Newton split

    def outputs(flat):
        params = dict(zip(names, (c.reshape(s) for c, s in zip(flat.split(sizes), shapes))))
        z = functional_call(model, {**params, **buffers}, (x,))
        if not split_at_y:
            return z
        return {"sigmoid": torch.sigmoid, "linear": lambda t: t, "softmax": lambda t: torch.softmax(t, 1)}[output](z)

    jac = torch.autograd.functional.jacobian(outputs, theta)  # [N, K, P]
    out = outputs(theta).detach()
    k_out = out.shape[1]
    total = torch.zeros(theta.numel(), theta.numel(), dtype=theta.dtype)
    for n in range(len(x)):
        d = F.one_hot(y[n], k_out).to(theta.dtype)
        if loss == "ce":
            def fn(o, t=y[n : n + 1]):
                return F.cross_entropy(o[None], t)
        elif loss == "bce":
            def fn(o, d=d):
                return F.binary_cross_entropy_with_logits(o, d).mean()
        else:
            def fn(o, d=d):
                return 0.5 * (d - o).square().sum()
        hess = torch.autograd.functional.hessian(fn, out[n])
        total += jac[n].T @ hess @ jac[n]
    diag = (total.diagonal() / len(x)).split(sizes)
    return {name: v.reshape(s) for name, v, s in zip(names, diag, shapes)}


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("loss,output", CASES)
def test_ggn_equals_the_autograd_gauss_newton_diagonal(act, loss, output):
    model = tiny(act)
    x, y = batch()
    got = curvature.diagonal(model, x, loss, output, backend="ggn")
    assert_same(got, ggn_bruteforce(model, x, y, loss, output), model)


def test_ggn_and_lecun_agree_on_one_layer_and_differ_on_two():
    """With one Linear the recursion has no off-diagonal term to drop, so the two backends coincide."""
    x, _ = batch()
    shallow = nn.Sequential(nn.Linear(4, 3)).double()
    a = curvature.diagonal(shallow, x, "mse", "sigmoid", backend="lecun")
    b = curvature.diagonal(shallow, x, "mse", "sigmoid", backend="ggn")
    for p in shallow.parameters():
        torch.testing.assert_close(a[p], b[p])
    deep = tiny("tanh")
    a = curvature.diagonal(deep, x, "ce", "softmax", backend="lecun")
    b = curvature.diagonal(deep, x, "ce", "softmax", backend="ggn")
    assert not torch.allclose(a[deep.hidden1.linear.weight], b[deep.hidden1.linear.weight])


# --------------------------------------------------------------------------- norms, residuals, PReLU


VARIANTS = [
    {"batch_norm": "before"},
    {"batch_norm": "after"},
    {"layer_norm": True},
    {"residual": True},
    {"layer_norm": True, "residual": True, "batch_norm": "after"},
]


def with_random_norms(model: MLP, eval_mode: bool) -> MLP:
    g = torch.Generator().manual_seed(5)
    for layer in model.hidden_layers:
        if layer.norm is not None:
            layer.norm.running_mean.copy_(torch.randn(layer.norm.num_features, generator=g, dtype=torch.float64))
            layer.norm.running_var.copy_(torch.rand(layer.norm.num_features, generator=g, dtype=torch.float64) + 0.5)
    return model.eval() if eval_mode else model.train()


@pytest.mark.parametrize("variant", VARIANTS + [{"activation": "prelu"}, {"activation": "prelu(per_unit=True)"}])
@pytest.mark.parametrize("loss,output", [("ce", "softmax"), ("mse", "sigmoid")])
def test_ggn_is_exact_with_norms_residuals_and_prelu(variant, loss, output):
    """Eval-mode batch norm is a fixed affine map, so ggn is the exact GGN diagonal here."""
    variant = dict(variant)
    model = with_random_norms(tiny(variant.pop("activation", "tanh"), **variant), eval_mode=True)
    x, y = batch()
    got = curvature.diagonal(model, x, loss, output, backend="ggn")
    assert_same(got, ggn_bruteforce(model, x, y, loss, output), model)


def test_train_mode_batch_norm_is_the_fixed_affine_map_of_the_batch_statistics():
    """ggn in training mode = exact GGN of the same net whose BN uses this batch's statistics as constants."""
    model = tiny("sigmoid", batch_norm="before").train()
    x, y = batch(n=8)
    got = curvature.diagonal(model, x, "ce", "softmax", backend="ggn")
    assert model.hidden1.norm.num_batches_tracked == 0  # running statistics untouched
    frozen = tiny("sigmoid", batch_norm="before")
    frozen.load_state_dict(model.state_dict())
    h = x
    for layer, twin in zip(model.hidden_layers, frozen.hidden_layers):
        u = layer.linear(h).detach()
        twin.norm.running_mean.copy_(u.mean(0))
        twin.norm.running_var.copy_(u.var(0, unbiased=False))
        h = layer(h).detach()
    frozen.eval()
    want = ggn_bruteforce(frozen, x, y, "ce", "softmax")
    by_name = dict(model.named_parameters())
    for name, v in want.items():
        torch.testing.assert_close(got[by_name[name]], v, rtol=1e-9, atol=1e-12)


def lecun_node_rule(model: MLP, x: torch.Tensor, loss: str, output: str) -> dict[str, torch.Tensor]:
    """lecun by the generic rule: per example, D_in = (J²)ᵀ D_out at every node, J from autograd."""
    jac = torch.autograd.functional.jacobian
    named = {p: n for n, p in model.named_parameters()}
    h = {n: torch.zeros_like(p) for n, p in model.named_parameters()}

    def push(fn, inp, params, d_out):
        """D at the node's input and, through h, at its parameters (J² rule)."""
        for p in params:
            if p is None:
                continue
            jp = jac(lambda q, p=p: fn(inp, {id(p): q}), p.detach()).reshape(d_out.numel(), -1)
            h[named[p]] += ((jp.square().T @ d_out) / len(x)).reshape(p.shape)
        ji = jac(lambda v: fn(v, {}), inp).reshape(d_out.numel(), -1)
        return ji.square().T @ d_out

    def pick(p, over):
        return over.get(id(p), p.detach()) if p is not None else None

    for n in range(len(x)):
        acts, h_in = [], x[n : n + 1]
        for layer in model.hidden_layers:  # forward, keeping each node's input
            nodes = []
            v = h_in

            def lin(t, over, l=layer.linear):
                return F.linear(t, pick(l.weight, over), pick(l.bias, over))

            nodes.append((lin, v, [layer.linear.weight, layer.linear.bias]))
            v = lin(v, {})
            for where in ("before", "ln", "act", "after"):
                if where in ("before", "after") and layer.batch_norm == where:
                    bn = layer.norm

                    def norm(t, over, bn=bn):
                        return (t - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * pick(bn.weight, over) + pick(bn.bias, over)

                    nodes.append((norm, v, [bn.weight, bn.bias]))
                    v = norm(v, {})
                elif where == "ln" and layer.layer_norm is not None:
                    ln = layer.layer_norm

                    def lnorm(t, over, ln=ln):
                        return F.layer_norm(t, ln.normalized_shape, pick(ln.weight, over), pick(ln.bias, over), ln.eps)

                    nodes.append((lnorm, v, [ln.weight, ln.bias]))
                    v = lnorm(v, {})
                elif where == "act":
                    slope = getattr(layer.act, "weight", None)

                    def act(t, over, m=layer.act, slope=slope):
                        return F.prelu(t, pick(slope, over)) if slope is not None else m(t)

                    nodes.append((act, v, [slope]))
                    v = act(v, {})
            acts.append((nodes, h_in, layer.residual))
            h_in = (h_in + v) if layer.residual else v
        z = model.output(h_in)
        d = curvature.output_diagonal(make_loss(loss, output, z.shape[1]), z.detach())[0]
        d = push(lambda t, over: F.linear(t, pick(model.output.weight, over), pick(model.output.bias, over)),
                 h_in.detach(), [model.output.weight, model.output.bias], d)
        for nodes, _, residual in reversed(acts):
            skip = d
            for fn, inp, params in reversed(nodes):
                d = push(fn, inp.detach(), params, d)
            if residual:
                d = d + skip
    return h


@pytest.mark.parametrize("variant", VARIANTS + [{"activation": "prelu"}, {"activation": "prelu(per_unit=True)"}])
def test_lecun_follows_the_node_by_node_rule_with_norms_residuals_and_prelu(variant):
    variant = dict(variant)
    model = with_random_norms(tiny(variant.pop("activation", "sigmoid"), **variant), eval_mode=True)
    x, _ = batch()
    got = curvature.diagonal(model, x, "mse", "sigmoid", backend="lecun")
    assert_same(got, lecun_node_rule(model, x, "mse", "sigmoid"), model)


# --------------------------------------------------------------------------- user models and errors


def test_sequential_and_mlp_give_the_same_curvature():
    model = tiny("tanh")
    seq = nn.Sequential(model.hidden1.linear, nn.Tanh(), model.hidden2.linear, nn.Tanh(), model.output)
    x, _ = batch()
    for backend in curvature.BACKENDS:
        a = curvature.diagonal(model, x, "ce", backend=backend)
        b = curvature.diagonal(seq, x, "ce", backend=backend)
        for p in seq.parameters():
            torch.testing.assert_close(a[p], b[p])


def test_engine_intermediates_give_the_same_curvature_as_a_fresh_forward():
    from vanishing.train import StepInfo

    model = tiny("relu", residual=True)
    x, y = batch()
    z, pre, post = model.forward_with_intermediates(x)
    info = StepInfo(1, 0, x, y, z, z.sum(), pre, post)
    loss = make_loss("mse", "sigmoid", 3)
    a = curvature.from_step(model, info, loss, "ggn")
    b = curvature.diagonal(model, x, loss, backend="ggn")
    for p in model.parameters():
        torch.testing.assert_close(a[p], b[p])


@pytest.mark.parametrize("output", ["sigmoid", "relu"])
def test_non_convex_loss_output_pairs_are_refused(output):
    model = tiny()
    with pytest.raises(ConfigError, match="not convex"):
        curvature.diagonal(model, batch()[0], "ce", output)


@pytest.mark.parametrize(
    "seq,match",
    [
        (nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1)), "nn.Sequential"),
        (nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5), nn.Linear(3, 2)), "Dropout"),
        (nn.Sequential(nn.Conv1d(1, 1, 1)), "Conv1d"),
    ],
)
def test_unsupported_user_models_fail_with_a_clear_message(seq, match):
    with pytest.raises(ConfigError, match=match):
        curvature.diagonal(seq.double(), batch()[0], "ce")


def test_unknown_backend_is_refused():
    with pytest.raises(ConfigError, match="lecun, ggn"):
        curvature.diagonal(tiny(), batch()[0], "ce", backend="kfac")
