"""Pretorius, Barnard & Davel (2019): ReLU and sigmoidal activation functions — seed ``001``.

A. M. Pretorius, E. Barnard and M. H. Davel, "ReLU and sigmoidal activation
functions", Proc. South African Forum for Artificial Intelligence Research
(FAIR 2019), CEUR-WS vol. 2540. Fully connected nets of 2, 4, 6 and 8 hidden
layers, 200 or 800 nodes wide, with and without batch normalisation, sigmoid
(Xavier init) or ReLU (He init), softmax + cross-entropy, Adam with a
learning rate found by an "iterative grid search … over three random seeds"
and decayed by 0.99 per epoch, up to 300 epochs with early stopping, on
MNIST and CIFAR-10 split into train / validation / test. The models that do
best on validation are evaluated on the test set.

Reproduces, from our own measurements:

* **Fig 1** — training and validation accuracy per epoch, mean ± s.e. over
  seeds, sigmoid vs ReLU, depth 2–8 (columns) × batch norm off/on (rows),
  width 200, MNIST;
* **Fig 2** — test accuracy vs depth, both widths, batch norm starred:
  (a) MNIST, (b) CIFAR-10;
* **Fig 3–4** — per-class activation distributions at nodes of a shallow, an
  intermediate and the deepest hidden layer of a trained 4×200 net, sigmoid
  (Fig 3) and ReLU (Fig 4), MNIST;
* **Fig 5–6** — the median activation of each class at every node,
  untrained vs trained, 4×200, sigmoid (Fig 5) and ReLU (Fig 6), MNIST;
* **Fig 7** — the same medians for 4×200 nets trained on CIFAR-10, sigmoid
  and ReLU;
* **Table 1** — layer sparsity (the mean over a layer's nodes of the % of
  samples on which the node is inactive) of the 4×200 ReLU net, untrained vs
  trained, without and with batch norm, MNIST and CIFAR-10 — 32 numbers, each
  a numeric claim;

and states the paper's qualitative claims (sigmoid nets generalise worse with
depth without batch norm, ReLU nets gain more from batch norm, trained
sigmoid nodes saturate towards 0 and 1, sparsity grows with training, class
information is separated differently by the two activations, …) with the
evidence from the probes (``activation_stats``, ``sparsity``,
``saturation``). Beyond the paper: per-example δ by layer at initialisation
for the deepest nets, against the mean-field prediction.

What the paper leaves out, and what this study does (see ``NOTES``): the
batch size (128), the validation split (10% of the training set, stratified),
the early-stopping patience and the grid of rates; Xavier is read as Glorot's
uniform "normalized initialization" and He as He's normal; batch norm sits
before the activation; biases start at zero; the probe set is 100 training
examples per class; "trained" means the best-validation model.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .base import Study, StudyContext, mean_se

# Table 1 of the paper: layer sparsity (%) of the 4×200 ReLU net, layers 1–4
PAPER_TABLE1: dict[tuple[str, str, str], tuple[float, float, float, float]] = {
    ("MNIST", "off", "untrained"): (49.22, 48.85, 48.45, 48.74),
    ("MNIST", "off", "trained"): (80.40, 79.33, 81.93, 81.90),
    ("MNIST", "before", "untrained"): (49.08, 49.70, 49.81, 49.15),
    ("MNIST", "before", "trained"): (65.76, 56.67, 68.77, 69.12),
    ("CIFAR-10", "off", "untrained"): (51.07, 50.96, 50.73, 50.85),
    ("CIFAR-10", "off", "trained"): (77.56, 76.55, 77.54, 77.14),
    ("CIFAR-10", "before", "untrained"): (51.06, 50.75, 50.95, 50.81),
    ("CIFAR-10", "before", "trained"): (58.53, 59.41, 57.43, 57.37),
}
BENCHMARK_MNIST = 98.4  # "similar architectures reach a test accuracy of 98.4%" (cited, not the paper's own)
BENCHMARK_CIFAR = 56.84  # "much larger networks than those shown in this paper reach 56.84%" (Lin et al.)

ACTIVATIONS = ("sigmoid", "relu")
INITS = {"sigmoid": "xavier_uniform", "relu": "he_normal"}  # Glorot's normalized init; He's normal init
BATCH_NORM = ("off", "before")
NODE_DEPTH = 4  # the paper shows node behaviour and Table 1 for 4-layer nets
NODE_LAYERS = ("hidden1", "hidden2", "hidden4")  # Fig 3–4 rows: shallow, intermediate (the paper's 2nd layer), deepest
TASKS = {"MNIST": "mnist", "CIFAR-10": "cifar10"}

LIGHT_PROBES = ["sparsity(epochs='all')", "saturation(epochs='all')", "dead_units(epochs='all')",
                "backprop_signal(epochs='init')"]
NODE_PROBES = [*LIGHT_PROBES, "activation_stats(epochs='all')"]  # the 4×width nets: every epoch, so "trained" = best epoch

SATURATED_MEDIAN = 0.1  # a sigmoid class median within this of 0 or 1 counts as saturated (Fig 5)
POINT_STD = 0.01  # a class distribution with std below this is "almost a point distribution" (Fig 3)


# =========================================================================== computations (unit-tested)


def rank_rates(table: pd.DataFrame) -> pd.DataFrame:
    """Rank learning rates as :func:`vanishing.optim.lr_search` does.

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


def slope(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Least-squares slope of y on x and its standard error (NaN when fewer than 3 points or x constant).

    s.e. = √(Σ r² / (n − 2) / Σ (x − x̄)²), the ordinary-least-squares formula.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 2 or np.ptp(x) == 0:
        return math.nan, math.nan
    sxx = float(((x - x.mean()) ** 2).sum())
    b = float(((x - x.mean()) * (y - y.mean())).sum() / sxx)
    if len(x) < 3:
        return b, math.nan
    resid = y - (y.mean() + b * (x - x.mean()))
    return b, float(math.sqrt((resid ** 2).sum() / (len(x) - 2) / sxx))


def node_summary(stats: pd.DataFrame) -> pd.DataFrame:
    """Per (run_id, epoch, layer): how much class information a layer's nodes carry and how their class distributions sit.

    ``stats`` = ``activation_stats`` rows: per node j and class c the
    ``count`` n_c, ``mean`` m_c, ``std`` s_c (n − 1), ``median``, ``q25``,
    ``q75``. Per node, then averaged over the layer's nodes:

    * ``eta2`` — the correlation ratio η² = Σ_c n_c (m_c − m)² / Σ_c [(n_c − 1) s_c² + n_c (m_c − m)²]
      (m the pooled mean): the share of the node's output variance explained
      by the class, from 0 (no class information) to 1; 0 for a node constant
      on the probe set. Scale-free, so sigmoid and ReLU nodes compare;
    * ``median_spread`` — std over classes (population) of the class medians,
      in activation units: how far apart the medians of Fig 5–7 lie;
    * ``overlap`` — the fraction of class pairs whose interquartile ranges
      [q25, q75] intersect;
    * ``median_extreme`` — fraction of class medians ≤ 0.1 or ≥ 0.9 (sigmoid
      medians saturated towards 0 or 1);
    * ``median_zero`` — fraction of class medians ≤ 0 (ReLU node off for most of a class);
    * ``median_offcentre`` — mean |median − 0.5|;
    * ``active_classes`` — number of classes whose median is > 0;
    * ``within_std`` — mean of s_c;
    * ``point_fraction`` — fraction of classes with s_c < 0.01 ("almost point distributions").
    """
    cls = stats[stats["class"] >= 0]
    keys = ["run_id", "epoch", "layer", "node"]
    wide = cls.pivot_table(index=keys, columns="class", values=["count", "mean", "std", "median", "q25", "q75"],
                           aggfunc="first")
    n = wide["count"].to_numpy(float)
    mean = wide["mean"].to_numpy(float)
    std = wide["std"].to_numpy(float)
    med = wide["median"].to_numpy(float)
    q25 = wide["q25"].to_numpy(float)
    q75 = wide["q75"].to_numpy(float)
    grand = (n * mean).sum(axis=1, keepdims=True) / n.sum(axis=1, keepdims=True)
    between = (n * (mean - grand) ** 2).sum(axis=1)
    within = ((n - 1) * np.nan_to_num(std) ** 2).sum(axis=1)
    total = between + within
    with np.errstate(invalid="ignore", divide="ignore"):
        eta2 = np.where(total > 1e-12 * np.maximum(1.0, (n * mean ** 2).sum(axis=1)), between / total, 0.0)
    iu = np.triu_indices(med.shape[1], k=1)
    lo = np.maximum(q25[:, :, None], q25[:, None, :])
    hi = np.minimum(q75[:, :, None], q75[:, None, :])
    overlap = (lo <= hi)[:, iu[0], iu[1]].mean(axis=1) if len(iu[0]) else np.zeros(len(med))
    per_node = pd.DataFrame({
        "eta2": eta2,
        "median_spread": np.std(med, axis=1),
        "overlap": overlap,
        "median_extreme": ((med <= SATURATED_MEDIAN) | (med >= 1 - SATURATED_MEDIAN)).mean(axis=1),
        "median_zero": (med <= 0).mean(axis=1),
        "median_offcentre": np.abs(med - 0.5).mean(axis=1),
        "active_classes": (med > 0).sum(axis=1).astype(float),
        "within_std": std.mean(axis=1),
        "point_fraction": (std < POINT_STD).mean(axis=1),
    }, index=wide.index)
    return per_node.groupby(level=["run_id", "epoch", "layer"]).mean().reset_index()


def trained_epochs(runs: pd.DataFrame, available: pd.DataFrame) -> dict[str, int]:
    """run_id → the epoch whose snapshot is "trained": the best-validation (headline) epoch if it was
    snapshotted, else the run's last snapshot."""
    out = {}
    have = available.groupby("run_id")["epoch"].agg(lambda e: {int(x) for x in e})
    for _, r in runs.iterrows():
        rid = r["run_id"]
        if rid not in have.index:
            continue
        head = r.get("headline_epoch")
        epochs = have[rid]
        out[rid] = int(head) if head is not None and not pd.isna(head) and int(head) in epochs else max(epochs)
    return out


def at_trained(df: pd.DataFrame, epochs: Mapping[str, int]) -> pd.DataFrame:
    """The rows of ``df`` at each run's trained epoch (``epochs`` from :func:`trained_epochs`)."""
    want = df["run_id"].map(epochs)
    return df[df["epoch"] == want]


# =========================================================================== configuration


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
    from ..data import locate

    mode = str(ctx.params.get("cifar", "auto"))
    if mode == "off":
        return ["MNIST"]
    if mode == "auto" and locate("cifar10", ctx.exec_config.data_dir) is None:
        ctx.log("[pretorius] CIFAR-10 not found locally: its part (Fig 2b, Fig 7, Table 1 CIFAR rows) is skipped; "
                "run with --cifar on to download it")
        return ["MNIST"]
    return ["MNIST", "CIFAR-10"]


def _cifar_note(ctx: StudyContext) -> str:
    from ..data import locate

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


# =========================================================================== learning rates


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


# =========================================================================== selections


def _runs_of(tables, task: str) -> pd.DataFrame:
    runs = tables.runs.copy()
    runs["task"] = task
    runs["test_pct"] = 100 * pd.to_numeric(runs["test_acc"], errors="coerce")
    best_train = tables.epochs.groupby("run_id")["train_acc"].max()
    runs["train_pct"] = 100 * runs["run_id"].map(best_train)
    runs["val_pct"] = 100 * pd.to_numeric(runs["val_acc"], errors="coerce")  # at the best-validation epoch
    return runs


def _sel(runs: pd.DataFrame, **fields) -> pd.DataFrame:
    mask = pd.Series(True, index=runs.index)
    for key, value in fields.items():
        mask &= runs[key] == value
    return runs[mask]


def _acc(runs: pd.DataFrame, column: str = "test_pct", **fields) -> list[float]:
    return _sel(runs, **fields)[column].dropna().tolist()


def _m(values) -> float:
    return mean_se(values)[0]


def _diff(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """mean(a) − mean(b) and its standard error √(se_a² + se_b²) (NaN when either has one value)."""
    ma, sa, _ = mean_se(a)
    mb, sb, _ = mean_se(b)
    return ma - mb, math.sqrt(sa ** 2 + sb ** 2) if math.isfinite(sa) and math.isfinite(sb) else math.nan


def _direction(value: float, se: float, sign: int = 1) -> str:
    """Verdict of "value has the sign ``sign``": beyond 2 s.e. → reproduced; the sign only → partly."""
    if not math.isfinite(value):
        return "not reproduced"
    if sign * value <= 0:
        return "not reproduced"
    if math.isfinite(se) and sign * value > 2 * se:
        return "reproduced"
    return "partly"


def _fmt(values: Sequence[float], digits: int = 2) -> str:
    m, se, n = mean_se(values)
    if n == 0:
        return "–"
    return f"{m:.{digits}f}" + (f" ± {se:.{digits}f}" if math.isfinite(se) else "")


def _pm(value: float, se: float, digits: int = 2, unit: str = " pp") -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{value:+.{digits}f}" + (f" ± {se:.{digits}f}" if math.isfinite(se) else "") + unit


def _verdict_of(n_ok: int, n_all: int) -> str:
    return "reproduced" if n_ok == n_all else ("partly" if n_ok > 0 else "not reproduced")


# =========================================================================== the study


def run(ctx: StudyContext) -> None:
    p = ctx.params
    tasks = _tasks(ctx)
    depths = _with(p["depths"], NODE_DEPTH)
    width, wide = int(p["width"]), p.get("wide")
    wide_depths = [int(d) for d in (p.get("wide_depths") or [])] if wide else []
    seeds = list(range(int(p["seeds"])))
    wide_seeds = list(range(min(int(p["seeds"]), int(p.get("wide_seeds", p["seeds"])))))
    cifar_depths = _with(p.get("cifar_depths") or [NODE_DEPTH], NODE_DEPTH)
    cifar_seeds = list(range(min(int(p["seeds"]), int(p.get("cifar_seeds", p["seeds"])))))
    epochs, patience = int(p["epochs"]), p.get("patience")

    ctx.report.add_text(
        "Setup: 784 (MNIST) or 3,072 (CIFAR-10) inputs ÷ 255 → depth × width hidden layers → 10-way softmax; "
        "cross-entropy; Adam with the learning rate from a grid search, decayed ×0.99 per epoch; batch 128; "
        f"at most {epochs} epochs with early stopping on validation accuracy (patience {patience}); "
        "validation = 10% of the training set (stratified); the best-validation model is evaluated on the test set. "
        "Sigmoid nets use Xavier (Glorot uniform) and ReLU nets He (normal) initialisation, biases 0; batch norm, "
        "when on, sits before the activation. Probes look at 100 training examples per class, in eval mode.")
    if "CIFAR-10" in tasks:
        ctx.report.add_text(_cifar_note(ctx), note=True)

    # ------------------------------------------------------------------ 1. learning rates (grid search)
    plan: dict[str, list[tuple[int, int, str, str, list[int]]]] = {"MNIST": [], "CIFAR-10": []}
    for act in ACTIVATIONS:
        for bn in BATCH_NORM:
            plan["MNIST"] += [(d, width, act, bn, seeds) for d in depths]
            plan["MNIST"] += [(d, int(wide), act, bn, wide_seeds) for d in wide_depths if int(wide) != width]
            plan["CIFAR-10"] += [(d, width, act, bn, cifar_seeds) for d in cifar_depths]
    rates: dict[tuple, float] = {}
    lr_tables = []
    for task in tasks:
        configs = [c[:4] for c in plan[task]]
        chosen, table = _search_rates(ctx, task, configs)
        rates.update({(task, *c): r for c, r in chosen.items()})
        lr_tables.append(table)
    lr_table = pd.concat([t for t in lr_tables if len(t)], ignore_index=True) if any(len(t) for t in lr_tables) else pd.DataFrame()

    # ------------------------------------------------------------------ 2. the grid
    all_runs, epoch_tables, probe_tables = [], {}, {}
    for task in tasks:
        by_seeds: dict[tuple[int, ...], list] = {}
        for d, w, act, bn, s in plan[task]:
            by_seeds.setdefault(tuple(s), []).append((d, w, act, bn))
        for i, (s, configs) in enumerate(sorted(by_seeds.items(), key=lambda kv: -len(kv[0]))):
            points = [_point(d, w, act, bn, **{"optim.lr": rates[(task, d, w, act, bn)],
                                               "probes.enabled": NODE_PROBES if (d == NODE_DEPTH and w == width) else LIGHT_PROBES})
                      for d, w, act, bn in configs]
            name = TASKS[task] + ("" if i == 0 else f"-{len(s)}seed")
            res = ctx.sweep(name, base=_base(p, task, epochs=epochs, patience=patience, probes=LIGHT_PROBES),
                            zip=_zip(points), seeds=list(s))
            all_runs.append(_runs_of(res, task))
            for key, frame in res.probes.items():
                probe_tables.setdefault(key, []).append(frame)
            epoch_tables.setdefault(task, []).append(res.epochs)
    runs = pd.concat(all_runs, ignore_index=True)
    epochs_df = pd.concat([f for fs in epoch_tables.values() for f in fs], ignore_index=True)
    probes = {k: pd.concat(v, ignore_index=True) for k, v in probe_tables.items()}
    runs = runs.drop_duplicates("run_id").reset_index(drop=True)
    epochs_df = epochs_df.drop_duplicates(["run_id", "epoch"]).reset_index(drop=True)
    probes = {k: v.drop_duplicates().reset_index(drop=True) for k, v in probes.items()}

    mn = runs[runs["task"] == "MNIST"]
    cf = runs[runs["task"] == "CIFAR-10"]
    _accuracy_tables(ctx, runs, lr_table)
    _fig1(ctx, mn, epochs_df, depths, width)
    _fig2(ctx, runs, tasks)
    skipped = _performance_claims(ctx, mn, cf, depths, width, wide, wide_depths, cifar_depths)
    node_runs = runs[(runs["depth"] == NODE_DEPTH) & (runs["width"] == width)]
    stats = probes.get("activation_stats", pd.DataFrame())
    stats = stats[stats["run_id"].isin(node_runs["run_id"])] if len(stats) else stats
    trained = trained_epochs(node_runs, stats) if len(stats) else {}
    summary = node_summary(stats) if len(stats) else pd.DataFrame()
    _node_figures(ctx, node_runs, stats, trained, tasks)
    _node_claims(ctx, node_runs, summary, probes.get("saturation"), probes.get("sparsity"), trained, tasks)
    _table1(ctx, runs, probes.get("sparsity"), tasks, width)
    _benchmarks(ctx, mn, cf)
    _vanishing(ctx, runs, probes.get("backprop_signal"), depths, width)
    if "CIFAR-10" not in tasks:
        skipped.append("everything on CIFAR-10 (Fig 2b, Fig 7, Table 1's CIFAR-10 rows): the CIFAR-10 part did not run")
    if skipped:
        ctx.report.add_text("Claims not tested at this scale: " + "; ".join(skipped) + ".", note=True)
        ctx.log("[pretorius] not tested at this scale: " + "; ".join(skipped))


# --------------------------------------------------------------------------- accuracy tables


def _accuracy_tables(ctx: StudyContext, runs: pd.DataFrame, lr_table: pd.DataFrame) -> None:
    ctx.report.add_heading("Learning rates (grid search)")
    if len(lr_table):
        p = ctx.params
        scope = ("one search per activation × batch norm on the 4×width net; its rate serves every depth and width"
                 if p["lr_scope"] == "net" else "one search per configuration")
        ctx.report.add_text(
            f"Adam, rates {', '.join(f'{r:g}' for r in p['lr_grid'])}" + (f", {p['lr_rounds']} rounds (each round extends the grid past an edge or refines around the best rate)"
                                                                     if int(p['lr_rounds']) > 1 else "")
            + f"; each rate scored by the mean over {min(int(p['lr_seeds']), int(p['seeds']))} seed(s) of the best validation "
            f"accuracy within {min(int(p['lr_epochs']), int(p['epochs']))} epochs; {scope}.")
        ctx.report.add_table(lr_table, "Learning-rate grid: mean best-validation accuracy per rate (the chosen rate first).",
                             collapsed=len(lr_table) > 24)
        ctx.log(lr_table[lr_table["chosen"] != ""].to_string(index=False))
    else:
        ctx.report.add_text(f"Fixed learning rate {ctx.params.get('lr')} (no grid search).")
    rows = []
    for (task, width, depth, act, bn), part in runs.groupby(["task", "width", "depth", "activation", "batch_norm"]):
        rows.append({"data": task, "width": width, "depth": depth, "activation": act, "batch norm": bn,
                     "lr": float(part["lr"].iloc[0]), "seeds": len(part),
                     "test acc (%)": _fmt(part["test_pct"].tolist()),
                     "best train acc (%)": _fmt(part["train_pct"].tolist()),
                     "best epoch": ", ".join(str(int(e)) for e in part["headline_epoch"].dropna()),
                     "epochs run": ", ".join(str(int(e)) for e in part["epochs_done"].dropna())})
    table = pd.DataFrame(rows)
    ctx.report.add_heading("Accuracy of every configuration")
    ctx.report.add_table(table, "Test accuracy of the best-validation model and the best training accuracy "
                         "(running mean over an epoch's mini-batches), mean ± s.e. over seeds.")
    ctx.log(table.to_string(index=False))


# --------------------------------------------------------------------------- Fig 1 and 2


def fig1_curves(epochs: pd.DataFrame, runs: pd.DataFrame, depths: Sequence[int], *, title: str | None = None):
    """Fig 1: training (dashed) and validation (solid) accuracy per epoch, mean ± s.e. over seeds;
    columns = depth, rows = batch norm off / on; sigmoid and ReLU in each panel."""
    import matplotlib

    from ..report import figures
    from ..report.groups import seed_stats

    with matplotlib.rc_context(figures.STYLE):
        bns = [bn for bn in BATCH_NORM if (runs["batch_norm"] == bn).any()]
        fig, axes = figures.new_figure(len(bns), len(depths), panel=(2.6, 2.2), sharey=True)
        colors = {"relu": figures.TAB10[0], "sigmoid": figures.TAB10[3]}
        for r, bn in enumerate(bns):
            for c, depth in enumerate(depths):
                ax = axes[r][c]
                for act in ACTIVATIONS:
                    ids = _sel(runs, activation=act, batch_norm=bn, depth=depth)["run_id"]
                    part = epochs[epochs["run_id"].isin(ids)]
                    for metric, ls in (("train_acc", "--"), ("val_acc", "-")):
                        s = seed_stats(part.assign(_v=100 * part[metric]), ["epoch"], "_v")
                        if s.empty:
                            continue
                        x, m, se = s["epoch"].to_numpy(float), s["mean"].to_numpy(float), s["se"].to_numpy(float)
                        ax.plot(x, m, ls=ls, color=colors[act], lw=1.2, marker="o" if len(x) <= 30 else None, ms=2.5,
                                label=f"{act}, {'training' if metric == 'train_acc' else 'validation'}")
                        ok = np.isfinite(se)
                        if ok.any():
                            ax.fill_between(x[ok], (m - se)[ok], (m + se)[ok], color=colors[act], alpha=0.2, lw=0)
                ax.set_title(f"{depth} hidden layers, batch norm {'on' if bn != 'off' else 'off'}")
                if r == len(bns) - 1:
                    ax.set_xlabel("epoch")
                if c == 0:
                    ax.set_ylabel("accuracy (%)")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=4)
        if title:
            fig.suptitle(title, fontsize=9)
    return fig


def _fig1(ctx: StudyContext, mn: pd.DataFrame, epochs: pd.DataFrame, depths: Sequence[int], width: int) -> None:
    ctx.report.add_heading("Fig 1 — learning curves (MNIST)")
    part = mn[mn["width"] == width]
    n = part.groupby(["depth", "activation", "batch_norm"])["run_id"].nunique()
    ctx.figure(fig1_curves(epochs, part, depths, title=f"MNIST, width {width}: training (dashed) and validation (solid) accuracy"),
               f"Fig 1: training and validation accuracy per epoch, width {width}, mean ± s.e. over "
               f"{n.min()}–{n.max()} seeds (bands); top row without, bottom row with batch norm. Training accuracy is "
               "the running mean over each epoch's mini-batches.", "fig1_learning_curves")


def _fig2(ctx: StudyContext, runs: pd.DataFrame, tasks: Sequence[str]) -> None:
    from ..report import figures

    ctx.report.add_heading("Fig 2 — test accuracy vs depth")
    for letter, task in zip("ab", TASKS):
        if task not in tasks:
            continue
        part = runs[runs["task"] == task]
        fig = figures.metric_vs_depth(part, metric="test_acc", hue=("activation", "width"), star="batch_norm",
                                      title=f"({letter}) {task}")
        ctx.figure(fig, f"Fig 2({letter}): test accuracy of the best-validation model vs number of hidden layers, "
                   f"{task}, mean ± s.e. over seeds; batch-norm nets starred and dashed.", f"fig2{letter}_{TASKS[task]}")


# --------------------------------------------------------------------------- performance claims (Fig 1–2, §2, §4)


def _performance_claims(ctx, mn, cf, depths, width, wide, wide_depths, cifar_depths) -> list[str]:
    """The claims of §2 and §4 about accuracy (Fig 1–2); returns the claims this grid cannot test."""
    skipped = []
    w200 = mn[mn["width"] == width]
    # Fig 1: training curves similar, validation better for ReLU
    cells, train_close, val_better, lines = 0, 0, 0, []
    for depth in depths:
        for bn in BATCH_NORM:
            tr = _diff(_acc(w200, "train_pct", activation="relu", batch_norm=bn, depth=depth),
                       _acc(w200, "train_pct", activation="sigmoid", batch_norm=bn, depth=depth))[0]
            va = _diff(_acc(w200, "val_pct", activation="relu", batch_norm=bn, depth=depth),
                       _acc(w200, "val_pct", activation="sigmoid", batch_norm=bn, depth=depth))[0]
            if not (math.isfinite(tr) and math.isfinite(va)):
                continue
            cells += 1
            train_close += abs(tr) <= 1.0
            val_better += va > 0
            lines.append(f"{depth}{'+BN' if bn != 'off' else ''}: train {tr:+.2f}, val {va:+.2f}")
    ok = (train_close >= 0.75 * cells) + (val_better >= 0.75 * cells) if cells else 0
    ctx.qualitative_claim(
        "Fig 1: training curves of ReLU and sigmoid nets are similar; ReLU validation curves are better",
        _verdict_of(ok, 2),
        f"ReLU − sigmoid (pp), best training and best validation accuracy, per depth (width {width}): "
        + "; ".join(lines) + f" — training within 1 pp in {train_close}/{cells} cells, validation higher for ReLU "
        f"in {val_better}/{cells} (reproduced needs ≥ 75% of cells for both)")

    # Fig 2a: ReLU generally better on MNIST
    better, total, worst = 0, 0, []
    for (w, d, bn), part in mn.groupby(["width", "depth", "batch_norm"]):
        dv, se = _diff(_acc(part, activation="relu"), _acc(part, activation="sigmoid"))
        if math.isfinite(dv):
            total += 1
            better += dv > 0
            worst.append((dv, f"{d}×{w}{'+BN' if bn != 'off' else ''}"))
    frac = better / total if total else math.nan
    ctx.qualitative_claim(
        "Fig 2a: ReLU nets generally generalise better than sigmoid nets (MNIST)",
        "reproduced" if frac >= 0.75 else ("partly" if frac > 0.5 else "not reproduced"),
        f"ReLU test accuracy above sigmoid in {better}/{total} configurations (depth × width × batch norm)"
        + (f"; smallest ReLU − sigmoid gap {min(worst)[0]:+.2f} pp ({min(worst)[1]}), largest {max(worst)[0]:+.2f} pp "
           f"({max(worst)[1]})" if worst else "") + "; reproduced needs ≥ 75%")

    # wide nets: sigmoid ≈ ReLU without batch norm
    common = [d for d in wide_depths if d in depths]
    if wide and common and int(wide) != width:
        gaps = {}
        for w in (width, int(wide)):
            vals = [_diff(_acc(mn, activation="relu", batch_norm="off", depth=d, width=w),
                          _acc(mn, activation="sigmoid", batch_norm="off", depth=d, width=w)) for d in common]
            m = float(np.mean([v for v, _ in vals]))
            ses = [s for _, s in vals]
            se = math.sqrt(sum(s ** 2 for s in ses)) / len(ses) if all(math.isfinite(s) for s in ses) else math.nan
            gaps[w] = (m, se)
        d_gap = gaps[width][0] - gaps[int(wide)][0]
        se_gap = math.sqrt(gaps[width][1] ** 2 + gaps[int(wide)][1] ** 2) if all(math.isfinite(g[1]) for g in gaps.values()) else math.nan
        ctx.qualitative_claim(
            f"Fig 2a: when wide enough ({wide}), sigmoid and ReLU nets perform more similarly without batch norm",
            _direction(d_gap, se_gap),
            f"mean ReLU − sigmoid test accuracy without batch norm over depths {common}: width {width} "
            f"{_pm(*gaps[width])}, width {wide} {_pm(*gaps[int(wide)])}; the gap shrinks by {_pm(d_gap, se_gap)} "
            "(reproduced when it shrinks by more than 2 s.e.; one seed gives no s.e.: partly)")
    else:
        skipped.append("sigmoid ≈ ReLU when wide (needs the second width at a depth of the main grid)")

    # depth trends on MNIST width 200
    for act, bn, sign, text in (("sigmoid", "before", 1, "Fig 2a: width-200 sigmoid nets with batch norm improve with depth"),
                                ("sigmoid", "off", -1, "Fig 2a: without batch norm, sigmoid nets generalise worse with depth")):
        part = _sel(w200, activation=act, batch_norm=bn)
        b, se = slope(part["depth"], part["test_pct"])
        ctx.qualitative_claim(text, _direction(b, se, sign),
                              f"least-squares slope of test accuracy on depth (MNIST, width {width}, {act}, batch norm "
                              f"{bn}): {_pm(b, se, 3, ' pp per layer')}; means by depth: " + ", ".join(
                                  f"{d}: {_fmt(_acc(part, depth=d))}" for d in depths))

    # CIFAR-10 (Fig 2b)
    if len(cf):
        c200 = cf[cf["width"] == width]
        rows_bn = {bn: [(d, _diff(_acc(c200, activation="relu", batch_norm=bn, depth=d),
                                  _acc(c200, activation="sigmoid", batch_norm=bn, depth=d))) for d in cifar_depths]
                   for bn in BATCH_NORM}
        with_bn = sum(v > 0 for _, (v, _) in rows_bn["before"])
        without = sum(v > 0 for _, (v, _) in rows_bn["off"])
        n = len(cifar_depths)
        ok = (with_bn == n) + (without < n)
        ctx.qualitative_claim(
            "Fig 2b: on CIFAR-10 ReLU nets reliably beat sigmoid nets only with batch norm",
            _verdict_of(ok, 2),
            "ReLU − sigmoid test accuracy (pp) by depth, with batch norm: "
            + ", ".join(f"{d}: {_pm(v, s, 2, '')}" for d, (v, s) in rows_bn["before"])
            + "; without: " + ", ".join(f"{d}: {_pm(v, s, 2, '')}" for d, (v, s) in rows_bn["off"])
            + f" — ReLU ahead at {with_bn}/{n} depths with and {without}/{n} without batch norm")
        if len(cifar_depths) >= 3:
            for bn, sign, text in (("off", -1, "Fig 2b: without batch norm, CIFAR-10 nets generalise less well with depth"),
                                   ("before", 1, "Fig 2b: with batch norm, CIFAR-10 accuracy increases with depth")):
                verdicts, ev = [], []
                for act in ACTIVATIONS:
                    part = _sel(c200, activation=act, batch_norm=bn)
                    b, se = slope(part["depth"], part["test_pct"])
                    verdicts.append(_direction(b, se, sign))
                    ev.append(f"{act} {_pm(b, se, 3, ' pp per layer')}")
                v = ("reproduced" if all(x == "reproduced" for x in verdicts)
                     else "not reproduced" if all(x == "not reproduced" for x in verdicts) else "partly")
                ctx.qualitative_claim(text, v, "least-squares slope of test accuracy on depth, width "
                                      f"{width}: " + "; ".join(ev))
            deep = [d for d in cifar_depths if d >= 6]
            if deep:
                shallow = min(cifar_depths)
                sig_deep_test = _acc(c200, activation="sigmoid", batch_norm="off", depth=max(deep))
                sig_shallow_test = _acc(c200, activation="sigmoid", batch_norm="off", depth=shallow)
                relu_deep_test = _acc(c200, activation="relu", batch_norm="off", depth=max(deep))
                sig_deep_train = _acc(c200, "train_pct", activation="sigmoid", batch_norm="off", depth=max(deep))
                sig_shallow_train = _acc(c200, "train_pct", activation="sigmoid", batch_norm="off", depth=shallow)
                relu_deep_train = _acc(c200, "train_pct", activation="relu", batch_norm="off", depth=max(deep))
                test_low = _m(sig_deep_test) < min(_m(sig_shallow_test), _m(relu_deep_test))
                train_low = _m(sig_deep_train) < min(_m(sig_shallow_train), _m(relu_deep_train))
                ctx.qualitative_claim(
                    f"Fig 2b: deep ({', '.join(map(str, deep))}-layer) width-{width} sigmoid nets generalise poorly "
                    "and struggle to fit the CIFAR-10 training set",
                    _verdict_of(test_low + train_low, 2),
                    f"no batch norm, test / best training accuracy (%): sigmoid {max(deep)} layers "
                    f"{_fmt(sig_deep_test)} / {_fmt(sig_deep_train)}, sigmoid {shallow} layers {_fmt(sig_shallow_test)} / "
                    f"{_fmt(sig_shallow_train)}, ReLU {max(deep)} layers {_fmt(relu_deep_test)} / {_fmt(relu_deep_train)}")
            else:
                skipped.append("the deep CIFAR-10 sigmoid nets fit poorly (needs CIFAR-10 depth 6 or 8)")
        else:
            skipped.append("CIFAR-10 accuracy trends with depth and the deep sigmoid nets (need ≥ 3 CIFAR-10 depths)")

    # §2: every net (but the deep CIFAR sigmoid ones) fits its training set virtually perfectly
    fits = []
    for task, part in (("MNIST", mn), ("CIFAR-10", cf)):
        for key, g in part.groupby(["width", "depth", "activation", "batch_norm"]):
            if task == "CIFAR-10" and key[2] == "sigmoid" and key[1] >= 6 and key[3] == "off":
                continue
            fits.append((task, key, _m(g["train_pct"])))
    n_fit = sum(v >= 99.0 for *_, v in fits)
    mnist_fit = [v for t, _, v in fits if t == "MNIST"]
    cifar_fit = [v for t, _, v in fits if t == "CIFAR-10"]
    ctx.qualitative_claim(
        "§2: the nets train to virtually perfect classification of the training set (≥ 99%)",
        "reproduced" if n_fit == len(fits) else ("partly" if mnist_fit and min(mnist_fit) >= 99.0 else "not reproduced"),
        f"{n_fit}/{len(fits)} configurations reach ≥ 99% best training accuracy within {ctx.params['epochs']} epochs "
        f"(patience {ctx.params.get('patience')}); MNIST range {min(mnist_fit):.2f}–{max(mnist_fit):.2f}%"
        + (f", CIFAR-10 range {min(cifar_fit):.2f}–{max(cifar_fit):.2f}%" if cifar_fit else "")
        + " — the paper trained up to 300 epochs", paper="stated")

    # §2/§4: best generalisation = wide ReLU with batch norm; ReLU gains more from batch norm
    for task, part in (("MNIST", mn), ("CIFAR-10", cf)):
        if not len(part):
            continue
        means = part.groupby(["width", "depth", "activation", "batch_norm"])["test_pct"].mean()
        w, d, act, bn = means.idxmax()
        widest = int(part["width"].max())
        ok = (act == "relu") + (bn != "off") + (w == widest)
        ctx.qualitative_claim(
            f"§2: the best generalisation comes from wide ReLU nets with batch norm ({task})",
            _verdict_of(ok, 3),
            f"best configuration: {d}×{w} {act}, batch norm {bn}, {means.max():.2f}% (widths run: "
            f"{', '.join(str(int(x)) for x in sorted(part['width'].unique()))})")
    for task, part in (("MNIST", mn), ("CIFAR-10", cf)):
        part = part[part["width"] == width]
        if not len(part):
            continue
        gains = {}
        for act in ACTIVATIONS:
            per_depth = [_diff(_acc(part, activation=act, batch_norm="before", depth=d),
                               _acc(part, activation=act, batch_norm="off", depth=d)) for d in sorted(part["depth"].unique())]
            m = float(np.mean([v for v, _ in per_depth]))
            ses = [s for _, s in per_depth]
            gains[act] = (m, math.sqrt(sum(s ** 2 for s in ses)) / len(ses) if all(math.isfinite(s) for s in ses) else math.nan)
        d_gain = gains["relu"][0] - gains["sigmoid"][0]
        se = math.sqrt(gains["relu"][1] ** 2 + gains["sigmoid"][1] ** 2)
        ctx.qualitative_claim(
            f"§4: ReLU nets benefit more from batch norm than sigmoid nets ({task})",
            _direction(d_gain, se),
            f"test accuracy with − without batch norm, mean over depths (width {width}): ReLU {_pm(*gains['relu'])}, "
            f"sigmoid {_pm(*gains['sigmoid'])}; difference {_pm(d_gain, se)}")
    return skipped


# --------------------------------------------------------------------------- Fig 3–7


def _pick_nodes(stats_run: pd.DataFrame, epoch: int, layers: Sequence[str]) -> list[tuple[str, int]]:
    """Two nodes per layer: a typical one (median spread of its class medians) and the most class-selective one."""
    from ..report.figures import pick_nodes

    last = stats_run[stats_run["epoch"] == epoch]
    out = []
    for layer in layers:
        order = pick_nodes(last, layer, 10 ** 6)
        if not order:
            continue
        typical = order[len(order) // 2]
        out += [(layer, typical), (layer, order[0])] if order[0] != typical else [(layer, typical)]
    return out


def _node_figures(ctx, node_runs, stats, trained, tasks) -> None:
    from ..report import figures

    ctx.report.add_heading("Fig 3–7 — activation distributions and class medians (4×width nets, no batch norm)")
    if not len(stats):
        ctx.report.add_text("No activation statistics were recorded.", note=True)
        return
    ctx.report.add_text(
        "One run (seed 0) per panel: quantiles of different seeds' nodes are not averaged. 'Trained' is the "
        "best-validation model (the one evaluated on the test set); 'untrained' the network at initialisation. "
        "Fig 3–4 show, for the first, second and last hidden layer, a typical node (the median of the layer's "
        "nodes ranked by how far apart its class medians are) and the most class-selective node.")
    specs = [("MNIST", "sigmoid", "fig3_sigmoid_distributions", "Fig 3"), ("MNIST", "relu", "fig4_relu_distributions", "Fig 4")]
    for task, act, name, label in specs:
        run = _first_run(node_runs, task, act)
        if run is None:
            continue
        part = stats[stats["run_id"] == run]
        e = trained[run]
        fig = figures.activation_distributions(part, epochs=[0, e], nodes=_pick_nodes(part, e, NODE_LAYERS),
                                               nodes_per_layer=2, title=f"{label} — {task}, 4-layer {act} net, run {run}")
        ctx.figure(fig, f"{label}: per-class activation distributions (box q25–q75, median line, whiskers q05–q95) of "
                   f"the {act} net at nodes of hidden layers 1, 2 and 4, untrained and trained (epoch {e}); {task}.", name)
    for task, act, name, label in (("MNIST", "sigmoid", "fig5_sigmoid_medians", "Fig 5"), ("MNIST", "relu", "fig6_relu_medians", "Fig 6"),
                                   ("CIFAR-10", "sigmoid", "fig7_cifar10_sigmoid_medians", "Fig 7 (left)"),
                                   ("CIFAR-10", "relu", "fig7_cifar10_relu_medians", "Fig 7 (right)")):
        run = _first_run(node_runs, task, act)
        if run is None:
            continue
        part = stats[stats["run_id"] == run]
        e = trained[run]
        fig = figures.class_medians(part, epochs=[0, e], title=f"{label} — {task}, 4-layer {act} net, run {run}")
        ctx.figure(fig, f"{label}: median activation of each class (colour) at every node of each hidden layer (rows), "
                   f"untrained (left) and trained (right, epoch {e}); {task}, {act}.", name)


def _first_run(node_runs: pd.DataFrame, task: str, act: str, bn: str = "off") -> str | None:
    part = _sel(node_runs, task=task, activation=act, batch_norm=bn).sort_values("seed")
    return None if part.empty else str(part["run_id"].iloc[0])


def _layer_values(summary: pd.DataFrame, runs: pd.DataFrame, column: str, epoch_of, layer: str) -> list[float]:
    """Per run (seed) of ``runs``: ``column`` of ``layer`` at the epoch ``epoch_of(run_id)``."""
    out = []
    for rid in runs["run_id"]:
        e = epoch_of(rid)
        if e is None:
            continue
        row = summary[(summary["run_id"] == rid) & (summary["epoch"] == e) & (summary["layer"] == layer)]
        if len(row):
            out.append(float(row[column].iloc[0]))
    return out


NODE_COLUMNS = ("eta2", "median_spread", "overlap", "median_extreme", "median_zero", "median_offcentre",
                "active_classes", "within_std", "point_fraction")


def node_summary_figure(table: pd.DataFrame):
    """Per hidden layer, untrained (dotted) vs trained (solid), sigmoid (red) vs ReLU (blue), one row per data set:
    η², IQR overlap of class pairs, saturated sigmoid medians, ReLU medians at 0 (mean ± s.e. over seeds)."""
    import matplotlib

    from ..report import figures

    panels = [("eta2", ACTIVATIONS, "class information η²"), ("overlap", ACTIVATIONS, "IQR overlap of class pairs"),
              ("median_extreme", ("sigmoid",), "sigmoid: medians ≤ 0.1 or ≥ 0.9"),
              ("median_zero", ("relu",), "ReLU: medians at 0")]
    tasks = [t for t in TASKS if (table["task"] == t).any()]
    colors = {"sigmoid": figures.TAB10[3], "relu": figures.TAB10[0]}
    with matplotlib.rc_context(figures.STYLE):
        fig, axes = figures.new_figure(len(tasks), len(panels), panel=(2.5, 2.1))
        for r, task in enumerate(tasks):
            for c, (col, acts, label) in enumerate(panels):
                ax = axes[r][c]
                for act in acts:
                    for state, ls in (("untrained", ":"), ("trained", "-")):
                        part = table[(table["task"] == task) & (table["activation"] == act) & (table["state"] == state)]
                        if part.empty:
                            continue
                        g = part.groupby("layer_index")[col]
                        se = (g.std(ddof=1) / np.sqrt(g.count())).to_numpy(float)
                        ax.errorbar(g.mean().index.to_numpy(float), g.mean().to_numpy(float), yerr=np.nan_to_num(se),
                                    color=colors[act], ls=ls, marker="o", ms=3, capsize=2, label=f"{act}, {state}")
                ax.set_title(f"{task}: {label}", fontsize=8)
                ax.set_xlabel("hidden layer")
                ax.set_xticks(sorted(table["layer_index"].unique()))
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=4)
    return fig


def _node_claims(ctx, node_runs, summary, saturation, sparsity, trained, tasks) -> None:
    if not len(summary):
        return
    untrained = {rid: 0 for rid in trained}
    layers = sorted(summary["layer"].unique(), key=lambda s: int(str(s).replace("hidden", "")))
    first, second, last = layers[0], layers[min(1, len(layers) - 1)], layers[-1]

    rows = []
    for _, r in node_runs[node_runs["batch_norm"] == "off"].iterrows():
        for state, e in (("untrained", untrained.get(r["run_id"])), ("trained", trained.get(r["run_id"]))):
            part = summary[(summary["run_id"] == r["run_id"]) & (summary["epoch"] == e)]
            for _, s in part.iterrows():
                rows.append({"task": r["task"], "activation": r["activation"], "seed": r["seed"], "state": state,
                             "layer": s["layer"], "layer_index": int(str(s["layer"]).replace("hidden", "")),
                             **{k: s[k] for k in NODE_COLUMNS}})
    table = pd.DataFrame(rows)
    if table.empty:
        return
    ctx.report.add_heading("How class information sits in the nodes (evidence for Fig 3–7)")
    ctx.figure(node_summary_figure(table),
               "Per hidden layer of the 4-layer nets without batch norm, mean ± s.e. over seeds: η² (the share of a "
               "node's output variance explained by the class, averaged over nodes), the fraction of class pairs "
               "whose interquartile ranges overlap, the fraction of sigmoid class medians within 0.1 of 0 or 1, and of "
               "ReLU class medians at 0. Dotted: untrained; solid: trained (best-validation model).", "node_summary")
    shown = table.groupby(["task", "activation", "state", "layer"])[list(NODE_COLUMNS)].mean().reset_index()
    ctx.report.add_table(shown, "Node statistics per layer, mean over seeds (definitions: node_summary in "
                         "vanishing/studies/pretorius.py).", collapsed=True)

    def vals(task, act, state, layer, col):
        rs = _sel(node_runs, task=task, activation=act, batch_norm="off")
        return _layer_values(summary, rs, col, (trained if state == "trained" else untrained).get, layer)

    def sat_vals(task, act, layer, state):
        if saturation is None or not len(saturation):
            return []
        rs = _sel(node_runs, task=task, activation=act, batch_norm="off")
        out = []
        for rid in rs["run_id"]:
            e = (trained if state == "trained" else untrained).get(rid)
            row = saturation[(saturation["run_id"] == rid) & (saturation["epoch"] == e) & (saturation["layer"] == layer)]
            if len(row):
                out.append(100 * float(row["saturation"].iloc[0]))
        return out

    def by_layer(fn, digits=3, scale=1.0, unit=""):
        return ", ".join(f"{lay} {scale * fn(lay):.{digits}f}{unit}" for lay in layers)

    T = "MNIST"
    # Fig 3 — trained sigmoid activations skewed towards 0 and 1
    up_sat = sum(_m(sat_vals(T, "sigmoid", lay, "trained")) > _m(sat_vals(T, "sigmoid", lay, "untrained")) for lay in layers)
    up_med = sum(_m(vals(T, "sigmoid", "trained", lay, "median_extreme")) > _m(vals(T, "sigmoid", "untrained", lay, "median_extreme"))
                 for lay in layers)
    ctx.qualitative_claim(
        "Fig 3: trained sigmoid activations are skewed towards the saturation points 0 and 1",
        "reproduced" if up_sat == up_med == len(layers) else ("partly" if up_sat + up_med > 0 else "not reproduced"),
        "saturated (sample, node) pairs (|f′| < 5% of its max, i.e. output within 0.013 of 0 or 1), untrained → "
        "trained: " + ", ".join(f"{lay} {_fmt(sat_vals(T, 'sigmoid', lay, 'untrained'), 1)} → "
                                f"{_fmt(sat_vals(T, 'sigmoid', lay, 'trained'), 1)}%" for lay in layers)
        + "; class medians within 0.1 of 0 or 1: " + ", ".join(
            f"{lay} {100 * _m(vals(T, 'sigmoid', 'untrained', lay, 'median_extreme')):.1f} → "
            f"{100 * _m(vals(T, 'sigmoid', 'trained', lay, 'median_extreme')):.1f}%" for lay in layers)
        + f" (reproduced when both rise in every layer: {up_sat}/{len(layers)} and {up_med}/{len(layers)})")
    # Fig 3 — the 2nd hidden layer less saturated, higher variance
    sat_tr = {lay: _m(sat_vals(T, "sigmoid", lay, "trained")) for lay in layers}
    std_tr = {lay: _m(vals(T, "sigmoid", "trained", lay, "within_std")) for lay in layers}
    if len(layers) >= 3:
        less_sat = sat_tr[second] == min(sat_tr.values())
        more_var = std_tr[second] == max(std_tr.values())
        ctx.qualitative_claim(
            "Fig 3: in trained sigmoid nets the 2nd hidden layer is less saturated, with higher variance",
            _verdict_of(less_sat + more_var, 2),
            "trained sigmoid — saturated pairs: " + by_layer(lambda l: sat_tr[l], 1, unit="%")
            + "; mean within-class std: " + by_layer(lambda l: std_tr[l])
            + f" (reproduced when {second} has the lowest saturation and the highest std)")
    # Fig 3 — last layer heavily saturated, some point distributions
    pf = {lay: _m(vals(T, "sigmoid", "trained", lay, "point_fraction")) for lay in layers}
    ctx.qualitative_claim(
        "Fig 3: last-layer sigmoid distributions are the most saturated, some almost point distributions",
        _verdict_of((sat_tr[last] == max(sat_tr.values())) + (pf[last] > pf[first]), 2),
        "trained sigmoid — saturated pairs: " + by_layer(lambda l: sat_tr[l], 1, unit="%")
        + f"; class distributions with std < {POINT_STD}: " + by_layer(lambda l: pf[l], 1, 100, "%")
        + f" (reproduced when {last} is the most saturated and has more point distributions than {first})")
    # Fig 4 — deeper ReLU nodes active for fewer samples
    if sparsity is not None and len(sparsity):
        rs = _sel(node_runs, task=T, activation="relu", batch_norm="off")
        sp_run = at_trained(sparsity[sparsity["run_id"].isin(rs["run_id"])], trained)
        sp = {lay: (100 * sp_run[sp_run["layer"] == lay]["sparsity"].astype(float)).tolist() for lay in layers}
        dv, se = _diff(sp[last], sp[first])
        ctx.qualitative_claim(
            "Fig 4: trained ReLU nodes in deeper layers activate for fewer samples than in earlier layers",
            _direction(dv, se),
            "trained ReLU sparsity: " + ", ".join(f"{k} {_fmt(v, 1)}%" for k, v in sp.items())
            + f"; last − first {_pm(dv, se, 1)} (paper, Table 1: 80.40, 79.33, 81.93, 81.90%)")
    # Fig 4/6 — deeper ReLU nodes specialise towards single classes
    ac = {lay: vals(T, "relu", "trained", lay, "active_classes") for lay in layers}
    dv, se = _diff(ac[first], ac[last])
    ctx.qualitative_claim(
        "Fig 4/6: trained ReLU nodes in deeper layers are more specialised towards single classes",
        _direction(dv, se),
        "trained ReLU — classes (of 10) whose median output at a node is > 0, mean over nodes: "
        + ", ".join(f"{k} {_fmt(v)}" for k, v in ac.items()) + f"; first − last {_pm(dv, se, 2, '')}")
    # Fig 5 — untrained sigmoid: medians near 0.5 in layer 1, closer together with depth
    off_u = {lay: _m(vals(T, "sigmoid", "untrained", lay, "median_offcentre")) for lay in layers}
    spread_u = {lay: vals(T, "sigmoid", "untrained", lay, "median_spread") for lay in layers}
    eta_u = {lay: _m(vals(T, "sigmoid", "untrained", lay, "eta2")) for lay in layers}
    dv, se = _diff(spread_u[first], spread_u[last])
    ctx.qualitative_claim(
        "Fig 5: untrained sigmoid medians sit near 0.5 in layer 1 and overlap more with depth",
        _verdict_of((off_u[first] < 0.15) + (_direction(dv, se) != "not reproduced"), 2),
        "untrained sigmoid — mean |median − 0.5|: " + by_layer(lambda l: off_u[l])
        + "; spread of the class medians (std over classes, activation units): "
        + ", ".join(f"{k} {_fmt(v, 4)}" for k, v in spread_u.items())
        + "; η² (scale-free class information): " + by_layer(lambda l: eta_u[l])
        + " — the medians draw together in absolute terms, which is what the paper's plot shows")
    # Fig 5 — trained sigmoid: classes separated by medians saturating to 0/1, more in deeper layers
    ext_u = {lay: _m(vals(T, "sigmoid", "untrained", lay, "median_extreme")) for lay in layers}
    ext_t = {lay: _m(vals(T, "sigmoid", "trained", lay, "median_extreme")) for lay in layers}
    more = np.mean(list(ext_t.values())) > np.mean(list(ext_u.values()))
    deeper = ext_t[last] > ext_t[first]
    ctx.qualitative_claim(
        "Fig 5: trained sigmoid nets separate classes by saturating medians to 0/1, more in deeper layers",
        _verdict_of(more + deeper, 2),
        "class medians within 0.1 of 0 or 1, untrained → trained: "
        + ", ".join(f"{k} {100 * ext_u[k]:.1f} → {100 * ext_t[k]:.1f}%" for k in layers)
        + "; trained η²: " + by_layer(lambda l: _m(vals(T, "sigmoid", "trained", l, "eta2"))))
    # Fig 6 — untrained: deep-layer class distributions overlap less with ReLU than with sigmoid
    e_sig = vals(T, "sigmoid", "untrained", last, "eta2")
    e_rel = vals(T, "relu", "untrained", last, "eta2")
    dv, se = _diff(e_rel, e_sig)
    ov = {a: _m(vals(T, a, "untrained", last, "overlap")) for a in ACTIVATIONS}
    ctx.qualitative_claim(
        "Fig 6: untrained, deep-layer class distributions overlap less with ReLU than with sigmoid",
        _direction(dv, se),
        f"untrained, {last}: η² ReLU {_fmt(e_rel, 3)}, sigmoid {_fmt(e_sig, 3)} (ReLU − sigmoid {_pm(dv, se, 3, '')}); "
        f"IQR overlap of class pairs ReLU {100 * ov['relu']:.1f}%, sigmoid {100 * ov['sigmoid']:.1f}%; untrained ReLU "
        "medians at 0: " + by_layer(lambda l: _m(vals(T, "relu", "untrained", l, "median_zero")), 1, 100, "%"))
    # Fig 6 — trained ReLU: early layers class-agnostic, deeper layers overlap less
    eta_t = {lay: vals(T, "relu", "trained", lay, "eta2") for lay in layers}
    ov_t = {lay: _m(vals(T, "relu", "trained", lay, "overlap")) for lay in layers}
    dv, se = _diff(eta_t[last], eta_t[first])
    ctx.qualitative_claim(
        "Fig 6: trained ReLU nets keep early layers class-agnostic; deeper layers overlap less",
        _verdict_of((dv > 0) + (ov_t[last] < ov_t[first]), 2),
        "trained ReLU η²: " + ", ".join(f"{k} {_fmt(v, 3)}" for k, v in eta_t.items())
        + f" (last − first {_pm(dv, se, 3, '')}); IQR overlap of class pairs: " + by_layer(lambda l: ov_t[l], 1, 100, "%"))
    # Fig 7 — CIFAR-10: trained nets stay closer to the untrained ones
    if "CIFAR-10" in tasks and (node_runs["task"] == "CIFAR-10").any():
        gain = {}
        for task in TASKS:
            for act in ACTIVATIONS:
                tr = np.mean([_m(vals(task, act, "trained", lay, "eta2")) for lay in layers])
                un = np.mean([_m(vals(task, act, "untrained", lay, "eta2")) for lay in layers])
                gain[(task, act)] = (tr, un)
        ok = sum(gain[("CIFAR-10", a)][0] - gain[("CIFAR-10", a)][1] < gain[("MNIST", a)][0] - gain[("MNIST", a)][1]
                 for a in ACTIVATIONS)
        ctx.qualitative_claim(
            "Fig 7: on CIFAR-10 the trained nets separate classes less; medians stay closer to untrained",
            _verdict_of(ok, 2),
            "η² (mean over layers) untrained → trained: " + ", ".join(
                f"{t} {a} {gain[(t, a)][1]:.3f} → {gain[(t, a)][0]:.3f}" for t in TASKS for a in ACTIVATIONS)
            + " (reproduced when the gain is smaller on CIFAR-10 for both activations)")


# --------------------------------------------------------------------------- Table 1


def table1_figure(rows: pd.DataFrame):
    """Table 1 as bars: measured sparsity per layer (mean ± s.e.), paper values as black diamonds."""
    import matplotlib

    from ..report import figures

    panels = [(t, bn) for t in TASKS for bn in BATCH_NORM if ((rows["data"] == t) & (rows["bn"] == bn)).any()]
    with matplotlib.rc_context(figures.STYLE):
        fig, axes = figures.new_figure(1, len(panels), panel=(2.6, 2.5), sharey=True)
        for ax, (task, bn) in zip(axes[0], panels):
            part = rows[(rows["data"] == task) & (rows["bn"] == bn)]
            for j, (state, color) in enumerate((("untrained", "0.65"), ("trained", figures.TAB10[0]))):
                s = part[part["state"] == state].sort_values("layer")
                x = s["layer"].to_numpy(float) + (j - 0.5) * 0.38
                ax.bar(x, s["mean"], width=0.36, color=color, yerr=np.nan_to_num(s["se"].to_numpy(float)), capsize=2,
                       label=f"measured, {state}")
                ax.scatter(x, s["paper"], marker="D", color="black", s=14, zorder=3,
                           label="paper" if state == "untrained" else None)
            ax.set_title(f"{task}, ReLU{' + batch norm' if bn != 'off' else ''}")
            ax.set_xlabel("hidden layer")
            ax.set_xticks(sorted(part["layer"].unique()))
            ax.set_ylim(0, 100)
        axes[0][0].set_ylabel("layer sparsity (%)")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=3)
    return fig


def sparsity_curves(sparsity: pd.DataFrame, runs: pd.DataFrame):
    """Layer sparsity of the 4-layer ReLU nets per epoch (0 = untrained), one line per layer, mean ± s.e. over seeds;
    the paper's trained value (mean over layers) as a dotted line. ``runs`` needs ``task`` and ``batch_norm``."""
    import matplotlib

    from ..report import figures
    from ..report.groups import seed_stats

    panels = [(t, bn) for t in TASKS for bn in BATCH_NORM if len(_sel(runs, task=t, batch_norm=bn))]
    with matplotlib.rc_context(figures.STYLE):
        fig, axes = figures.new_figure(1, len(panels), panel=(2.6, 2.4), sharey=True)
        for ax, (task, bn) in zip(axes[0], panels):
            part = sparsity[sparsity["run_id"].isin(_sel(runs, task=task, batch_norm=bn)["run_id"])]
            colors = figures.layer_colors(part["layer"])
            for layer, color in colors.items():
                st = seed_stats(part[part["layer"] == layer].assign(_v=100 * part["sparsity"].astype(float)), ["epoch"], "_v")
                x, m, se = st["epoch"].to_numpy(float), st["mean"].to_numpy(float), st["se"].to_numpy(float)
                ax.plot(x, m, color=color, marker="o" if len(x) <= 30 else None, ms=2.5, label=str(layer))
                ok = np.isfinite(se)
                if ok.any():
                    ax.fill_between(x[ok], (m - se)[ok], (m + se)[ok], color=color, alpha=0.2, lw=0)
            ax.axhline(float(np.mean(PAPER_TABLE1[(task, bn, "trained")])), color="0.3", ls=":", lw=1.2,
                       label="paper, trained (mean of layers)")
            ax.set_title(f"{task}, ReLU{' + batch norm' if bn != 'off' else ''}")
            ax.set_xlabel("epoch")
        axes[0][0].set_ylabel("layer sparsity (%)")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=5)
    return fig


def _table1(ctx, runs, sparsity, tasks, width) -> None:
    ctx.report.add_heading("Table 1 — layer sparsity of the 4-layer ReLU nets")
    if sparsity is None or not len(sparsity):
        ctx.report.add_text("No sparsity was recorded.", note=True)
        return
    node = runs[(runs["depth"] == NODE_DEPTH) & (runs["width"] == width) & (runs["activation"] == "relu")]
    sp = sparsity[sparsity["run_id"].isin(node["run_id"])]
    trained = trained_epochs(node, sp)
    rows, table = [], []
    for task in tasks:
        for bn in BATCH_NORM:
            rs = _sel(node, task=task, batch_norm=bn)
            if rs.empty:
                continue
            part = sp[sp["run_id"].isin(rs["run_id"])]
            values = {}
            for state in ("untrained", "trained"):
                at = part[part["epoch"] == 0] if state == "untrained" else at_trained(part, trained)
                for i in range(1, NODE_DEPTH + 1):
                    values[(state, i)] = (100 * at[at["layer"] == f"hidden{i}"]["sparsity"].astype(float)).tolist()
            for state in ("untrained", "trained"):
                for i in range(1, NODE_DEPTH + 1):
                    paper = PAPER_TABLE1[(task, bn, state)][i - 1]
                    v = values[(state, i)]
                    direction = None
                    if state == "trained":
                        up = _m(v) > _m(values[("untrained", i)])
                        if bn == "off":
                            direction = bool(up)
                        else:
                            no_bn = _sel(node, task=task, batch_norm="off")
                            nb = at_trained(sp[sp["run_id"].isin(no_bn["run_id"]) & (sp["layer"] == f"hidden{i}")], trained)
                            direction = bool(up and (nb.empty or _m(v) < 100 * nb["sparsity"].astype(float).mean()))
                    claim = ctx.numeric_claim(
                        f"Table 1 {task} ReLU{'+BN' if bn != 'off' else ''} layer {i}, {state} sparsity (%)", paper, v,
                        direction_holds=direction,
                        note=("direction: trained > untrained" + (", and below the trained net without BN" if bn != "off" else ""))
                        if direction else "")
                    m, se, n = mean_se(v)
                    rows.append({"data": task, "bn": bn, "state": state, "layer": i, "mean": m, "se": se, "paper": paper})
                    table.append({"data": task, "batch norm": bn, "layer": i, "state": state, "paper (%)": paper,
                                  "measured (%)": _fmt(v), "seeds": n, "verdict": claim["verdict"]})
    frame = pd.DataFrame(rows)
    ctx.report.add_table(pd.DataFrame(table), "Table 1, paper vs measured: the % of probe examples on which a node "
                         "outputs 0, averaged over the layer's nodes; untrained = at initialisation, trained = the "
                         "best-validation model; mean ± s.e. over seeds (eval mode: batch norm uses its running statistics).")
    ctx.figure(table1_figure(frame), "Table 1 as a figure: measured layer sparsity of the 4-layer ReLU nets (bars, mean ± s.e. "
               "over seeds), untrained (grey) and trained (blue), with the paper's values (black diamonds).", "table1_sparsity")
    ctx.figure(sparsity_curves(sp, node), "Layer sparsity of the 4-layer ReLU nets after every epoch (0 = untrained), "
               "mean ± s.e. over seeds; dotted: the paper's trained value, averaged over its four layers. Whether the "
               "curves still rise when early stopping ends the run tells how much of a gap to the paper is training time.",
               "sparsity_by_epoch")
    # sparsity grows with training, in every layer and setting
    grew = frame.pivot_table(index=["data", "bn", "layer"], columns="state", values="mean")
    n_up = int((grew["trained"] > grew["untrained"]).sum())
    ctx.qualitative_claim(
        "Table 1: sparsity increases with training",
        "reproduced" if n_up == len(grew) else ("partly" if n_up > 0 else "not reproduced"),
        f"trained sparsity above untrained in {n_up}/{len(grew)} (data set, batch norm, layer) cells; "
        f"untrained {grew['untrained'].min():.1f}–{grew['untrained'].max():.1f}%, trained "
        f"{grew['trained'].min():.1f}–{grew['trained'].max():.1f}%")
    # batch norm: less sparse but better generalising
    for task in tasks:
        f_t = frame[(frame["data"] == task) & (frame["state"] == "trained")]
        if set(f_t["bn"]) != set(BATCH_NORM):
            continue
        sp_bn, sp_off = f_t[f_t["bn"] == "before"]["mean"].mean(), f_t[f_t["bn"] == "off"]["mean"].mean()
        acc_bn = _acc(node, task=task, batch_norm="before")
        acc_off = _acc(node, task=task, batch_norm="off")
        dv, se = _diff(acc_bn, acc_off)
        ok = (sp_bn < sp_off) + (dv > 0)
        ctx.qualitative_claim(
            f"§3/§4: with batch norm ReLU layers are less sparse yet generalise better ({task})",
            _verdict_of(ok, 2),
            f"4×{width} ReLU, trained: mean layer sparsity {sp_bn:.1f}% with vs {sp_off:.1f}% without batch norm; "
            f"test accuracy {_fmt(acc_bn)} vs {_fmt(acc_off)}% ({_pm(dv, se)})")


# --------------------------------------------------------------------------- benchmarks and δ


def _benchmarks(ctx, mn, cf) -> None:
    means = mn.groupby(["width", "depth", "activation", "batch_norm"])["test_pct"].mean()
    w, d, act, bn = means.idxmax()
    best = _acc(mn, width=w, depth=d, activation=act, batch_norm=bn)
    ctx.numeric_claim(f"benchmark: similar MNIST MLPs reach 98.4% (ours: best, {d}×{w} {act} BN {bn})", BENCHMARK_MNIST,
                      best, note="a benchmark the paper cites, not its own result; ours is the best configuration")
    if len(cf):
        cmeans = cf.groupby(["width", "depth", "activation", "batch_norm"])["test_pct"].mean()
        ctx.qualitative_claim(
            "benchmark: much larger fully connected nets reach 56.84% on CIFAR-10; these smaller ones stay below",
            "reproduced" if cmeans.max() < BENCHMARK_CIFAR + 1 else "not reproduced",
            f"our best CIFAR-10 configuration: {cmeans.max():.2f}% ({'×'.join(map(str, cmeans.idxmax()[1::-1]))}, "
            f"{cmeans.idxmax()[2]}, batch norm {cmeans.idxmax()[3]})", paper="56.84% (Lin et al.)")


def _vanishing(ctx, runs, delta, depths, width) -> None:
    """Beyond the paper: per-example δ by layer at initialisation for the deepest nets, against the mean-field line."""
    from ..report import figures

    if delta is None or not len(delta):
        return
    deepest = max(depths)
    ctx.report.add_heading(f"Beyond the paper: δ by layer at initialisation ({deepest}×{width}, MNIST, no batch norm)")
    ratios = []
    for act in ACTIVATIONS:
        rs = _sel(runs, task="MNIST", depth=deepest, width=width, activation=act, batch_norm="off")
        d = delta[delta["run_id"].isin(rs["run_id"]) & (delta["epoch"] == 0)]
        if d.empty:
            continue
        base = _base(ctx.params, "MNIST", epochs=1, patience=None, probes=["none"])
        theory = ctx.theory(base, {"model.hidden": [width] * deepest, "model.activation": act, "model.init": INITS[act]})
        ctx.figure(figures.delta_by_layer(d, theory=theory, epochs=[0], title=f"{act}, {deepest}×{width}: per-example δ at init"),
                   f"RMS over the probe set of the per-example δ = ∂E_n/∂a at each hidden layer of the untrained "
                   f"{deepest}×{width} {act} net (mean ± s.e. over seeds); dashed: the mean-field prediction anchored "
                   "at the last hidden layer.", f"delta_init_{act}")
        g = d.groupby("layer")["rms"].mean()
        ratios.append(f"{act}: hidden1 / hidden{deepest} = {g.get('hidden1', math.nan) / g.get(f'hidden{deepest}', math.nan):.3g}")
    ctx.report.add_text(
        "The paper argues that the differences in generalisation cannot be ascribed to vanishing gradients, since "
        "its nets fit the training set. At initialisation the error signal does shrink towards the input in the "
        "sigmoid nets and not in the ReLU nets — " + "; ".join(ratios) + ". Adam's per-parameter step "
        "normalisation compensates for the smaller gradients of the lower layers, which is why the sigmoid nets "
        "train anyway.")


# =========================================================================== registration


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


NOTES = (
    "What the paper leaves out, and what this study does: the batch size (128); the validation split (10% of the "
    "training set, stratified); the early-stopping patience and monitor (validation accuracy; patience per scale); "
    "the grid of learning rates and the epochs of each grid-search run; the Xavier and He variants (Glorot's uniform "
    "'normalized initialization' for sigmoid nets, He's normal for ReLU nets); the position of batch norm (before "
    "the activation); the bias init (0); the samples used for the node statistics (100 training examples per "
    "class); which model is 'trained' (the best-validation one, evaluated on the test set). The medium scale cuts "
    "the epochs (≤ 20 instead of 300), the seeds (2 instead of 3), the second width (800 only at depths 2 and 4, "
    "one seed) and the learning-rate search (one per activation × batch norm on the 4×200 net)."
)

STUDY = Study(
    name="pretorius",
    title="Pretorius, Barnard & Davel 2019 — ReLU and sigmoidal activation functions",
    citation="A. M. Pretorius, E. Barnard, M. H. Davel, ReLU and sigmoidal activation functions, FAIR 2019 (seed 001)",
    reproduces=("Fig 1 learning curves", "Fig 2 test accuracy vs depth (MNIST, CIFAR-10)",
                "Fig 3–4 per-class activation distributions", "Fig 5–6 class medians untrained vs trained (MNIST)",
                "Fig 7 class medians (CIFAR-10)", "Table 1 layer sparsity",
                "per-example δ at init vs mean-field theory (beyond the paper)"),
    scales={
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
        "full": {"dataset": "mnist", "epochs": 300, "patience": 20, "seeds": 3, "width": 200,
                 "depths": [2, 4, 6, 8], "wide": 800, "wide_depths": [2, 4, 6, 8], "wide_seeds": 3,
                 "cifar": "on", "cifar_depths": [2, 4, 6, 8], "cifar_seeds": 3, "cifar_subset": None,
                 "lr": None, "lr_grid": [1e-4, 3e-4, 1e-3, 3e-3], "lr_epochs": 20, "lr_seeds": 3, "lr_rounds": 2,
                 "lr_scope": "config"},
    },
    run=run,
    add_arguments=add_arguments,
    notes=NOTES,
)
