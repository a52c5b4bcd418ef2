"""Learning-rate grid search: the table, the choice of rate, divergence, the store path."""

from __future__ import annotations

import pytest
import torch

from vanishing.config import ExecConfig, RunConfig, resolve, with_overrides
from vanishing.data import Dataset
from vanishing.errors import ConfigError
from vanishing.lr_search import lr_search


def blobs(n_train=300, n_val=100, n_test=100, dim=10, classes=3, seed=0, val_is_test=False):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, dim, generator=g) * 1.5

    def draw(n):
        y = torch.arange(n) % classes
        return centers[y] + torch.randn(n, dim, generator=g), y

    xtr, ytr = draw(n_train)
    xte, yte = draw(n_test)
    xva, yva = (xte, yte) if val_is_test else draw(n_val)
    return Dataset("blobs", xtr, ytr, xva, yva, xte, yte, ("a", "b", "c"), val_is_test, "synthetic blobs")


def config(optimizer="sgd", **overrides):
    base = {
        "model.hidden": [8],
        "model.activation": "tanh",
        "optim.optimizer": optimizer,
        "train.epochs": 2,
        "train.batch_size": 50,
        "probes.enabled": ["none"],
    }
    base.update(overrides)
    return with_overrides(RunConfig(), base)


def test_grid_table_and_the_best_rate():
    data = blobs()
    result = lr_search(config(), rates=[1e-4, 0.1, 1.0], seeds=[0, 1], data=data)
    table = result.table
    assert len(table) == 6 and set(table["lr"]) == {1e-4, 0.1, 1.0} and set(table["seed"]) == {0, 1}
    assert (table["status"] == "done").all()
    means = table.groupby("lr")["val_acc"].mean()
    assert result.best_lr == means.idxmax()
    assert result.summary["lr"].iloc[0] == result.best_lr
    assert result.summary["mean_val_acc"].is_monotonic_decreasing
    assert result.best_lr != 1e-4  # a rate 1000× too small does not learn in two epochs
    assert result.at_edge == (result.best_lr in (1e-4, 1.0))
    assert not result.selected_on_test


def test_runs_match_a_direct_fit_and_work_for_sdagd():
    from vanishing.train import fit

    data = blobs()
    result = lr_search(config("sdagd"), rates=[0.5], seeds=[3], data=data)
    direct = fit(resolve(with_overrides(config("sdagd"), {"optim.lr": 0.5, "seed": 3})), data)
    assert result.table["val_acc"].iloc[0] == direct.summary["val_acc"]
    assert result.best_lr == 0.5 and not result.at_edge


def test_a_diverging_rate_scores_zero_and_is_not_chosen():
    data = blobs()
    result = lr_search(config(**{"optim.loss": "mse", "model.output": "linear"}), rates=[0.05, 1e4], seeds=[0], data=data)
    row = result.table.set_index("lr").loc[1e4]
    assert row["status"] == "diverged" and row["val_acc"] == 0.0
    assert result.best_lr == 0.05
    assert int(result.summary.set_index("lr").loc[1e4, "n_diverged"]) == 1


def test_selection_on_the_test_set_is_flagged():
    result = lr_search(config(), rates=[0.1], seeds=[0], data=blobs(val_is_test=True))
    assert result.selected_on_test


def test_store_path_records_and_reuses_runs(tmp_path):
    data = blobs()
    ex = ExecConfig(device="cpu", results=str(tmp_path / "results"))
    first = lr_search(config(), rates=[0.1, 0.3], seeds=[0], data=data, exec_config=ex, store=True)
    second = lr_search(config(), rates=[0.1, 0.3], seeds=[0], data=data, exec_config=ex, store=True)
    assert first.table["val_acc"].tolist() == second.table["val_acc"].tolist()
    from vanishing.store import load

    assert len(load(str(tmp_path / "results")).runs) == 2


@pytest.mark.parametrize("rates,seeds", [([], [0]), ([0.1, -1.0], [0]), ([0.1, 0.1], [0]), ([0.1], [])])
def test_bad_grids_are_refused(rates, seeds):
    with pytest.raises(ConfigError):
        lr_search(config(), rates=rates, seeds=seeds, data=blobs())
