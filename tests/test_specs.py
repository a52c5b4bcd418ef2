"""Typed specs: ``config.resolve`` parses every component string once (issue 15, "parse once")."""

import copy
import dataclasses
import json
import pickle
import sys

import pytest

import vanishing.callspec as callspec
from vanishing import fused_step
from vanishing.callspec import Spec, as_call
from vanishing.config import RunConfig, config_hash, resolve, to_dict, with_overrides
from vanishing.model import build_model
from vanishing.optim import build_optimizer
from vanishing.schedules import lr_factor

OVERRIDES = {
    "model.hidden": [8, 8],
    "model.activation": "leaky_relu(alpha=0.1)",
    "model.init": "orthogonal(gain=1)",
    "model.bias_init": "constant(value=0.1)",
    "optim.optimizer": "sgd(momentum=0.9)",
    "optim.schedule": "exponential(gamma=0.99)",
}


def _resolved() -> RunConfig:
    return resolve(with_overrides(RunConfig(), OVERRIDES))


def _specs(c: RunConfig) -> dict[str, Spec]:
    return {
        "activation": c.model.activation, "init": c.model.init, "bias_init": c.model.bias_init,
        "optimizer": c.optim.optimizer, "schedule": c.optim.schedule,
    }


def test_resolve_returns_typed_specs_equal_to_their_canonical_text():
    s = _specs(_resolved())
    assert s["activation"] == "leaky_relu(alpha=0.1)" and s["activation"].name == "leaky_relu"
    assert s["init"] == "orthogonal(gain=1.0)" and s["init"].kwargs == {"gain": 1.0}
    assert isinstance(s["init"].kwargs["gain"], float)  # typed: the int literal became the float it stands for
    assert s["bias_init"] == "constant(value=0.1)"
    assert s["optimizer"].name == "sgd" and s["optimizer"].kwargs["momentum"] == 0.9
    assert s["schedule"] == "exponential(gamma=0.99)" and s["schedule"].kind == "schedule"
    for kind, spec in s.items():
        assert isinstance(spec, Spec) and isinstance(spec, str) and spec.kind == kind
        assert hash(spec) == hash(str(spec)) and {str(spec): 1}[spec] == 1


def test_specs_are_frozen():
    spec = _resolved().optim.optimizer
    with pytest.raises(AttributeError):
        spec.name = "adam"
    with pytest.raises(TypeError):
        spec.kwargs["momentum"] = 0.0
    with pytest.raises(AttributeError):
        del spec.kind


def test_specs_survive_pickle_deepcopy_and_json():
    c = _resolved()
    for spec in _specs(c).values():
        for back in (pickle.loads(pickle.dumps(spec)), copy.deepcopy(spec), copy.copy(spec)):
            assert isinstance(back, Spec) and back == spec
            assert (back.name, dict(back.kwargs), back.kind) == (spec.name, dict(spec.kwargs), spec.kind)
        assert json.loads(json.dumps(spec)) == str(spec)
    again = pickle.loads(pickle.dumps(c))
    assert again == c and config_hash(again) == config_hash(c)
    assert json.dumps(to_dict(c)) == json.dumps(dataclasses.asdict(c))
    assert type(json.loads(json.dumps(to_dict(c)))["optim"]["optimizer"]) is str


def test_resolve_is_idempotent_on_specs():
    c = _resolved()
    assert resolve(c) == c and config_hash(resolve(c)) == config_hash(c)


def test_raw_strings_still_parse():
    assert as_call("sgd(momentum=0.5)", "f").kwargs == {"momentum": 0.5}
    assert lr_factor("step(step_size=2, gamma=0.5)", 3) == 0.5


def test_builders_do_not_parse_again_after_resolve(monkeypatch):
    original = callspec.parse_call
    calls = []

    def counting(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    for name, module in list(sys.modules.items()):  # also modules that imported the name directly
        if name.startswith("vanishing") and getattr(module, "parse_call", None) is original:
            monkeypatch.setattr(module, "parse_call", counting)
    c = _resolved()
    assert calls, "resolve parses the raw strings (the counter is wired)"
    calls.clear()
    # what train.fit does with a resolved config (the runner resolves, then calls fit)
    model = build_model(c.model, 4, 3, c.seed)
    build_optimizer(model.parameters(), c.optim.optimizer, c.optim.lr)
    fused_step.applies_to(c)
    for epoch in range(5):
        lr_factor(c.optim.schedule, epoch)
    c.model.init.kwargs  # noqa: B018
    assert calls == []
