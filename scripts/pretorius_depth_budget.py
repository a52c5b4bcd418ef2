"""Fig 2a's depth trend of the width-200 sigmoid nets with batch norm, re-judged at a larger epoch budget.

    python scripts/pretorius_depth_budget.py RESULTS_ROOT [--csv FILE]

RESULTS_ROOT: the results of ``vanishing sweep docs/studies/pretorius_depth_budget.toml`` (MNIST, sigmoid/Xavier,
batch norm before, depths 2–8 × width 200, 3 seeds). Prints the test accuracy at the best-validation epoch per
depth and the claim row the study itself issues (:func:`vanishing.studies.pretorius.claims.fig2a_claims`: the
least-squares slope of test accuracy on depth, judged by its sign against 2 s.e.).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

import vanishing
from vanishing.analysis import mean_se
from vanishing.errors import StoreError
from vanishing.store.atomic import write_bytes
from vanishing.studies.pretorius import claims as C
from vanishing.studies.pretorius.sparsity_ablation import hidden_widths

CLAIM = "Fig 2a: width-200 sigmoid nets with batch norm improve with depth"


def depth_frame(tables) -> pd.DataFrame:
    """The study's runs frame (:func:`~vanishing.studies.pretorius.claims.runs_frame`) of the finished runs, with
    ``depth`` (hidden layers) and ``width`` read from ``hidden`` (the store's "200,200" or a config's list)."""
    runs = C.runs_frame(tables, "MNIST")
    runs = runs[runs["status"] == "done"].copy()
    widths = runs["hidden"].map(hidden_widths)
    runs["depth"] = widths.map(len)
    runs["width"] = widths.map(lambda ws: ws[0])
    return runs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results_root", type=Path)
    ap.add_argument("--csv", type=Path, default=None, help="write the per-depth table and the claim row here")
    args = ap.parse_args(argv)
    try:
        res = vanishing.load(args.results_root)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    runs = depth_frame(res)
    runs = runs[(runs["dataset"] == "mnist") & (runs["activation"] == "sigmoid") & (runs["batch_norm"] == "before")
                & (runs["width"] == 200)]
    if runs["depth"].nunique() < 2:
        print(f"error: {args.results_root}: needs finished width-200 sigmoid + batch-norm runs at ≥ 2 depths",
              file=sys.stderr)
        return 2
    depths = sorted(runs["depth"].unique())
    rows, _ = C.fig2a_claims(runs, depths, 200, None, [])
    row = next(r for r in rows if r["claim"] == CLAIM)
    epochs = int(res.epochs.groupby("run_id")["epoch"].max().max())
    table = []
    print(f"| depth | n | selected epochs (≤ {epochs}) | test acc (%) |")
    print("|---|---|---|---|")
    for d in depths:
        part = runs[runs["depth"] == d].sort_values("seed")
        mean, se, n = mean_se(part["test_pct"].tolist())
        sel = ", ".join(str(int(e)) for e in part["headline_epoch"])
        print(f"| {d} | {n} | {sel} | {mean:.2f} ± {se:.2f} |")
        table.append({"depth": d, "n": n, "selected_epochs": sel, "test_acc": mean, "test_acc_se": se})
    effect, se, n = row["measured"]
    print(f"\nslope {effect:+.3f} ± {se:.3f} pp per layer (n = {n}): {row['verdict']} — {row['reason']}")
    if args.csv:
        out = pd.DataFrame(table).assign(slope=effect, slope_se=se, verdict=row["verdict"], reason=row["reason"])
        write_bytes(args.csv, out.to_csv(index=False).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
