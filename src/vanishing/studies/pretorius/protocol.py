"""The Pretorius protocol: scales, the configurations it trains, the learning-rate search and :func:`run`.

Configurations (run ids are the store's keys) are built by :func:`_base` and
:func:`_point`; the ``quick``, ``medium`` and ``full`` scales give the same
configs as before the study became a package. :func:`run` trains the sweeps,
then hands the result tables to the pure claim functions (:mod:`.claims`,
:mod:`.node_claims`) and the figures (:mod:`.figures`) through the report
sections (:mod:`.sections`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..base import StudyContext
from .claims import ACTIVATIONS, BATCH_NORM, NODE_DEPTH, TASKS

INITS = {"sigmoid": "xavier_uniform", "relu": "he_normal"}  # Glorot's normalized init; He's normal init
NODE_LAYERS = ("hidden1", "hidden2", "hidden4")  # Fig 3–4 rows: shallow, intermediate (the paper's 2nd layer), deepest

LIGHT_PROBES = ["sparsity(epochs='all')", "saturation(epochs='all')", "dead_units(epochs='all')",
                "backprop_signal(epochs='init')"]
NODE_PROBES = [*LIGHT_PROBES, "activation_stats(epochs='all')"]  # the 4×width nets: every epoch, so "trained" = best epoch


def node_probes(p: Mapping) -> list[str]:
    """The probes of the 4×width nets: ``activation_stats`` at every epoch, or at the epochs ``node_epochs`` lists
    (the paper scale: every 10th, to keep 300 epochs of per-class node statistics small)."""
    when = p.get("node_epochs") or "all"
    return NODE_PROBES if when == "all" else [*LIGHT_PROBES, f"activation_stats(epochs='{when}')"]


def _data(p: Mapping, task: str) -> dict:
    if task == "MNIST":
        data = {"dataset": p["dataset"], "val_fraction": 0.1}
        subset = p.get("train_subset")
    else:
        data = {"dataset": "cifar10", "val_fraction": 0.1}
        subset = p.get("train_subset") or p.get("cifar_subset")
    if subset:
        data["train_subset"] = int(subset)
    return data


def _base(p: Mapping, task: str, *, epochs: int, patience: int | None, probes: Sequence[str]) -> dict:
    return {
        "data": _data(p, task),
        "model": {"hidden": [p["width"]] * NODE_DEPTH, "output": "softmax", "bias_init": "zeros"},
        "optim": {"loss": "ce", "optimizer": "adam", "schedule": "exponential(gamma=0.99)"},
        "train": {"epochs": epochs, "batch_size": 128, "early_stopping": patience, "monitor": "val_acc"},
        "probes": {"enabled": list(probes), "probe_per_class": p.get("probe_per_class", 100)},
    }


def _point(depth: int, width: int, act: str, bn: str, **extra) -> dict:
    return {"model.hidden": [width] * depth, "model.activation": act, "model.init": INITS[act],
            "model.batch_norm": bn, **extra}


def _zip(points: Sequence[Mapping]) -> dict:
    """A list of points (dicts with the same keys) as one zip group."""
    keys = list(points[0])
    return {k: [pt[k] for pt in points] for k in keys}


def _tasks(ctx: StudyContext) -> list[str]:
    """MNIST, plus CIFAR-10 when ``cifar`` is on, or "auto" and the data set is on this machine."""
    from ...data import locate

    mode = str(ctx.params.get("cifar", "auto"))
    if mode == "off":
        return ["MNIST"]
    if mode == "auto" and locate("cifar10", ctx.exec_config.data_dir) is None:
        ctx.log("[pretorius] CIFAR-10 not found locally: its part (Fig 2b, Fig 7, Table 1 CIFAR rows) is skipped; "
                "run with --cifar on to download it")
        return ["MNIST"]
    return ["MNIST", "CIFAR-10"]


def _cifar_note(ctx: StudyContext) -> str:
    from ...data import locate

    where = locate("cifar10", ctx.exec_config.data_dir)
    if where is None:
        return "CIFAR-10: downloaded, canonical binary version."
    canonical = "cifar-10-batches-bin" in str(where) or "cifar-10-binary" in str(where)
    if canonical:
        return f"CIFAR-10 from {where}: the canonical binary version."
    return (f"CIFAR-10 from {where}: an image-folder/JPEG copy. JPEG re-encoding changes pixel values slightly, "
            "so accuracies can differ from the canonical set by up to about a point.")


def _with(depths: Iterable[int], depth: int) -> list[int]:
    return sorted({int(d) for d in depths} | {depth})



def rank_rates(table: pd.DataFrame) -> pd.DataFrame:
    """Rank learning rates as :func:`vanishing.lr_search` does.

    ``table``: one row per (rate, seed) with columns ``lr``, ``status`` and
    ``val_acc`` (validation accuracy at the run's best-validation epoch). A run
    that did not finish ``done`` counts as 0. Returns one row per rate —
    ``lr, mean_val_acc, std_val_acc (population), n_seeds, n_failed`` — sorted
    by mean validation accuracy (descending), then spread (ascending), then
    rate (ascending); the first row is the choice.
    """
    t = table.assign(
        _val=np.where(table["status"] == "done", pd.to_numeric(table["val_acc"], errors="coerce"), 0.0),
        _failed=(table["status"] != "done").astype(int),
    )
    t["_val"] = t["_val"].fillna(0.0)
    out = (t.groupby("lr")
           .agg(mean_val_acc=("_val", "mean"), std_val_acc=("_val", lambda v: float(np.std(v, ddof=0))),
                n_seeds=("_val", "size"), n_failed=("_failed", "sum"))
           .reset_index())
    return out.sort_values(["mean_val_acc", "std_val_acc", "lr"], ascending=[False, True, True],
                           kind="mergesort").reset_index(drop=True)


def next_rates(tried: Sequence[float], best: float) -> list[float]:
    """The next round of an iterative grid search around ``best``, the best of the rates ``tried``.

    At an edge of the grid, extend it one step outwards (the ratio of the
    edge interval); inside, refine: the geometric midpoints between ``best``
    and its two neighbours. One rate tried: ×/÷ √10. Rates already tried (to a
    relative 1e-9) are left out.
    """
    rates = sorted({float(r) for r in tried})
    if len(rates) < 2:
        new = [best / math.sqrt(10.0), best * math.sqrt(10.0)]
    elif best >= rates[-1] * (1 - 1e-9):
        new = [best * rates[-1] / rates[-2]]
    elif best <= rates[0] * (1 + 1e-9):
        new = [best * rates[0] / rates[1]]
    else:
        i = min(range(len(rates)), key=lambda k: abs(math.log(rates[k] / best)))
        new = [math.sqrt(rates[i - 1] * best), math.sqrt(best * rates[i + 1])]
    return [r for r in new if all(abs(r / t - 1) > 1e-9 for t in rates)]


def _search_rates(ctx: StudyContext, task: str, configs: list[tuple[int, int, str, str]]) -> tuple[dict, pd.DataFrame]:
    """Learning rate for each (depth, width, activation, batch norm) of ``task``, by (iterative) grid search.

    ``lr_scope`` = "net": one search per (activation, batch norm) on the
    4×width net, whose rate serves every depth and width; "config": one
    search per configuration (the paper's reading, for ``--full``).
    ``lr_rounds`` > 1 extends the grid past an edge or refines around the best rate (:func:`next_rates`).
    Each rate is scored by the mean over ``lr_seeds`` seeds of the
    best-validation accuracy in ``lr_epochs`` epochs (:func:`rank_rates`).
    """
    p = ctx.params
    if p.get("lr"):
        return {c: float(p["lr"]) for c in configs}, pd.DataFrame()
    if p["lr_scope"] == "net":
        searched = sorted({(NODE_DEPTH, p["width"], act, bn) for _, _, act, bn in configs})
        key_of = {c: (NODE_DEPTH, p["width"], c[2], c[3]) for c in configs}
    else:
        searched = sorted(set(configs))
        key_of = {c: c for c in configs}
    epochs = min(int(p["lr_epochs"]), int(p["epochs"]))
    seeds = list(range(min(int(p["lr_seeds"]), int(p["seeds"]))))
    base = _base(p, task, epochs=epochs, patience=None, probes=["none"])
    tried: dict[tuple, list[float]] = {c: [float(r) for r in p["lr_grid"]] for c in searched}
    rows = []
    for rnd in range(1, int(p["lr_rounds"]) + 1):
        if rnd > 1:
            best_now = {c: float(rank_rates(_lr_table(rows, c))["lr"].iloc[0]) for c in searched}
            new = {c: next_rates(tried[c], best_now[c]) for c in searched}
            for c in searched:
                tried[c] += new[c]
        else:
            new = tried
        points = [_point(*c, **{"optim.lr": r}) for c in searched for r in new[c]]
        if not points:
            break
        res = ctx.sweep(f"{TASKS[task]}-lr-round{rnd}", base=base, zip=_zip(points), seeds=seeds)
        for _, r in res.runs.iterrows():
            c = (int(r["depth"]), int(r["width"]), r["activation"], r["batch_norm"])
            rows.append({"config": c, "lr": float(r["lr"]), "seed": int(r["seed"]), "status": r["status"],
                         "val_acc": r["val_acc"]})
    chosen, summary_rows = {}, []
    for c in searched:
        ranked = rank_rates(_lr_table(rows, c))
        best = float(ranked["lr"].iloc[0])
        chosen[c] = best
        edge = best in (min(tried[c]), max(tried[c])) and len(tried[c]) > 1
        for i, r in ranked.iterrows():
            summary_rows.append({"task": task, "depth": c[0], "width": c[1], "activation": c[2], "batch_norm": c[3],
                                 "lr": r["lr"], "mean val acc (%)": 100 * r["mean_val_acc"],
                                 "seeds": int(r["n_seeds"]), "failed": int(r["n_failed"]),
                                 "chosen": ("yes" + (" (edge of the grid)" if edge else "")) if i == 0 else ""})
    return {c: chosen[key_of[c]] for c in configs}, pd.DataFrame(summary_rows)


def _lr_table(rows: list[dict], config) -> pd.DataFrame:
    return pd.DataFrame([r for r in rows if r["config"] == config], columns=["config", "lr", "seed", "status", "val_acc"])



def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def add_arguments(parser) -> None:
    parser.add_argument("--depths", type=_ints, default=None, help="hidden-layer counts on MNIST, e.g. 2,4,6,8")
    parser.add_argument("--width", type=int, default=None, help="the main width (default 200)")
    parser.add_argument("--wide", type=int, default=None, help="the second width (default 800)")
    parser.add_argument("--wide-depths", dest="wide_depths", type=_ints, default=None,
                        help="depths run at the second width, e.g. 2,4")
    parser.add_argument("--cifar", choices=["auto", "on", "off"], default=None,
                        help="the CIFAR-10 part: auto = when the data set is on this machine (default at --quick)")
    parser.add_argument("--cifar-depths", dest="cifar_depths", type=_ints, default=None, help="depths run on CIFAR-10")
    parser.add_argument("--cifar-subset", dest="cifar_subset", type=int, default=None,
                        help="train on a stratified subset of N CIFAR-10 examples")
    parser.add_argument("--patience", type=int, default=None, help="early-stopping patience in epochs")
    parser.add_argument("--lr", type=float, default=None, help="a fixed learning rate (skips the grid search)")
    parser.add_argument("--lr-grid", dest="lr_grid", type=_floats, default=None, help="rates of the grid search, e.g. 3e-4,1e-3,3e-3")
    parser.add_argument("--lr-epochs", dest="lr_epochs", type=int, default=None, help="epochs per grid-search run")
    parser.add_argument("--lr-rounds", dest="lr_rounds", type=int, default=None, help="rounds of the iterative grid search")
    parser.add_argument("--lr-scope", dest="lr_scope", choices=["net", "config"], default=None,
                        help="net: one search per activation × batch norm on the 4×width net; config: one per configuration")

    parser.add_argument("--depth-epochs", dest="depth_epochs", type=int, default=None,
                        help="train Fig 2's depth sweep (--depth-sweep depths, MNIST) separately at this many epochs")


# =========================================================================== the study


def _plan(p: Mapping, tasks: Sequence[str]) -> dict[str, list[tuple[int, int, str, str, list[int]]]]:
    """(depth, width, activation, batch norm, seeds) of each task's main grid."""
    depths = _with(p["depths"], NODE_DEPTH)
    width, wide = int(p["width"]), p.get("wide")
    wide_depths = [int(d) for d in (p.get("wide_depths") or [])] if wide else []
    seeds = list(range(int(p["seeds"])))
    wide_seeds = list(range(min(int(p["seeds"]), int(p.get("wide_seeds", p["seeds"])))))
    cifar_depths = _with(p.get("cifar_depths") or [NODE_DEPTH], NODE_DEPTH)
    cifar_seeds = list(range(min(int(p["seeds"]), int(p.get("cifar_seeds", p["seeds"])))))
    plan: dict[str, list] = {"MNIST": [], "CIFAR-10": []}
    for act in ACTIVATIONS:
        for bn in BATCH_NORM:
            plan["MNIST"] += [(d, width, act, bn, seeds) for d in depths]
            plan["MNIST"] += [(d, int(wide), act, bn, wide_seeds) for d in wide_depths if int(wide) != width]
            plan["CIFAR-10"] += [(d, width, act, bn, cifar_seeds) for d in cifar_depths]
    return plan


def _depth_plan(p: Mapping) -> list[tuple[int, int, str, str]]:
    """Fig 2's depth sweep at its own budget (``depth_epochs``; the paper scale), MNIST, the main width."""
    if not p.get("depth_epochs"):
        return []
    return [(int(d), int(p["width"]), act, bn) for act in ACTIVATIONS for bn in BATCH_NORM for d in depth_sweep(p)]


def depth_sweep(p: Mapping) -> list[int]:
    """The depths of Fig 2's sweep: ``depth_sweep``, else the scale's ``depths``."""
    return sorted({int(d) for d in (p.get("depth_sweep") or p["depths"])})


def _train(ctx: StudyContext, tasks, plan, depth_plan, rates):
    """Run the grid (and the depth sweep); returns (runs, epochs, probes, depth-sweep runs)."""
    from .claims import runs_frame

    p = ctx.params
    epochs, patience, width = int(p["epochs"]), p.get("patience"), int(p["width"])
    all_runs, epoch_tables, probe_tables = [], [], {}

    def keep(res, task):
        all_runs.append(runs_frame(res, task))
        for key, frame in res.probes.items():
            probe_tables.setdefault(key, []).append(frame)
        epoch_tables.append(res.epochs)
        return all_runs[-1]

    for task in tasks:
        by_seeds: dict[tuple[int, ...], list] = {}
        for d, w, act, bn, s in plan[task]:
            by_seeds.setdefault(tuple(s), []).append((d, w, act, bn))
        for i, (s, configs) in enumerate(sorted(by_seeds.items(), key=lambda kv: -len(kv[0]))):
            points = [_point(d, w, act, bn, **{"optim.lr": rates[(task, d, w, act, bn)],
                                               "probes.enabled": node_probes(p) if (d == NODE_DEPTH and w == width) else LIGHT_PROBES})
                      for d, w, act, bn in configs]
            name = TASKS[task] + ("" if i == 0 else f"-{len(s)}seed")
            res = ctx.sweep(name, base=_base(p, task, epochs=epochs, patience=patience, probes=LIGHT_PROBES),
                            zip=_zip(points), seeds=list(s))
            keep(res, task)
    depth_runs = pd.DataFrame()
    if depth_plan:
        de = int(p["depth_epochs"])
        points = [_point(*c, **{"optim.lr": rates[("MNIST", *c)]}) for c in depth_plan]
        res = ctx.sweep("mnist-depths", base=_base(p, "MNIST", epochs=de, patience=p.get("depth_patience") or de,
                                                   probes=LIGHT_PROBES),
                        zip=_zip(points), seeds=list(range(int(p["seeds"]))))
        depth_runs = keep(res, "MNIST").drop_duplicates("run_id").reset_index(drop=True)
    runs = pd.concat(all_runs, ignore_index=True).drop_duplicates("run_id").reset_index(drop=True)
    epochs_df = pd.concat(epoch_tables, ignore_index=True).drop_duplicates(["run_id", "epoch"]).reset_index(drop=True)
    probes = {k: pd.concat(v, ignore_index=True).drop_duplicates().reset_index(drop=True) for k, v in probe_tables.items()}
    return runs, epochs_df, probes, depth_runs


# =========================================================================== scales

PAPER_NODE_EPOCHS = ",".join(str(e) for e in [0, 1, 2, 5, *range(10, 301, 10)])

SCALES = {
    "quick": {"dataset": "mnist-sample", "epochs": 6, "patience": 3, "seeds": 2, "width": 200,
              "depths": [2, 4, 6, 8], "wide": 800, "wide_depths": [2], "wide_seeds": 1,
              "cifar": "auto", "cifar_depths": [2, 4], "cifar_seeds": 1, "cifar_subset": 5000,
              "lr": None, "lr_grid": [3e-4, 1e-3, 3e-3], "lr_epochs": 2, "lr_seeds": 1, "lr_rounds": 2,
              "lr_scope": "net"},
    "medium": {"dataset": "mnist", "epochs": 20, "patience": 4, "seeds": 2, "width": 200,
               "depths": [2, 4, 6, 8], "wide": 800, "wide_depths": [2, 4], "wide_seeds": 1,
               "cifar": "on", "cifar_depths": [2, 4, 8], "cifar_seeds": 2, "cifar_subset": None,
               "lr": None, "lr_grid": [3e-4, 1e-3, 3e-3], "lr_epochs": 3, "lr_seeds": 2, "lr_rounds": 2,
               "lr_scope": "net"},
    # the paper's protocol on the nets behind Table 1 and Fig 3–7: 4×200, 300 epochs, every epoch's model kept in
    # view and the best-validation one reported (patience = epochs: never stops early, restores the best); Fig 2's
    # depth sweep at 30 epochs (the budget this CPU allows, stated in the report)
    "paper": {"dataset": "mnist", "epochs": 300, "patience": 300, "seeds": 3, "width": 200,
              "depths": [NODE_DEPTH], "wide": None, "wide_depths": [], "wide_seeds": 0,
              "cifar": "on", "cifar_depths": [NODE_DEPTH], "cifar_seeds": 3, "cifar_subset": None,
              "lr": None, "lr_grid": [3e-4, 1e-3, 3e-3], "lr_epochs": 10, "lr_seeds": 2, "lr_rounds": 2,
              "lr_scope": "net", "node_epochs": PAPER_NODE_EPOCHS, "table1_last": True,
              "depth_sweep": [2, 4, 6, 8], "depth_epochs": 30, "depth_patience": 30},
    "full": {"dataset": "mnist", "epochs": 300, "patience": 20, "seeds": 3, "width": 200,
             "depths": [2, 4, 6, 8], "wide": 800, "wide_depths": [2, 4, 6, 8], "wide_seeds": 3,
             "cifar": "on", "cifar_depths": [2, 4, 6, 8], "cifar_seeds": 3, "cifar_subset": None,
             "lr": None, "lr_grid": [1e-4, 3e-4, 1e-3, 3e-3], "lr_epochs": 20, "lr_seeds": 3, "lr_rounds": 2,
             "lr_scope": "config"},
}


def paper_cost(p: Mapping | None = None) -> dict[str, int]:
    """Training epochs (run × epoch) a scale asks for, at most: the grid, the depth sweep, the rate search
    (≤ len(lr_grid) + 2 rates per searched net with ``lr_rounds`` = 2)."""
    p = dict(p or SCALES["paper"])
    tasks = ["MNIST"] + (["CIFAR-10"] if p.get("cifar") != "off" else [])
    plan = _plan(p, tasks)
    grid = sum(len(s) * int(p["epochs"]) for t in tasks for *_, s in plan[t])
    depth = len(_depth_plan(p)) * int(p["seeds"]) * int(p.get("depth_epochs") or 0)
    nets = len(ACTIVATIONS) * len(BATCH_NORM) if p["lr_scope"] == "net" else sum(len(plan[t]) for t in tasks) // len(tasks)
    rates = len(p["lr_grid"]) + 2 * (int(p["lr_rounds"]) - 1)
    lr = len(tasks) * nets * rates * min(int(p["lr_seeds"]), int(p["seeds"])) * min(int(p["lr_epochs"]), int(p["epochs"]))
    return {"grid": grid, "depth_sweep": depth, "lr_search": lr, "total": grid + depth + lr}
