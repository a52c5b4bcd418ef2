"""Reliability, numeric faults: NaN/inf in a batch and in the weights, found at the exact step, recorded, contained.

* A data set whose ``x_train`` holds NaN or ±inf in one example: the run is
  ``diverged`` at the first step whose mini-batch contains that example —
  computed here by brute force from the epoch's permutation — whatever the
  host-side check interval (the engine checks an accumulated per-step loss
  buffer every n steps, and reports the first bad step inside the window).
* A callback that writes inf into a weight after optimizer step k: the
  first loss computed with it is step k + 1's, so the run is ``diverged`` at
  k + 1; when k is the last step of an epoch, the epoch-end parameter check
  fires first and reports k (= epoch × steps per epoch). A −inf written into
  the bias of a ReLU unit leaves every loss finite (relu(−inf) = 0, its
  gradient 0): only the epoch-end parameter check sees it, and reports the
  last step of that epoch. In every case the poisoned epoch is neither
  recorded nor checkpointed.
* In the store: status ``diverged`` with the step in summary.json, the index
  and ``vanishing.load``; other runs in the root untouched.
"""

from __future__ import annotations

import math

import pytest
import torch

import vanishing
from vanishing.config import ExecConfig, RunConfig, resolve, with_overrides
from vanishing.data import Dataset
from vanishing.seedbatch import fit_batch
from vanishing.train import Callback, MemorySink, epoch_permutation, fit

N_TRAIN, BATCH = 600, 32
STEPS = math.ceil(N_TRAIN / BATCH)  # 19 per epoch


def blobs(bad_index: int | None = None, value: str = "nan") -> Dataset:
    """Gaussian class clusters (learnable by a small MLP); optionally one poisoned training example."""
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(5, 20, generator=g) * 2

    def draw(n):
        y = torch.arange(n) % 5
        return centers[y] + torch.randn(n, 20, generator=g), y

    (xtr, ytr), (xva, yva), (xte, yte) = draw(N_TRAIN), draw(200), draw(200)
    if bad_index is not None:
        if value == "nan":
            xtr[bad_index, 3] = float("nan")
        elif value == "-inf":
            xtr[bad_index, 7] = float("-inf")
        else:  # the whole example +inf
            xtr[bad_index] = float("inf")
    return Dataset("blobs", xtr, ytr, xva, yva, xte, yte, tuple("01234"), False, "synthetic blobs")


def config(**overrides) -> RunConfig:
    base = {"model.hidden": [16, 16], "train.epochs": 3, "train.batch_size": BATCH, "data.dataset": "mnist-sample",
            "probes.enabled": ["none"]}
    return resolve(with_overrides(RunConfig(), {**base, **overrides}))


def first_step_seeing(index: int, seed: int) -> int:
    """Brute force: the 1-based global step of epoch 0 whose mini-batch holds example ``index``."""
    perm = epoch_permutation(N_TRAIN, seed, 0).tolist()
    for step in range(STEPS):
        if index in perm[step * BATCH : (step + 1) * BATCH]:
            return step + 1
    raise AssertionError("not in the permutation")


@pytest.mark.parametrize("value", ["nan", "-inf", "+inf"])
@pytest.mark.parametrize("check_every", [1, 7, 50])
def test_a_poisoned_example_diverges_the_run_at_the_step_that_sees_it(value, check_every):
    bad = 321
    expected = first_step_seeing(bad, seed=0)
    assert 1 < expected < STEPS  # inside the epoch, not at a check boundary by construction
    sink = MemorySink()
    out = fit(config(), blobs(bad, value), sink, ExecConfig(device="cpu", divergence_check_every=check_every))
    assert out.status == sink.status == "diverged"
    assert out.summary["diverged_step"] == expected
    assert out.history == [] and sink.checkpoint is None  # the poisoned epoch is neither recorded nor checkpointed


def test_each_seed_of_a_batch_diverges_at_its_own_step():
    bad = 321
    cfgs = [config(seed=s) for s in (0, 1, 2)]
    sinks = [MemorySink() for _ in cfgs]
    outs = fit_batch(cfgs, blobs(bad), sinks, ExecConfig(device="cpu", divergence_check_every=5))
    assert [o.status for o in outs] == ["diverged"] * 3
    assert [s.summary["diverged_step"] for s in sinks] == [first_step_seeing(bad, seed=s) for s in (0, 1, 2)]


class PoisonWeight(Callback):
    """After optimizer step ``step``, write ``value`` into a parameter element (in place, as a bug or bit flip would)."""

    def __init__(self, step: int, where: str, value: float) -> None:
        self.step, self.where, self.value = step, where, value

    def on_step_end(self, ctx, info):
        if info.step == self.step:
            with torch.no_grad():
                linears = dict(ctx.model.named_linears())
                if self.where == "output weight":
                    linears["output"].weight[0, 0] = self.value
                else:  # "hidden1 bias"
                    linears["hidden1"].bias[0] = self.value


@pytest.mark.parametrize(
    "step, where, value, expected",
    [
        (5, "output weight", float("inf"), 6),  # mid-epoch: the next step's loss
        (STEPS + 4, "output weight", float("inf"), STEPS + 5),  # mid-epoch 2
        (STEPS, "output weight", float("inf"), STEPS),  # last step of epoch 1: the epoch-end parameter check
        (STEPS + 4, "hidden1 bias", float("-inf"), 2 * STEPS),  # losses stay finite: only the parameter check
    ],
)
@pytest.mark.parametrize("check_every", [1, 50])
def test_inf_written_into_a_weight_diverges_the_run(step, where, value, expected, check_every):
    sink = MemorySink()
    out = fit(config(**{"model.activation": "relu"}), blobs(), sink,
              ExecConfig(device="cpu", divergence_check_every=check_every), callbacks=[PoisonWeight(step, where, value)])
    assert out.status == "diverged" and out.summary["diverged_step"] == expected
    finished = (expected - 1) // STEPS  # epochs that ended before the poisoned one
    assert len(out.history) == finished
    if finished:  # the stored checkpoint is the last clean epoch's
        assert len(sink.checkpoint["history"]) == finished
        assert all(torch.isfinite(t).all() for t in sink.checkpoint["model"].values())


def test_a_diverged_run_is_recorded_and_the_root_stays_consistent(tmp_path):
    root = tmp_path / "root"
    ex = ExecConfig(results=str(root), device="cpu", threads=1, progress=False)
    good = vanishing.run(config(seed=1), ex, data=blobs())
    before = {p: p.read_bytes() for p in good.path.rglob("*") if p.is_file()}
    bad = vanishing.run(config(), ex, data=blobs(321))
    assert bad.status == "diverged" and bad.summary["diverged_step"] == first_step_seeing(321, seed=0)
    results = vanishing.load(root)
    rows = results.runs.set_index("run_id")
    assert rows.loc[bad.run_id, "status"] == "diverged" and rows.loc[bad.run_id, "diverged_step"] == bad.summary["diverged_step"]
    assert rows.loc[good.run_id, "status"] == "done"
    assert {p: p.read_bytes() for p in good.path.rglob("*") if p.is_file()} == before  # untouched
    index = {r["run_id"]: r for r in vanishing.store.Index(root).rows()}
    assert index[bad.run_id]["status"] == "diverged" and index[bad.run_id]["pid"] is None
    again = vanishing.run(config(), ex, data=blobs(321))  # final: not trained again
    assert again.already_done and again.status == "diverged"
