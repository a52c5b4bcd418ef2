"""``vanishing sweep FILE``: argument parsing and wiring only (see :mod:`vanishing.sweep.api`).

Exit codes: 0 every run ended done or diverged (a diverged run is a result);
1 some run failed or could not be finished; 2 bad input (one line naming the
file, axis or field); 130 interrupted (Ctrl-C; run the same command again to resume).
"""

from __future__ import annotations

import argparse

from ..config import ENGINES


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a grid of configurations × seeds (resumable; local workers or Ray)",
        description="Run every point of the sweep file's grid/zip axes for every seed into one results root. "
        "Re-running the same command resumes: finished runs are skipped, unfinished ones continue from their "
        "last checkpoint. Runs that differ only in seed train as one seed batch where that is faster. "
        "See docs/sweeps.md for the file format.",
    )
    p.add_argument("file", metavar="FILE", help="sweep TOML file: base config sections, [grid], [zip], seeds")
    p.add_argument("--dry-run", action="store_true", help="print the table of runs (and their status in the store); train nothing")
    p.add_argument("--executor", choices=["local", "ray"], default="local", help="local worker processes (default) or Ray tasks")
    p.add_argument("--address", help="Ray cluster to join (with --executor ray), e.g. auto or ray://head:10001")
    p.add_argument("--workers", type=int, help="parallel workers (default: one single-threaded worker per core; 0 = in this process)")
    p.add_argument("--results", help="results root (default: the file's [exec] results, else ./vanishing-results)")
    p.add_argument("--data-dir", help="folder with the data set files (else $VANISHING_DATA/<name>, the cache, a download)")
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--threads", type=int, help="torch threads per worker (default 1)")
    p.add_argument("--engine", choices=ENGINES, help="training step: auto (the fused explicit step where the "
                   "model allows it) or autograd (default: the file's [exec] engine, else auto)")
    p.add_argument("--no-batch", action="store_true", help="never train seeds as one batch")
    p.add_argument("--retries", type=int, default=2, help="times a task whose worker died is retried (default 2)")
    p.add_argument("--ray-storage", choices=["auto", "shared", "return"], default="auto",
                   help="Ray: write run directories in place (shared file system) or return them to the driver (default auto)")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--live", dest="display", action="store_const", const="live", help="redraw a status table (default on a terminal)")
    shown.add_argument("--quiet", dest="display", action="store_const", const="quiet", help="one line per event (default in CI and logs)")
    p.set_defaults(func=cmd_sweep, display="auto")


def cmd_sweep(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from .api import sweep
    from .spec import load_sweep

    if args.workers is not None and args.workers < 0:
        raise ConfigError(f"--workers: expected a non-negative integer, got {args.workers}")
    if args.retries < 0:
        raise ConfigError(f"--retries: expected a non-negative integer, got {args.retries}")
    spec = load_sweep(args.file)
    overrides = {"data_dir": args.data_dir, "device": args.device, "threads": args.threads, "results": args.results,
                 "engine": args.engine}
    ex = spec.exec_config(**overrides)
    if not args.dry_run:
        from ..device import describe_choice, preflight

        print(describe_choice(ex.device, preflight(ex.device)), flush=True)  # before any run trains: exit 2 here
    result = sweep(
        spec,
        executor=args.executor,
        workers=args.workers,
        address=args.address,
        exec_config=ex,
        dry_run=args.dry_run,
        batch=not args.no_batch,
        retries=args.retries,
        display=args.display,
        ray_storage=args.ray_storage,
    )
    if result.dry_run:
        return 0
    return 0 if result.complete else 1
