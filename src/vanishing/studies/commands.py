"""``vanishing study NAME``: run a paper reproduction and write its report."""

from __future__ import annotations

import argparse
import sys

from ..config import ENGINES

COMMON = {
    "epochs": {"type": int, "help": "epochs per run (overrides the scale)"},
    "seeds": {"type": int, "help": "number of seeds per configuration (overrides the scale)"},
    "dataset": {"help": "data set (overrides the scale; e.g. mnist-sample, mnist)"},
    "train_subset": {"type": int, "metavar": "N", "help": "train on a stratified subset of N examples"},
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    from . import available, get

    p = sub.add_parser(
        "study",
        help="reproduce a paper's experiment: paper-vs-measured table and report.html",
        description="Reproduce one paper's experiment. Prints the paper's numbers beside ours (mean ± s.e. over "
        "seeds) with a verdict per claim and writes a self-contained report.html with the figures.",
    )
    studies = p.add_subparsers(dest="study", metavar="NAME")
    studies.required = True
    for name in available():
        study = get(name)
        sp = studies.add_parser(name, help=study.title, description=f"{study.title}. {study.citation}. "
                                f"Reproduces: {'; '.join(study.reproduces)}.")
        scale = sp.add_mutually_exclusive_group()
        for s in study.scales:
            scale.add_argument(f"--{s}", dest="scale", action="store_const", const=s,
                               help=f"{s} scale: " + ", ".join(f"{k}={v}" for k, v in study.scales[s].items()))
        for key, kwargs in COMMON.items():
            sp.add_argument("--" + key.replace("_", "-"), dest=key, default=None, **kwargs)
        sp.add_argument("--results", help="results root (default ./vanishing-results/study-NAME-SCALE)")
        sp.add_argument("--executor", choices=["local", "ray"], default="local", help="where the runs train (default local)")
        sp.add_argument("--address", help="Ray cluster address (with --executor ray)")
        sp.add_argument("--workers", type=int, help="local worker processes (default one per core)")
        sp.add_argument("--data-dir", help="folder with the data set files")
        sp.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
        sp.add_argument("--engine", choices=ENGINES, default="auto",
                        help="training step: auto (the fused explicit step where the model allows it) or autograd")
        if study.add_arguments is not None:
            study.add_arguments(sp)
        sp.set_defaults(func=cmd_study, scale="quick")


def cmd_study(args: argparse.Namespace) -> int:
    from ..config import ExecConfig, resolve_exec
    from . import get, run_study

    study = get(args.study)
    # the common flags, and any study flag named like one of its scale parameters (e.g. robinson --widths)
    keys = set(COMMON) | {k for scale in study.scales.values() for k in scale}
    overrides = {key: getattr(args, key, None) for key in keys}
    ex = resolve_exec(ExecConfig(device=args.device, data_dir=args.data_dir, engine=args.engine))
    from ..device import describe_choice, preflight

    print(describe_choice(ex.device, preflight(ex.device)), flush=True)  # before any training: a bad --device exits 2 here
    options = {"executor": args.executor, "workers": args.workers, "address": args.address}
    run_study(study, args.scale, overrides, results=args.results, exec_config=ex, sweep_options=options, args=args,
              command=["vanishing", *sys.argv[1:]])
    return 0
