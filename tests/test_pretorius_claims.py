"""The Pretorius claims as pure functions of tiny synthetic result tables — no training.

Each claim function gets a case that reproduces, one that refutes and one that cannot decide (fewer than 3
seeds, or an effect within 2 s.e. of zero), Table 1 rows included.
"""

from __future__ import annotations

import itertools

import pandas as pd

from vanishing.analysis import NODE_COLUMNS
from vanishing.studies.pretorius import claims as C
from vanishing.studies.pretorius import rules
from vanishing.studies.pretorius.node_claims import node_claims

JITTER = (-0.1, 0.0, 0.1)  # per-seed offsets: s.e. = 0.058 at 3 seeds


def runs_table(value, *, tasks=("MNIST",), widths=(200,), depths=(2, 4, 6, 8), seeds=3, noise=1.0) -> pd.DataFrame:
    """One row per (task, width, depth, activation, batch norm, seed); ``value(cfg) -> (test, train, val)``."""
    rows = []
    for task, w, d, act, bn in itertools.product(tasks, widths, depths, C.ACTIVATIONS, C.BATCH_NORM):
        cfg = {"task": task, "width": w, "depth": d, "activation": act, "batch_norm": bn}
        test, train, val = value(cfg)
        for s in range(seeds):
            j = noise * JITTER[s % 3] * (1 + s // 3)
            rows.append({**cfg, "run_id": f"{task}-{w}-{d}-{act}-{bn}-{s}", "seed": s, "test_pct": test + j,
                         "train_pct": train + j, "val_pct": val + j, "headline_epoch": 5})
    return pd.DataFrame(rows)


def verdicts(rows):
    return [r["verdict"] for r in rows]


# --------------------------------------------------------------------------- the rules


def test_combine_share_within_rules():
    R, N, I, P = "reproduced", "not reproduced", "inconclusive", "partly"
    assert rules.combine([R, R]) == R
    assert rules.combine([R, I]) == I and rules.combine([I, I]) == I and rules.combine([]) == I
    assert rules.combine([R, N]) == P and rules.combine([N, I]) == N and rules.combine([N, N]) == N
    assert rules.combine([R, P]) == P and rules.combine([R, N, I]) == P
    assert rules.share([R, R, R, N]) == R and rules.share([R, R, I, N]) == I
    assert rules.share([R, R, N, N]) == "not reproduced" and rules.share([R, R, R, N, N]) == P
    assert rules.within(0.2, 0.1, 3, 1.0) == R and rules.within(3.0, 0.1, 3, 1.0) == N
    assert rules.within(0.9, 0.1, 3, 1.0) == I and rules.within(0.0, 0.1, 2, 1.0) == I
    assert rules.check(1.0, 0.2, 3) == R and rules.check(-1.0, 0.2, 3) == N and rules.check(1.0, 0.6, 3) == I
    assert rules.check(1.0, 0.2, 2) == I and rules.check(-1.0, 0.2, 3, sign=-1) == R


# --------------------------------------------------------------------------- Fig 1, Fig 2a, §2, §4


def test_fig1_claim():
    good = runs_table(lambda c: (97, 99.5, 97 + (1 if c["activation"] == "relu" else 0)))
    bad = runs_table(lambda c: (97, 99.5 - (5 if c["activation"] == "relu" else 0), 97 - (1 if c["activation"] == "relu" else 0)))
    assert C.fig1_claim(good, [2, 4, 6, 8], 200)["verdict"] == "reproduced"
    assert C.fig1_claim(bad, [2, 4, 6, 8], 200)["verdict"] == "not reproduced"
    assert C.fig1_claim(runs_table(lambda c: (97, 99.5, 98), seeds=2), [2, 4, 6, 8], 200)["verdict"] == "inconclusive"


def _fig2a(value, seeds=3, noise=1.0, widths=(200,)):
    rows, _ = C.fig2a_claims(runs_table(value, seeds=seeds, noise=noise, widths=widths), [2, 4, 6, 8], 200,
                             800 if 800 in widths else None, [2, 4] if 800 in widths else [])
    return {r["claim"].split(":")[1].strip()[:20]: r["verdict"] for r in rows}


def test_fig2a_claims():
    def paper(c):  # ReLU ahead; sigmoid + BN improves with depth, sigmoid without BN worsens; the gap closes when wide
        gap = ((2.0 if c["width"] == 200 else 0.5) if c["batch_norm"] == "off" else 2.0) if c["activation"] == "relu" else 0.0
        trend = (0.5 if c["batch_norm"] != "off" else -0.5) * c["depth"]
        return 90 + gap + trend, 99.5, 90
    got = _fig2a(paper, widths=(200, 800))
    assert set(got.values()) == {"reproduced"} and len(got) == 4
    flipped = _fig2a(lambda c: (90 - paper(c)[0] + 90, 99.5, 90), widths=(200, 800))
    assert set(flipped.values()) == {"not reproduced"}
    assert set(_fig2a(paper, seeds=2, widths=(200, 800)).values()) == {"inconclusive"}
    assert set(_fig2a(lambda c: (90, 99, 90), noise=30).values()) == {"inconclusive"}  # within noise of zero


def test_fit_claim():
    fits = runs_table(lambda c: (97, 99.8, 97))
    assert C.fit_claim(fits, fits.iloc[:0], 300, 300)["verdict"] == "reproduced"
    assert C.fit_claim(runs_table(lambda c: (90, 95, 90)), fits.iloc[:0], 300, 300)["verdict"] == "not reproduced"
    assert C.fit_claim(runs_table(lambda c: (97, 99.8, 97), seeds=2), fits.iloc[:0], 300, 300)["verdict"] == "inconclusive"


def test_best_config_and_bn_gain_claims():
    def best_is_wide_relu_bn(c):
        return 95 + 2 * (c["activation"] == "relu") + 1 * (c["batch_norm"] != "off") + 1 * (c["width"] == 800), 99, 95
    runs = runs_table(best_is_wide_relu_bn, widths=(200, 800))
    assert verdicts(C.best_config_claims(runs, runs.iloc[:0])) == ["reproduced"]
    worst = runs_table(lambda c: (200 - best_is_wide_relu_bn(c)[0], 99, 95), widths=(200, 800))
    assert verdicts(C.best_config_claims(worst, worst.iloc[:0])) == ["not reproduced"]
    two = runs_table(best_is_wide_relu_bn, widths=(200, 800), seeds=2)
    assert verdicts(C.best_config_claims(two, two.iloc[:0])) == ["inconclusive"]

    def gain(relu_gain, sig_gain):
        return lambda c: (90 + (relu_gain if c["activation"] == "relu" else sig_gain) * (c["batch_norm"] != "off"), 99, 90)
    assert verdicts(C.bn_gain_claims(runs_table(gain(3, 1)), runs.iloc[:0], 200)) == ["reproduced"]
    assert verdicts(C.bn_gain_claims(runs_table(gain(1, 3)), runs.iloc[:0], 200)) == ["not reproduced"]
    assert verdicts(C.bn_gain_claims(runs_table(gain(3, 1), seeds=2), runs.iloc[:0], 200)) == ["inconclusive"]


# --------------------------------------------------------------------------- Fig 2b (CIFAR-10)


def test_fig2b_claims():
    def paper(c):  # ReLU ahead only with BN; accuracy falls with depth without BN, rises with; deep sigmoid poor
        relu = c["activation"] == "relu"
        bn = c["batch_norm"] != "off"
        test = 50 + (2 if relu and bn else (1 if not relu and not bn and c["depth"] == 2 else 0)) + (0.5 if bn else -0.5) * c["depth"]
        train = 99 - (20 if (not relu and not bn and c["depth"] >= 6) else 0)
        return test - (5 if (not relu and not bn and c["depth"] >= 6) else 0), train, test
    cf = runs_table(paper, tasks=("CIFAR-10",))
    rows, skipped = C.fig2b_claims(cf, [2, 4, 6, 8], 200)
    assert verdicts(rows) == ["reproduced"] * 4 and not skipped
    flipped = runs_table(lambda c: (100 - paper(c)[0], 100 - paper(c)[1] + 98, 50), tasks=("CIFAR-10",))
    assert set(verdicts(C.fig2b_claims(flipped, [2, 4, 6, 8], 200)[0])) <= {"not reproduced", "partly"}
    assert "not reproduced" in verdicts(C.fig2b_claims(flipped, [2, 4, 6, 8], 200)[0])
    two = runs_table(paper, tasks=("CIFAR-10",), seeds=2)
    assert set(verdicts(C.fig2b_claims(two, [2, 4, 6, 8], 200)[0])) == {"inconclusive"}
    _, skipped = C.fig2b_claims(runs_table(paper, tasks=("CIFAR-10",), depths=(4,)), [4], 200)
    assert skipped  # the depth trends need ≥ 3 depths


# --------------------------------------------------------------------------- Table 1


def sparsity_tables(level, seeds=3, noise=0.2):
    """4-layer ReLU runs and their sparsity probe table: ``level(task, bn, state, layer) -> %``."""
    runs, rows = [], []
    for task, bn, s in itertools.product(C.TASKS, C.BATCH_NORM, range(seeds)):
        rid = f"{task}-{bn}-{s}"
        runs.append({"run_id": rid, "task": task, "batch_norm": bn, "activation": "relu", "depth": 4, "width": 200,
                     "seed": s, "headline_epoch": 8, "test_pct": 90 + (2 if bn != "off" else 0) + JITTER[s % 3]})
        for epoch, i in itertools.product((0, 4, 8, 10), range(1, 5)):
            state = "untrained" if epoch == 0 else "trained"
            v = level(task, bn, state, i) + noise * JITTER[s % 3] * 10 + (0 if epoch in (0, 8) else -3)
            rows.append({"run_id": rid, "epoch": epoch, "layer": f"hidden{i}", "sparsity": v / 100})
    return pd.DataFrame(runs), pd.DataFrame(rows)


def paper_level(task, bn, state, i):
    return C.PAPER_TABLE1[(task, bn, state)][i - 1]


def test_table1_claims_reproduced_not_and_inconclusive():
    runs, sp = sparsity_tables(paper_level)
    values = C.table1_values(runs, sp, {r: 8 for r in runs["run_id"]})
    rows, frame = C.table1_claims(values)
    assert len(rows) == 32 and set(verdicts(rows)) == {"reproduced"}
    assert sorted(r["paper"] for r in rows) == sorted(v for vs in C.PAPER_TABLE1.values() for v in vs)
    assert frame["n"].eq(3).all()
    # trained nets 25 pp less sparse than the paper's (and below untrained: the direction fails too)
    runs2, sp2 = sparsity_tables(lambda t, b, s, i: paper_level(t, b, s, i) - (35 if s == "trained" else 0))
    rows2, _ = C.table1_claims(C.table1_values(runs2, sp2, {r: 8 for r in runs2["run_id"]}))
    trained = [r for r in rows2 if "trained sparsity" in r["claim"] and "untrained" not in r["claim"]]
    assert {r["verdict"] for r in trained} == {"not reproduced"}
    # halfway (the direction holds): partly
    runs3, sp3 = sparsity_tables(lambda t, b, s, i: paper_level(t, b, s, i) - (6 if s == "trained" and b == "off" else 0))
    rows3, _ = C.table1_claims(C.table1_values(runs3, sp3, {r: 8 for r in runs3["run_id"]}))
    assert "partly" in verdicts(rows3)
    # two seeds: every cell inconclusive
    runs4, sp4 = sparsity_tables(paper_level, seeds=2)
    rows4, _ = C.table1_claims(C.table1_values(runs4, sp4, {r: 8 for r in runs4["run_id"]}))
    assert set(verdicts(rows4)) == {"inconclusive"} and all("needs ≥ 3 seeds" in r["reason"] for r in rows4)
    # the last epoch (10) sits 3 pp lower: a different table, with its own label
    last, _ = C.table1_claims(C.table1_values(runs, sp, {r: 10 for r in runs["run_id"]}), label=", last epoch")
    assert all(r["claim"].endswith(", last epoch") for r in last)


def test_sparsity_growth_and_batch_norm_claims():
    runs, sp = sparsity_tables(paper_level)
    values = C.table1_values(runs, sp, {r: 8 for r in runs["run_id"]})
    assert C.sparsity_growth_claim(values)["verdict"] == "reproduced"
    assert verdicts(C.bn_sparsity_claims(values, runs, 200)) == ["reproduced", "reproduced"]
    flat_runs, flat_sp = sparsity_tables(lambda t, b, s, i: 80 - (30 if s == "trained" else 0))
    flat = C.table1_values(flat_runs, flat_sp, {r: 8 for r in flat_runs["run_id"]})
    assert C.sparsity_growth_claim(flat)["verdict"] == "not reproduced"
    two_runs, two_sp = sparsity_tables(paper_level, seeds=2)
    two = C.table1_values(two_runs, two_sp, {r: 8 for r in two_runs["run_id"]})
    assert C.sparsity_growth_claim(two)["verdict"] == "inconclusive"
    assert set(verdicts(C.bn_sparsity_claims(two, two_runs, 200))) == {"inconclusive"}


def test_benchmark_claims():
    mn = runs_table(lambda c: (98.3 if c["depth"] == 4 else 97, 99, 97))
    cf = runs_table(lambda c: (50, 90, 50), tasks=("CIFAR-10",))
    assert verdicts(C.benchmark_claims(mn, cf)) == ["reproduced", "reproduced"]
    mn_bad = runs_table(lambda c: (90, 99, 90))
    cf_bad = runs_table(lambda c: (60, 90, 60), tasks=("CIFAR-10",))
    assert verdicts(C.benchmark_claims(mn_bad, cf_bad)) == ["not reproduced", "not reproduced"]
    assert verdicts(C.benchmark_claims(runs_table(lambda c: (98.4, 99, 97), seeds=2),
                                       runs_table(lambda c: (50, 90, 50), tasks=("CIFAR-10",), seeds=2))) == \
        ["inconclusive", "inconclusive"]


# --------------------------------------------------------------------------- Fig 3–7 (node statistics)


def node_tables(stat, seeds=3, tasks=("MNIST",)):
    """4-layer runs without batch norm and a node_summary-like table: ``stat(task, act, state, layer_i, col)``."""
    runs, rows, sat, sp = [], [], [], []
    for task, act, s in itertools.product(tasks, C.ACTIVATIONS, range(seeds)):
        rid = f"{task}-{act}-{s}"
        runs.append({"run_id": rid, "task": task, "activation": act, "batch_norm": "off", "seed": s})
        for epoch, i in itertools.product((0, 5), range(1, 5)):
            state = "untrained" if epoch == 0 else "trained"
            j = JITTER[s % 3] * 0.01
            rows.append({"run_id": rid, "epoch": epoch, "layer": f"hidden{i}",
                         **{col: stat(task, act, state, i, col) + j for col in NODE_COLUMNS}})
            sat.append({"run_id": rid, "epoch": epoch, "layer": f"hidden{i}",
                        "saturation": stat(task, act, state, i, "saturation") + j})
            sp.append({"run_id": rid, "epoch": epoch, "layer": f"hidden{i}",
                       "sparsity": stat(task, act, state, i, "sparsity") + j})
    runs = pd.DataFrame(runs)
    return runs, pd.DataFrame(rows), pd.DataFrame(sat), pd.DataFrame(sp), {r: 5 for r in runs["run_id"]}


def paper_nodes(task, act, state, i, col):
    """Node statistics as the paper describes them (Fig 3–7)."""
    tr = state == "trained"
    cifar = task == "CIFAR-10"
    return {
        "saturation": (0.3 + 0.1 * i - (0.2 if i == 2 else 0)) if tr else 0.05,
        "median_extreme": (0.3 + 0.1 * i) if tr else 0.05,
        "within_std": (0.3 if i == 2 else 0.1) if tr else 0.1,
        "point_fraction": 0.1 * i if tr else 0.0,
        "sparsity": 0.5 + (0.05 * i if tr else 0),
        "active_classes": (10 - 2 * i) if tr else 5,
        "median_offcentre": 0.02 * i,
        "median_spread": 0.1 / i,
        "eta2": (0.05 * i * (0.3 if cifar else 1.0) if tr else 0.0) + (0.3 if act == "relu" else 0.1) * (not tr),
        "overlap": (0.9 - 0.1 * i) if tr else 0.5,
        "median_zero": 0.5,
    }[col]


def test_node_claims_reproduced_not_and_inconclusive():
    runs, summary, sat, sp, trained = node_tables(paper_nodes, tasks=("MNIST", "CIFAR-10"))
    rows = node_claims(runs, summary, sat, sp, trained, ["MNIST", "CIFAR-10"])
    assert len(rows) == 10 and set(verdicts(rows)) == {"reproduced"}, [(r["claim"], r["verdict"]) for r in rows]

    def flipped(task, act, state, i, col):  # every trend reversed
        return paper_nodes(task, act, state, 5 - i, col) if state == "trained" else -paper_nodes(task, act, state, i, col)
    runs2, summary2, sat2, sp2, trained2 = node_tables(flipped)
    got = {r["claim"]: r["verdict"] for r in node_claims(runs2, summary2, sat2, sp2, trained2, ["MNIST"])}
    assert got["Fig 4/6: trained ReLU nodes in deeper layers are more specialised towards single classes"] == "not reproduced"
    assert got["Fig 4: trained ReLU nodes in deeper layers activate for fewer samples than in earlier layers"] == "not reproduced"
    runs3, summary3, sat3, sp3, trained3 = node_tables(paper_nodes, seeds=2)
    assert set(verdicts(node_claims(runs3, summary3, sat3, sp3, trained3, ["MNIST"]))) == {"inconclusive"}


# --------------------------------------------------------------------------- the figure and the paper scale


def test_sparsity_against_epoch_figure_renders_with_the_paper_markers():
    from vanishing.report.figures import render
    from vanishing.studies.pretorius.figures import sparsity_curves

    runs, sp = sparsity_tables(paper_level)
    fig = sparsity_curves(sp, runs, selected={r: 8 for r in runs["run_id"]})
    assert len(fig.axes) == 4  # MNIST and CIFAR-10, batch norm off and before
    markers = [c for ax in fig.axes for c in ax.collections if len(c.get_offsets()) == 1]
    assert len(markers) >= 4 * 4 * 2  # per panel and layer: the untrained and the trained paper value
    assert render(fig, "png", 30)[:4] == b"\x89PNG"


def test_paper_scale_is_the_papers_protocol_on_the_4x200_nets():
    from vanishing.config import config_from_dict, resolve
    from vanishing.studies import get
    from vanishing.studies.pretorius import paper_cost
    from vanishing.studies.pretorius.protocol import _base, _plan, _point, node_probes

    study = get("pretorius")
    assert list(study.scales) == ["quick", "medium", "paper", "full"]
    p = study.parameters("paper", {})
    assert p["epochs"] == 300 and p["patience"] == p["epochs"] and p["seeds"] == 3 and p["cifar_subset"] is None
    plan = _plan(p, ["MNIST", "CIFAR-10"])
    assert {c[:4] for t in plan for c in plan[t]} == {(4, 200, a, b) for a in C.ACTIVATIONS for b in C.BATCH_NORM}
    cfg = resolve(config_from_dict(_base(p, "CIFAR-10", epochs=300, patience=300, probes=node_probes(p))))
    assert cfg.train.early_stopping == 300 and cfg.train.batch_size == 128 and cfg.data.train_subset is None
    assert cfg.optim.optimizer.startswith("adam") and "0.99" in cfg.optim.schedule
    assert any(s.startswith("activation_stats(") and "epochs='0,1,2,5,10,20," in s for s in cfg.probes.enabled)
    assert any(s.startswith("sparsity(epochs='all'") for s in cfg.probes.enabled)
    pt = _point(4, 200, "relu", "before")
    assert pt["model.init"] == "he_normal" and _point(4, 200, "sigmoid", "off")["model.init"] == "xavier_uniform"
    cost = paper_cost()
    assert cost == {"grid": 8 * 3 * 300, "depth_sweep": 16 * 3 * 30, "lr_search": 2 * 4 * 5 * 2 * 10,
                    "total": 7200 + 1440 + 800}
