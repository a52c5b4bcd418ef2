"""The generated long-range tasks: deterministic per seed, labels correct by construction; the recurrent config."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vanishing.errors import ConfigError
from vanishing.recurrent import RecurrentConfig, Task, generate
from vanishing.recurrent.tasks import ADDING_TOLERANCE, adding, copy, stream_seed


def check_adding(x: torch.Tensor, y: torch.Tensor) -> None:
    """Recompute the adding labels independently (numpy) and check the layout."""
    x, y = x.numpy().astype(np.float64), y.numpy().astype(np.float64)
    n, T, _ = x.shape
    u, m = x[:, :, 0], x[:, :, 1]
    assert ((u >= 0) & (u < 1)).all()
    assert set(np.unique(m)) <= {0.0, 1.0}
    assert (m.sum(axis=1) == 2).all()  # exactly two markers
    half = T // 2
    assert (m[:, :half].sum(axis=1) == 1).all() and (m[:, half:].sum(axis=1) == 1).all()  # one per half
    expected = np.array([u[i, m[i] == 1].sum() for i in range(n)])
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-6)


def check_copy(x: torch.Tensor, y: torch.Tensor, S: int, K: int) -> None:
    x, y = x.numpy(), y.numpy()
    n, T, C = x.shape
    assert C == K + 2
    assert (x.sum(axis=2) == 1).all()  # one-hot at every step
    codes = x.argmax(axis=2)
    assert ((y >= 0) & (y < K)).all()
    np.testing.assert_array_equal(codes[:, :S], y)  # the symbols come first, in order
    assert (codes[:, T - S - 1] == K + 1).all()  # the cue right before the recall steps
    blank = np.ones(T, dtype=bool)
    blank[:S] = False
    blank[T - S - 1] = False
    assert (codes[:, blank] == K).all()  # blanks everywhere else, the recall steps included


@settings(max_examples=30, deadline=None)
@given(T=st.integers(2, 60), n=st.integers(1, 20), seed=st.integers(0, 2**31))
def test_adding_labels_are_correct_by_construction(T, n, seed):
    x, y = generate(Task("adding", T), n, "train", seed, batch=3)
    assert x.shape == (n, T, 2) and y.shape == (n,)
    check_adding(x, y)


@settings(max_examples=30, deadline=None)
@given(S=st.integers(1, 4), K=st.integers(2, 10), extra=st.integers(0, 40), n=st.integers(1, 20),
       seed=st.integers(0, 2**31))
def test_copy_labels_are_correct_by_construction(S, K, extra, n, seed):
    T = 2 * S + 1 + extra
    x, y = generate(Task("copy", T, S, K), n, "test", seed)
    assert x.shape == (n, T, K + 2) and y.shape == (n, S) and y.dtype == torch.int64
    check_copy(x, y, S, K)


def test_checkers_catch_wrong_labels():
    """The label checks are able to fail."""
    x, y = generate(Task("adding", 20), 8, "test", 0)
    with pytest.raises(AssertionError):
        check_adding(x, y + 0.01)
    x, y = generate(Task("copy", 20, 3, 8), 8, "test", 0)
    with pytest.raises(AssertionError):
        check_copy(x, (y + 1) % 8, 3, 8)


@pytest.mark.parametrize("task", [Task("adding", 50), Task("copy", 50, 3, 8)])
def test_streams_are_deterministic_per_seed_and_distinct(task):
    a = generate(task, 64, "test", 7)
    b = generate(task, 64, "test", 7)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])  # same seed, same sequences
    assert not torch.equal(generate(task, 64, "test", 8)[0], a[0])  # another seed
    assert not torch.equal(generate(task, 64, "probe", 7)[0], a[0])  # another split
    t1, t2 = generate(task, 64, "train", 7, batch=1), generate(task, 64, "train", 7, batch=2)
    assert not torch.equal(t1[0], t2[0])  # every training step gets new sequences
    assert torch.equal(generate(task, 64, "train", 7, batch=1)[0], t1[0])
    # independent of torch's global generator
    torch.manual_seed(123)
    c = generate(task, 64, "test", 7)
    torch.manual_seed(456)
    assert torch.equal(generate(task, 64, "test", 7)[0], c[0])


def test_stream_seed_is_stable():
    """The seed is a hash of the stream's name, not Python's salted hash(): pinned values."""
    assert stream_seed(Task("adding", 10), "test", 0) == stream_seed(Task("adding", 10), "test", 0)
    assert stream_seed(Task("adding", 10), "test", 0) != stream_seed(Task("adding", 11), "test", 0)
    assert 0 <= stream_seed(Task("copy", 10, 3, 8), "probe", 5) < 2**63


def test_chance_levels_match_an_input_blind_predictor():
    """Adding: predicting 1 gives MSE Var(y) = 1/6 and error rate 0.96²; copy: chance error 1 − 1/K."""
    task = Task("adding", 10)
    x, y = adding(200_000, 10, torch.Generator().manual_seed(0))
    const = torch.ones_like(y)
    assert float(task.loss(const, y)) == pytest.approx(task.chance_loss, rel=0.01)
    assert task.error(const, y) == pytest.approx(task.chance_error, abs=0.003)
    assert task.chance_error == pytest.approx((1 - ADDING_TOLERANCE) ** 2)
    ctask = Task("copy", 10, 2, 5)
    x, y = copy(50_000, 10, 2, 5, torch.Generator().manual_seed(0))
    logits = torch.zeros(len(y), 2, 5)
    logits[..., 0] = 1.0  # always answer symbol 0
    assert ctask.error(logits, y) == pytest.approx(ctask.chance_error, abs=0.01)
    assert float(ctask.loss(torch.zeros(len(y), 2, 5), y)) == pytest.approx(ctask.chance_loss)


def test_task_loss_and_error_by_hand():
    task = Task("adding", 5)
    out, y = torch.tensor([1.0, 0.5]), torch.tensor([1.03, 1.0])
    assert float(task.loss(out, y)) == pytest.approx((0.03**2 + 0.5**2) / 2)
    assert task.error(out, y) == 0.5  # 0.03 < 0.04 is correct, 0.5 is not
    ctask = Task("copy", 9, 2, 3)
    logits = torch.log(torch.tensor([[[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]]))
    target = torch.tensor([[0, 1]])
    assert float(ctask.loss(logits, target)) == pytest.approx(-(np.log(0.7) + np.log(0.1)) / 2)
    assert ctask.error(logits, target) == 0.5


def test_config_validation_and_identity():
    cfg = RecurrentConfig(task="copy", length=20, cell="lstm", recurrent_init="orthogonal", seed=3)
    assert cfg.recurrent_init == "orthogonal(gain=1.0)"  # canonical form
    assert RecurrentConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.run_id.endswith("-s3") and len(cfg.run_id.split("-")[0]) == 12
    assert RecurrentConfig(**{**cfg.to_dict(), "seed": 4}).config_hash == cfg.config_hash
    assert RecurrentConfig(**{**cfg.to_dict(), "lr": 2e-3}).config_hash != cfg.config_hash
    assert cfg.eval_steps[0] == 0 and cfg.eval_steps[-1] == cfg.steps
    assert RecurrentConfig(steps=0).eval_steps == [0]
    for bad, field in (({"cell": "rnn_swish"}, "recurrent.cell"), ({"task": "parity"}, "recurrent.task"),
                       ({"task": "copy", "length": 6, "symbols": 3}, "recurrent.length"),
                       ({"lr": 0}, "recurrent.lr"), ({"clip_norm": -1.0}, "recurrent.clip_norm"),
                       ({"recurrent_init": "orthogonal(gain=-1)"}, "recurrent.recurrent_init"),
                       ({"hidden": 0}, "recurrent.hidden")):
        with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
            RecurrentConfig(**bad)
    with pytest.raises(ConfigError, match="unknown field 'width'"):
        RecurrentConfig.from_dict({"width": 3})
