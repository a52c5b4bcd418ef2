"""Learning-rate grid search: rates × seeds → the rate with the best mean validation accuracy.

Pretorius et al. pick every optimizer's rate by an "iterative grid search …
three random seeds"; Tan & Lim "fine-tune" theirs. This helper does the
grid step for any optimizer of the registry: each (rate, seed) pair trains
the same configuration with ``optim.lr`` = rate and ``seed`` = seed, and the
rates are ranked by the mean over seeds of the validation accuracy at each
run's headline epoch (the best-validation epoch when the data has a
validation split). A diverged run counts as validation accuracy 0, so a rate
that diverges for some seeds is penalised rather than averaged over its
survivors. Ties go to the smaller spread over seeds, then to the smaller rate.

Runs go through :func:`vanishing.train.fit` in memory, or through
:func:`vanishing.runner.run` into a results root (``exec_config.results``)
with ``store=True`` — then finished runs are reused and a killed search
resumes.

It runs whole trainings, so it sits above :mod:`vanishing.runner` beside
:mod:`vanishing.sweep` and :mod:`vanishing.studies` (SPEC §15), not among the
optimizers of :mod:`vanishing.optim`.

    >>> from vanishing.config import RunConfig, with_overrides
    >>> from vanishing.lr_search import lr_search
    >>> config = with_overrides(RunConfig(), {"optim.optimizer": "sgd", "train.epochs": 2})
    >>> result = lr_search(config, rates=[0.01, 0.1, 1.0], seeds=[0, 1, 2])   # doctest: +SKIP
    >>> result.best_lr, result.summary                                          # doctest: +SKIP

Check ``result.at_edge`` (the best rate is the smallest or largest tried:
extend the grid) and ``result.selected_on_test`` (the data has no
validation split of its own, so the rate was chosen on the test set).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import pandas as pd

TABLE_COLUMNS = ["lr", "seed", "status", "val_acc", "test_acc", "headline_epoch", "epochs_done", "train_time_s"]
SUMMARY_COLUMNS = ["lr", "mean_val_acc", "std_val_acc", "min_val_acc", "mean_test_acc", "n_seeds", "n_diverged"]


@dataclass
class LRSearchResult:
    """The outcome of :func:`lr_search`.

    * ``table`` — one row per (rate, seed): columns ``lr, seed, status,
      val_acc, test_acc, headline_epoch, epochs_done, train_time_s``
      (``val_acc`` is 0 for a diverged run).
    * ``summary`` — one row per rate, best first: ``lr, mean_val_acc,
      std_val_acc, min_val_acc, mean_test_acc, n_seeds, n_diverged``.
    * ``best_lr`` — the first row of ``summary``.
    * ``at_edge`` — the best rate is the smallest or the largest of the grid.
    * ``selected_on_test`` — the validation set is the test set (val_fraction = 0).
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    best_lr: float
    at_edge: bool
    selected_on_test: bool


def lr_search(
    config,
    rates: Sequence[float],
    seeds: Sequence[int] = (0, 1, 2),
    *,
    data=None,
    exec_config=None,
    store: bool = False,
    on_run: Callable[[dict], None] | None = None,
) -> LRSearchResult:
    """Train ``config`` for every rate × seed and return the table and the best rate.

    Args:
        config: a :class:`vanishing.config.RunConfig` (resolved or not); its
            ``optim.lr`` and ``seed`` are replaced.
        rates: the learning rates to try (positive).
        seeds: run seeds; each rate's score is the mean over them.
        data: a :class:`vanishing.data.Dataset` to train on; default: load
            ``config.data`` once and share it between the runs.
        exec_config: device, threads, results root (:class:`vanishing.config.ExecConfig`).
        store: record the runs in ``exec_config.results`` via
            :func:`vanishing.runner.run` (finished runs are reused) instead of
            training in memory with :func:`vanishing.train.fit`.
        on_run: called with each table row as it finishes.
    """
    from .config import ExecConfig, resolve, resolve_exec
    from .errors import ConfigError

    rates = [float(r) for r in rates]
    if not rates or any(not (math.isfinite(r) and r > 0) for r in rates):
        raise ConfigError(f"lr_search: rates must be a non-empty list of positive numbers, got {rates!r}")
    if not seeds:
        raise ConfigError("lr_search: give at least one seed")
    if len(set(rates)) != len(rates):
        raise ConfigError(f"lr_search: duplicate rates in {rates!r}")
    ex = resolve_exec(exec_config or ExecConfig())
    base = resolve(config)
    if data is None:
        import torch

        from .runner import load_run_data
        from .train import resolve_device

        if ex.threads is not None:
            torch.set_num_threads(ex.threads)
        data = load_run_data(base, ex, resolve_device(ex.device))

    rows = []
    for lr in rates:
        for seed in seeds:
            cfg = resolve(replace(base, optim=replace(base.optim, lr=lr), seed=int(seed)))
            if store:
                from .runner import run

                result = run(cfg, ex, data=data)
                status, summary = result.status, result.summary
            else:
                from .train import fit

                outcome = fit(cfg, data, exec_config=ex)
                status, summary = outcome.status, outcome.summary
            row = _row(lr, int(seed), status, summary)
            rows.append(row)
            if on_run is not None:
                on_run(row)
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    summary = _summarise(table)
    best = float(summary["lr"].iloc[0])
    return LRSearchResult(
        table=table,
        summary=summary,
        best_lr=best,
        at_edge=len(rates) > 1 and best in (min(rates), max(rates)),
        selected_on_test=bool(data.val_is_test),
    )


def _row(lr: float, seed: int, status: str, summary: dict) -> dict:
    ok = status == "done" and summary.get("val_acc") is not None
    val = summary.get("val_acc") if ok else 0.0
    test = summary.get("test_acc") if ok else float("nan")
    return {
        "lr": lr,
        "seed": seed,
        "status": status,
        "val_acc": float(val) if val is not None else 0.0,
        "test_acc": float(test) if test is not None else float("nan"),
        "headline_epoch": summary.get("headline_epoch"),
        "epochs_done": summary.get("epochs_done"),
        "train_time_s": summary.get("train_time_s"),
    }


def _summarise(table: pd.DataFrame) -> pd.DataFrame:
    """One row per rate, ranked: mean val acc ↓, spread ↑, rate ↑."""
    summary = (
        table.assign(failed=(table["status"] != "done").astype(int))
        .groupby("lr")
        .agg(
            mean_val_acc=("val_acc", "mean"),
            std_val_acc=("val_acc", lambda v: float(v.std(ddof=0))),
            min_val_acc=("val_acc", "min"),
            mean_test_acc=("test_acc", "mean"),
            n_seeds=("seed", "size"),
            n_diverged=("failed", "sum"),
        )
        .reset_index()[SUMMARY_COLUMNS]
    )
    summary = summary.sort_values(["mean_val_acc", "std_val_acc", "lr"], ascending=[False, True, True], kind="mergesort")
    return summary.reset_index(drop=True)
