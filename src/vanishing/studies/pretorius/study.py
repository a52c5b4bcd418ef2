"""Pretorius et al. 2019 — the study's run: the protocol's trainings, then the report sections in order.

It sits above :mod:`.protocol` (what to train) and :mod:`.sections` (claims, tables and figures of the
trained runs) so that neither imports the other's caller.
"""

from __future__ import annotations

import pandas as pd

from ..base import StudyContext
from . import sections
from .claims import NODE_DEPTH
from .protocol import _depth_plan, _plan, _search_rates, _tasks, _train, _with, depth_sweep


def run(ctx: StudyContext) -> None:
    p = ctx.params
    tasks = _tasks(ctx)
    depths = _with(p["depths"], NODE_DEPTH)
    width, wide = int(p["width"]), p.get("wide")
    wide_depths = [int(d) for d in (p.get("wide_depths") or [])] if wide else []
    cifar_depths = _with(p.get("cifar_depths") or [NODE_DEPTH], NODE_DEPTH)
    sections.setup_text(ctx, tasks)

    # 1. learning rates (grid search)
    plan, depth_plan = _plan(p, tasks), _depth_plan(p)
    rates: dict[tuple, float] = {}
    lr_tables = []
    for task in tasks:
        configs = [c[:4] for c in plan[task]] + (depth_plan if task == "MNIST" else [])
        chosen, table = _search_rates(ctx, task, list(dict.fromkeys(configs)))
        rates.update({(task, *c): r for c, r in chosen.items()})
        lr_tables.append(table)
    lr_table = pd.concat([t for t in lr_tables if len(t)], ignore_index=True) if any(len(t) for t in lr_tables) else pd.DataFrame()

    # 2. the grid, then the depth sweep
    runs, epochs_df, probes, depth_runs = _train(ctx, tasks, plan, depth_plan, rates)
    main = runs[~runs["run_id"].isin(depth_runs["run_id"])] if len(depth_runs) else runs
    mn, cf = main[main["task"] == "MNIST"], main[main["task"] == "CIFAR-10"]
    # Fig 1–2 and the accuracy-vs-architecture claims read the depth sweep when there is one (one budget per figure)
    mn_arch = depth_runs if len(depth_runs) else mn
    arch_depths = depth_sweep(p) if len(depth_runs) else depths
    sections.accuracy_tables(ctx, runs, lr_table)
    sections.fig1(ctx, mn_arch, epochs_df, arch_depths, width)
    sections.fig2(ctx, pd.concat([mn_arch, cf], ignore_index=True), tasks)
    skipped = sections.performance_claims(ctx, mn_arch, mn, cf, arch_depths, width, wide, wide_depths, cifar_depths)
    sections.node_sections(ctx, main, probes, tasks, width)
    sections.table1(ctx, main, probes.get("sparsity"), width)
    sections.sparsity_readings(ctx, main, width)
    sections.benchmarks(ctx, mn, cf)
    sections.vanishing(ctx, pd.concat([mn_arch, mn], ignore_index=True).drop_duplicates("run_id"),
                       probes.get("backprop_signal"), arch_depths, width)
    if "CIFAR-10" not in tasks:
        skipped.append("everything on CIFAR-10 (Fig 2b, Fig 7, Table 1's CIFAR-10 rows): the CIFAR-10 part did not run")
    if skipped:
        ctx.report.add_text("Claims not tested at this scale: " + "; ".join(skipped) + ".", note=True)
        ctx.log("[pretorius] not tested at this scale: " + "; ".join(skipped))
