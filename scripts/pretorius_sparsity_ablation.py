"""The pretorius rate / batch-size ablation of Table 1's trained ReLU sparsity, as a Markdown table and a CSV.

    python scripts/pretorius_sparsity_ablation.py ABLATION_ROOT [PAPER_ROOT] [--dataset mnist|cifar10]
        [--batch-norm off|before] [--budget 60] [--csv FILE]

ABLATION_ROOT: the results of ``vanishing sweep docs/studies/pretorius_sparsity_ablation.toml`` (MNIST) or
``…_cifar10.toml`` / ``…_bn.toml``; PAPER_ROOT: the results of ``vanishing study pretorius --paper`` (its 4×200
ReLU nets at the searched rate — without batch norm 1e-3 on MNIST and 3e-4 on CIFAR-10, with it 9e-3 — and batch
128 are the reference, read over their first BUDGET epochs). PAPER_ROOT may be left out where the sweep reran the
reference setting itself (``…_cifar10_bn.toml``). The computation is
:mod:`vanishing.studies.pretorius.sparsity_ablation`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

import vanishing
from vanishing.errors import StoreError
from vanishing.store.atomic import write_bytes
from vanishing.studies.pretorius import PAPER_TABLE1
from vanishing.studies.pretorius.sparsity_ablation import ablation_table, per_run, select

REFERENCE_LR = {("mnist", "off"): 1e-3, ("mnist", "before"): 9e-3,  # the --paper grid's searched rates (ReLU/He)
                ("cifar10", "off"): 3e-4, ("cifar10", "before"): 9e-3}
PAPER_NAME = {"mnist": "MNIST", "cifar10": "CIFAR-10"}
EFFECT_WORD = {"reproduced": "raises it", "not reproduced": "lowers it", "inconclusive": "within noise", "": ""}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ablation_root", type=Path)
    ap.add_argument("paper_root", type=Path, nargs="?", default=None,
                    help="the --paper results holding the reference runs (leave out if the sweep reran them)")
    ap.add_argument("--dataset", choices=sorted(PAPER_NAME), default="mnist",
                    help="which half of Table 1 (default mnist)")
    ap.add_argument("--batch-norm", choices=["off", "before"], default="off",
                    help="the nets without (default) or with batch norm")
    ap.add_argument("--budget", type=int, default=60, help="common epoch budget B (default 60)")
    ap.add_argument("--csv", type=Path, default=None, help="write the table as CSV here")
    args = ap.parse_args(argv)
    rows = []
    for root in (r for r in (args.ablation_root, args.paper_root) if r is not None):
        try:
            res = vanishing.load(root)
        except StoreError as exc:  # not a results root, a malformed run directory: one line
            print(f"error: {exc}", file=sys.stderr)
            return 2
        runs = select(res.runs, dataset=args.dataset, batch_norm=args.batch_norm)
        rows.append(per_run(runs, res.epochs, res.probe("sparsity"), args.budget))
    rows = pd.concat(rows, ignore_index=True)
    paper = sum(PAPER_TABLE1[(PAPER_NAME[args.dataset], args.batch_norm, "trained")]) / 4
    ref_lr = REFERENCE_LR[(args.dataset, args.batch_norm)]
    table = ablation_table(rows, paper, reference=(ref_lr, 128))
    if table.empty:
        print(f"error: no run with ≥ {args.budget} epochs of the {PAPER_NAME[args.dataset]} 4×200 ReLU net, "
              f"batch norm {args.batch_norm}", file=sys.stderr)
        return 2
    print(f"| Adam rate | batch | n | selected epochs (≤ {args.budget}) | sparsity at selected (%) "
          f"| at epoch {args.budget} (%) | test acc (%) | vs paper {paper:.1f}% | vs rate {ref_lr:g}, batch 128 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in table.itertuples():
        effect = "reference" if r.effect_why == "reference" else (
            f"{r.effect_vs_reference:+.1f} ± {r.effect_se:.1f} pp, {EFFECT_WORD[r.effect_verdict]}")
        print(f"| {r.lr:g} | {r.batch_size} | {r.n} | {r.selected_epochs} | {r.sparsity_selected:.1f} ± {r.se:.1f} "
              f"| {r.sparsity_budget:.1f} ± {r.se_budget:.1f} | {r.test_acc:.2f} ± {r.test_acc_se:.2f} "
              f"| {r.verdict} | {effect} |")
    if args.csv:
        write_bytes(args.csv, table.to_csv(index=False).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
