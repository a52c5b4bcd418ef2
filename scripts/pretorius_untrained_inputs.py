"""The pretorius untrained-net ablation (many seeds × two input preprocessings), as Markdown tables and a CSV.

    python scripts/pretorius_untrained_inputs.py [--seeds 30] [--tasks MNIST,CIFAR-10] [--csv FILE]

No training: each 4×200 net is built from its seed and read on the study's probe set. The computation and
why it is done are in :mod:`vanishing.studies.pretorius.untrained_inputs`; the data come from $VANISHING_DATA.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vanishing.errors import UsageError
from vanishing.store.atomic import write_bytes
from vanishing.studies.pretorius import untrained_inputs as u


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=30, help="seeds 0 … N−1 per net (default 30)")
    ap.add_argument("--tasks", default="MNIST,CIFAR-10", help="comma-separated, of MNIST, CIFAR-10")
    ap.add_argument("--csv", type=Path, default=None, help="write the per-layer summary as CSV here")
    args = ap.parse_args(argv)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    bad = [t for t in tasks if t not in u.DATASETS]
    if bad or not tasks:
        print(f"error: --tasks: expected a comma-separated list of {', '.join(u.DATASETS)}, got {args.tasks!r}",
              file=sys.stderr)
        return 2
    if args.seeds < 3:
        print(f"error: --seeds: expected an integer ≥ 3, got {args.seeds}", file=sys.stderr)
        return 2
    try:
        rows = u.measure(tasks, range(args.seeds), u.probe_loader())
    except UsageError as exc:  # a data file missing or malformed: one line
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = u.summarise(rows)
    relu = summary[summary["activation"] == "relu"]
    print(f"Untrained 4×200 ReLU/He sparsity (%), mean ± s.e. over {args.seeds} seeds (s.d. per seed), "
          "and over the first 3 (the --paper runs' seeds)\n")
    print("| data set | inputs | layer | paper | seeds 0–2 | verdict (3) | all seeds | s.d. | verdict (all) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in relu.itertuples():
        print(f"| {r.task} | {r.inputs} | {r.layer} | {r.paper:.2f} | {r.sparsity_first3:.2f} ± {r.se_first3:.2f} "
              f"| {r.verdict_first3} | {r.sparsity:.2f} ± {r.se:.2f} | {r.sd:.2f} | {r.verdict} |")
    print("\nFig 6, untrained hidden4: η² ReLU − sigmoid over paired seeds (the paper: positive)\n")
    print("| data set | inputs | n | η² ReLU | η² sigmoid | difference | verdict |")
    print("|---|---|---|---|---|---|---|")
    for r in u.eta2_gap(rows).itertuples():
        print(f"| {r.task} | {r.inputs} | {r.n} | {r.relu:.3f} | {r.sigmoid:.3f} | {r.difference:+.3f} ± {r.se:.3f} "
              f"| {r.verdict} |")
    if args.csv:
        write_bytes(args.csv, summary.to_csv(index=False).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
