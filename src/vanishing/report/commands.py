"""The ``vanishing report`` command: one self-contained report.html for a results root.

``add_parser(subparsers)`` registers the command on the top-level parser of
:mod:`vanishing.cli`; the handler is ``args.func``.

    vanishing report vanishing-results                      # → vanishing-results/report.html (+ report_figures/)
    vanishing report runs/ --out /tmp/runs.html --no-figure-files

Exit 0 when the report is written (figures that could not be drawn are listed
on stderr and in the page); 2 when DIR is not a results root.
"""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``report`` on the CLI's sub-parsers."""
    p = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report of a results root",
        description="Write one self-contained report.html for a results root: the runs per configuration with "
        "headline metrics (mean ± s.e. over seeds), learning curves, accuracy vs depth, every probe figure the "
        "runs have data for, sparsity/saturation/dead-unit tables, the commands and the environment. Figures "
        "are embedded; each is also saved as PDF and 300-dpi PNG in <report>_figures/. See docs/report.md.",
    )
    p.add_argument("results", metavar="DIR", nargs="?", default="vanishing-results",
                   help="results root (default ./vanishing-results)")
    p.add_argument("--out", metavar="FILE", help="report file (default DIR/report.html)")
    p.add_argument("--title", help="page title (default: 'vanishing results: DIR')")
    p.add_argument("--no-figure-files", action="store_true",
                   help="embed the figures only; write no PDF/PNG files beside the report (faster)")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from .results_report import write_results_report

    command = ["vanishing", *sys.argv[1:]] if sys.argv and sys.argv[1:2] == ["report"] else ["vanishing", "report", args.results]
    path, report = write_results_report(args.results, args.out, title=args.title, command=command,
                                        save_figures=not args.no_figure_files)
    for problem in report.problems:
        print(f"warning: could not make {problem}", file=sys.stderr)
    print(f"report: {path} ({len(report.figures)} figures)")
    return 0
