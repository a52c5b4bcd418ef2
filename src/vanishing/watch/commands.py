"""``vanishing diagnose DIR``: verdicts for stored runs (argument parsing and wiring only).

DIR is one run directory (it holds ``config.json``) or a results root (its
``runs/*`` are diagnosed one after the other) — runs of ``vanishing run`` and
runs written by ``Watch.save`` alike. Exit codes: 0 every run was diagnosed
(whatever the verdicts), 2 bad input: not a run directory or results root,
or a run without the per-example δ table (the message names the probe to
add). ``--figure`` saves the RMS-δ-per-layer figure, ``--time-figure`` the
through-time figure of runs with recurrent layers (``watch/figure.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "diagnose",
        help="verdicts (vanishing, exploding, saturated, dead units, healthy) for stored runs",
        description="Diagnose the runs in DIR from their probe tables: per-example δ layer by layer (backprop_signal), "
        "saturation and dead units, by the thresholds of docs/watch.md, with evidence and remedies. DIR is a run "
        "directory or a results root (vanishing run or vanishing.watch(...).save).",
    )
    p.add_argument("dir", metavar="DIR", help="a run directory (…/runs/<run_id>) or a results root")
    p.add_argument("--at", type=int, metavar="N", help="the snapshot to judge: epoch (vanishing run) or step (watched runs); default the latest")
    p.add_argument("--json", action="store_true", help="print the diagnoses as JSON")
    p.add_argument("--figure", metavar="PATH", help="save the RMS-δ-per-layer figure (PNG/PDF by suffix; one per run, run id appended when several)")
    p.add_argument("--time-figure", metavar="PATH", help="save the through-time figure (‖∂L/∂h‖ against the lag per recurrent "
                   "layer, memory horizon marked) of runs that read a recurrent layer through time; run id appended when several")
    p.add_argument("--vanishing", type=float, metavar="R", help="geometric-mean ratio below which δ vanishes (default 0.5)")
    p.add_argument("--exploding", type=float, metavar="R", help="geometric-mean ratio above which δ explodes (default 2)")
    p.add_argument("--saturation", type=float, metavar="F", help="saturated share of (example, node) pairs that flags a layer (default 0.25)")
    p.add_argument("--dead", type=float, metavar="F", help="share of dead nodes that flags a layer (default 0.10)")
    p.set_defaults(func=cmd_diagnose)


def run_dirs(path: Path) -> list[Path]:
    """The run directories under ``path`` (itself when it is one)."""
    from ..errors import StoreError

    if (path / "config.json").is_file():
        return [path]
    if (path / "runs").is_dir():
        runs = sorted(p for p in (path / "runs").iterdir() if (p / "config.json").is_file())
        if not runs:
            raise StoreError(f"{path}: the results root holds no runs")
        return runs
    raise StoreError(f"{path}: not a run directory (no config.json) nor a results root (no runs/ folder)")


def cmd_diagnose(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..errors import ConfigError
    from .diagnose import diagnose_run
    from .verdicts import MissingProbeError, Thresholds

    overrides = {k: getattr(args, k) for k in ("vanishing", "exploding", "saturation", "dead") if getattr(args, k) is not None}
    try:
        thresholds = replace(Thresholds(), **overrides)
    except ValueError as exc:
        raise ConfigError(f"diagnose: {exc}") from None
    runs = run_dirs(Path(args.dir))
    results, failed = [], []
    for path in runs:
        try:
            results.append((path, diagnose_run(path, thresholds, at=args.at)))
        except MissingProbeError as exc:
            failed.append(str(exc))
    if args.json:
        print(json.dumps([{"run_dir": str(p), **d.to_dict()} for p, d in results], indent=2))
    else:
        for i, (path, d) in enumerate(results):
            if i:
                print("-" * 72)
            print(d, end="")
    if args.figure and results:
        target = Path(args.figure)
        for path, d in results:
            out = target if len(results) == 1 else target.with_name(f"{target.stem}-{path.name}{target.suffix}")
            d.figure(out)
            print(f"figure: {out}", file=sys.stderr if args.json else sys.stdout)
    if args.time_figure and results:
        from .figure import through_time_figure, time_table

        timed = [(path, d) for path, d in results if len(time_table(path))]
        target = Path(args.time_figure)
        for path, d in timed:
            out = target if len(timed) == 1 else target.with_name(f"{target.stem}-{path.name}{target.suffix}")
            through_time_figure(path, out, steps=[d.snapshot] if d.snapshot in set(time_table(path)["epoch"]) else None)
            print(f"time figure: {out}", file=sys.stderr if args.json else sys.stdout)
        if not timed:
            print("time figure: no run read a recurrent layer through time; none written", file=sys.stderr)
    for message in failed:
        print(f"error: {message}", file=sys.stderr)
    return 2 if failed else 0
