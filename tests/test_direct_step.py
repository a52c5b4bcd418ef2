"""direct_step: the fused Adam/AdamW kernel without torch.optim's Python, bitwise equal to optimizer.step()."""

import copy

import pytest
import torch

from vanishing.optim.direct_step import direct_step


def _params(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(5, 4, generator=g)), torch.nn.Parameter(torch.randn(5, generator=g))]


def _grads(step):
    g = torch.Generator().manual_seed(100 + step)
    return [torch.randn(5, 4, generator=g), torch.randn(5, generator=g)]


def _run(make, use_direct, steps=12):
    params = _params()
    opt = make(params)
    taken = []
    for s in range(steps):
        for p, g in zip(params, _grads(s)):
            p.grad = g.clone()
        taken.append(use_direct and direct_step(opt))
        if not taken[-1]:
            opt.step()
    return params, opt, taken


OPTIMIZERS = {
    "adam": lambda ps: torch.optim.Adam(ps, lr=0.01, fused=True),
    "adam-amsgrad-wd-maximize": lambda ps: torch.optim.Adam(ps, lr=0.01, fused=True, amsgrad=True, weight_decay=0.1, maximize=True),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=0.01, fused=True, betas=(0.8, 0.99), eps=1e-6),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_direct_steps_are_bitwise_equal_to_optimizer_step(name):
    ref, ref_opt, _ = _run(OPTIMIZERS[name], False)
    got, got_opt, taken = _run(OPTIMIZERS[name], True)
    assert taken == [False] + [True] * 11  # the first step creates the state through torch
    for p, q in zip(got, ref):
        assert torch.equal(p, q)
    ref_state, got_state = ref_opt.state_dict()["state"], got_opt.state_dict()["state"]
    for k in ref_state:
        for key, value in ref_state[k].items():
            assert torch.equal(got_state[k][key], value), (k, key)


def test_a_reloaded_optimizer_continues_identically():
    params, opt, _ = _run(OPTIMIZERS["adam"], True, steps=5)
    twin = [torch.nn.Parameter(p.detach().clone()) for p in params]
    twin_opt = torch.optim.Adam(twin, lr=0.01, fused=True)
    twin_opt.load_state_dict(copy.deepcopy(opt.state_dict()))  # as from a checkpoint file
    for s in range(5, 9):
        for a, b, g in zip(params, twin, _grads(s)):
            a.grad, b.grad = g.clone(), g.clone()
        assert direct_step(opt) and direct_step(twin_opt)
    for a, b in zip(params, twin):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: torch.optim.SGD(ps, lr=0.1),
        lambda ps: torch.optim.Adam(ps, lr=0.01, foreach=True),
        lambda ps: torch.optim.Adam(ps, lr=torch.tensor(0.01), fused=True),
        lambda ps: torch.optim.Adam([{"params": ps[:1]}, {"params": ps[1:]}], lr=0.01, fused=True),
    ],
    ids=["sgd", "not-fused", "tensor-lr", "two-groups"],
)
def test_other_optimizers_are_left_to_their_own_step(make):
    params = _params()
    opt = make(params)
    for p, g in zip(params, _grads(0)):
        p.grad = g
    opt.step()
    before = [p.detach().clone() for p in params]
    assert direct_step(opt) is False
    assert all(torch.equal(p, b) for p, b in zip(params, before))


def test_hooks_and_missing_gradients_fall_back():
    params = _params()
    opt = torch.optim.Adam(params, lr=0.01, fused=True)
    for p, g in zip(params, _grads(0)):
        p.grad = g
    opt.step()
    handle = opt.register_step_post_hook(lambda *a: None)
    assert direct_step(opt) is False
    handle.remove()
    params[1].grad = None
    assert direct_step(opt) is False
