"""Config parsing, validation messages, canonical form and identity."""

import pytest

from vanishing.config import (
    RunConfig,
    config_from_dict,
    config_hash,
    resolve,
    run_id,
    with_overrides,
)
from vanishing.errors import ConfigError


def test_defaults_resolve_and_fill_the_learning_rate():
    c = resolve(RunConfig())
    assert c.optim.lr == 1e-3  # adam default
    assert c.optim.optimizer.startswith("adam(") and "beta1=0.9" in c.optim.optimizer
    assert c.optim.schedule == "constant"


@pytest.mark.parametrize(
    "optimizer,lr", [("sgd", 0.01), ("adagrad", 0.01), ("adadelta", 1.0), ("rmsprop", 1e-3), ("adam", 1e-3), ("adamw", 1e-3)]
)
def test_default_learning_rates_follow_the_spec(optimizer, lr):
    assert resolve(with_overrides(RunConfig(), {"optim.optimizer": optimizer})).optim.lr == lr


def test_equivalent_spellings_have_the_same_identity():
    a = resolve(with_overrides(RunConfig(), {"optim.optimizer": "sgd", "model.activation": "swish"}))
    b = resolve(with_overrides(RunConfig(), {"optim.optimizer": "sgd(momentum=0.0)", "optim.lr": 0.01, "model.activation": "silu"}))
    assert config_hash(a) == config_hash(b)
    assert run_id(a) == run_id(b)


def test_seed_is_not_in_the_hash_but_in_the_run_id():
    a = resolve(RunConfig(seed=1))
    b = resolve(RunConfig(seed=2))
    assert config_hash(a) == config_hash(b)
    assert run_id(a) != run_id(b) and run_id(a).endswith("-s1")


def test_result_affecting_fields_change_the_hash():
    base = resolve(RunConfig())
    for path, value in [("model.hidden", [64]), ("optim.lr", 0.5), ("data.val_fraction", 0.2), ("train.batch_size", 32)]:
        assert config_hash(resolve(with_overrides(base, {path: value}))) != config_hash(base), path


def test_from_dict_and_hidden_as_text():
    c = config_from_dict({"model": {"hidden": "700,700,700", "activation": "sigmoid"}, "seed": 3})
    assert c.model.hidden == (700, 700, 700) and c.seed == 3


def test_per_layer_activations_collapse_when_equal():
    c = resolve(with_overrides(RunConfig(), {"model.hidden": [8, 8], "model.activation": ["relu", "relu"]}))
    assert c.model.activation == "relu"
    c = resolve(with_overrides(RunConfig(), {"model.hidden": [8, 8], "model.activation": ["relu", "tanh"]}))
    assert c.model.activation == ("relu", "tanh")


@pytest.mark.parametrize(
    "raw,message",
    [
        ({"model": {"hiden": [1]}}, r"model: unknown field 'hiden' \(valid: .*hidden"),
        ({"modle": {}}, r"config: unknown section 'modle'"),
        ({"model": {"hidden": [128, 0]}}, r"model.hidden: layer widths must be positive integers, got 0 for hidden2"),
        ({"model": {"hidden": [128, -3]}}, r"model.hidden: .*positive"),
        ({"model": {"hidden": "12a"}}, r"model.hidden: expected comma-separated integers"),
        ({"model": {"activation": "relux"}}, r"model.activation: .*relux.*sigmoid"),
        ({"model": {"activation": ["relu", "tanh", "relu"]}}, r"model.activation: got 3 activations for 2 hidden layers"),
        ({"model": {"output": "tanh"}}, r"model.output: unknown output 'tanh'"),
        ({"model": {"batch_norm": "middle"}}, r"model.batch_norm: expected one of off, before, after"),
        ({"model": {"residual": True, "hidden": [10, 20]}}, r"model.residual"),
        ({"optim": {"lr": 0}}, r"optim.lr: expected a positive learning rate, got 0"),
        ({"optim": {"lr": -1.0}}, r"optim.lr: expected a positive learning rate"),
        ({"optim": {"lr": "fast"}}, r"optim.lr: expected a number"),
        ({"optim": {"optimizer": "lbfgs"}}, r"optim.optimizer: unknown optimizer 'lbfgs' \(valid: sgd, adagrad"),
        ({"optim": {"optimizer": "sgd(momentum=1.5)"}}, r"momentum must lie in \[0, 1\)"),
        ({"optim": {"optimizer": "sgd(nesterov=True)"}}, r"nesterov=True\) needs momentum > 0"),
        ({"optim": {"optimizer": "adam(bogus=1)"}}, r"adam has no parameter 'bogus'"),
        ({"optim": {"loss": "mse"}, "model": {"output": "relu"}}, r"model.output: 'relu' is not valid with loss 'mse'"),
        ({"optim": {"schedule": "cosine"}}, r"optim.schedule: unknown schedule 'cosine'"),
        ({"optim": {"schedule": "exponential(gamma=2)"}}, r"gamma must lie in \(0, 1\]"),
        ({"train": {"epochs": 0}}, r"train.epochs: expected a positive integer, got 0"),
        ({"train": {"batch_size": 2.5}}, r"train.batch_size: expected an integer"),
        ({"train": {"monitor": "test_acc"}}, r"train.monitor"),
        ({"data": {"val_fraction": 1.0}}, r"data.val_fraction: expected a number in \[0, 1\)"),
        ({"data": {"dataset": "imagenet"}}, r"data.dataset: unknown data set 'imagenet'"),
        ({"seed": -1}, r"seed: expected a non-negative integer"),
        ({"seed": True}, r"seed: expected an integer"),
    ],
)
def test_bad_configs_name_the_field(raw, message):
    with pytest.raises(ConfigError, match=message) as info:
        resolve(config_from_dict(raw))
    assert "\n" not in str(info.value)


def test_call_syntax_never_evaluates_code():
    with pytest.raises(ConfigError):
        resolve(config_from_dict({"optim": {"optimizer": "sgd(momentum=__import__('os').getpid())"}}))


def test_sdagd_refuses_a_loss_without_psd_curvature_before_training():
    with pytest.raises(ConfigError, match="sdagd's curvature is defined for"):
        resolve(with_overrides(RunConfig(), {"optim.optimizer": "sdagd", "model.output": "sigmoid"}))
