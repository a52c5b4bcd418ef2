"""The ``vanishing`` command line: argument parsing and wiring only.

Exit codes: 0 success, 1 run failure (diverged, failed, busy), 2 bad input
(one line on stderr naming the field or file), 130 interrupted (Ctrl-C; the
next invocation resumes).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

from .config import ENGINES
from .cliutil import OneLineParser, split_top_level
from .errors import UsageError


# --------------------------------------------------------------------------- run


RUN_FLAGS: list[tuple[str, str, dict[str, Any]]] = [
    # (flag, config path, argparse kwargs)
    ("--dataset", "data.dataset", {"help": "mnist | mnist-sample | fashion-mnist | cifar10 | npz:PATH (default mnist-sample)"}),
    ("--val-fraction", "data.val_fraction", {"type": float, "help": "validation share of the training set; 0 = use the test set (default 0.1)"}),
    ("--split-seed", "data.split_seed", {"type": int, "help": "seed of the validation split (default 0)"}),
    ("--pixel-divisor", "data.pixel_divisor", {"type": float, "help": "inputs = pixels / this (default 255)"}),
    ("--standardize", "data.standardize", {"action": "store_const", "const": True, "help": "z-score each input feature"}),
    ("--train-subset", "data.train_subset", {"type": int, "help": "use a stratified subset of N training examples"}),
    ("--hidden", "model.hidden", {"help": "hidden widths, e.g. 128,128,128 (default 128,128)"}),
    ("--activation", "model.activation", {"help": "one for all layers or one per layer: relu | sigmoid,tanh | leaky_relu(alpha=0.1) …"}),
    ("--output", "model.output", {"help": "softmax | sigmoid | relu | linear (default softmax)"}),
    ("--batch-norm", "model.batch_norm", {"choices": ["off", "before", "after"], "help": "batch norm position (default off)"}),
    ("--layer-norm", "model.layer_norm", {"action": "store_const", "const": True, "help": "layer norm before each activation"}),
    ("--residual", "model.residual", {"action": "store_const", "const": True, "help": "identity skips around equal-width layers"}),
    ("--init", "model.init", {"help": "auto | xavier_uniform | xavier_normal | he_uniform | he_normal | lecun_normal | orthogonal(gain=1.0) | normal(std=0.01) | torch_default"}),
    ("--bias-init", "model.bias_init", {"help": "zeros | constant(value=…) | normal(std=…) | torch_default"}),
    ("--loss", "optim.loss", {"help": "ce | mse | bce (default ce)"}),
    ("--optimizer", "optim.optimizer", {"help": "sgd | adagrad | adadelta | rmsprop | adam | adamw | sdagd, options in call syntax: sgd(momentum=0.9)"}),
    ("--lr", "optim.lr", {"type": float, "help": "learning rate (default: the optimizer's)"}),
    ("--schedule", "optim.schedule", {"help": "constant | exponential(gamma=0.99) | step(step_size=10, gamma=0.1)"}),
    ("--clip-norm", "optim.clip_norm", {"type": float, "help": "clip the global gradient norm"}),
    ("--epochs", "train.epochs", {"type": int, "help": "number of epochs (default 10)"}),
    ("--batch-size", "train.batch_size", {"type": int, "help": "mini-batch size (default 128)"}),
    ("--early-stopping", "train.early_stopping", {"type": int, "metavar": "PATIENCE", "help": "stop after PATIENCE epochs without improvement; keep the best weights"}),
    ("--monitor", "train.monitor", {"choices": ["val_acc", "val_loss"], "help": "metric for the best epoch (default val_acc)"}),
    ("--seed", "seed", {"type": int, "help": "random seed (default 0)"}),
    ("--probes", "probes.enabled", {"metavar": "LIST", "help": "instruments: none | minimal | default | full, or probe specs, e.g. "
     "default,jacobian_spectrum or grad_norms(every=10),sparsity(epochs='init,last') (default: default; see docs/probes.md)"}),
    ("--probe-per-class", "probes.probe_per_class", {"type": int, "help": "probe-set examples per class (default 100)"}),
    ("--probe-split", "probes.probe_split", {"choices": ["train", "val", "test"], "help": "split the probe set is drawn from (default train)"}),
]

EXEC_FLAGS: list[tuple[str, str, dict[str, Any]]] = [
    ("--data-dir", "data_dir", {"help": "folder with the data set files (else $VANISHING_DATA/<name>, the cache, a download)"}),
    ("--mirror", "mirror", {"help": "download base URL (else $VANISHING_MIRROR, the standard mirrors)"}),
    ("--device", "device", {"help": "auto | cpu | cuda | cuda:N (default auto: CUDA when present)"}),
    ("--threads", "threads", {"type": int, "help": "torch threads (default: torch's)"}),
    ("--engine", "engine", {"choices": ENGINES, "help": "training step: auto (the fused explicit backward where "
     "the model allows it, see docs/performance.md) or autograd (always torch autograd); default auto"}),
    ("--results", "results", {"help": "results root (default ./vanishing-results)"}),
]


def add_run_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="train one configuration",
        description="Train one MLP configuration and store it in the results root. "
        "Flags override the TOML file given with --config; an unfinished run resumes.",
    )
    p.add_argument("--config", metavar="FILE", help="TOML file with [data] [model] [optim] [train] [exec] sections and seed")
    for flag, path, kwargs in RUN_FLAGS:
        p.add_argument(flag, dest=path, default=None, **kwargs)
    p.add_argument("--radius", dest="sdagd.radius", type=float, default=None, metavar="R",
                   help="sdagd: radius R of the search sphere (default 0.3); goes into the --optimizer spec")
    p.add_argument("--curvature", dest="sdagd.curvature", choices=["lecun", "ggn", "none"], default=None,
                   help="sdagd: curvature backend (default lecun; none: h = 0, the ablation without the Newton phase); goes into the --optimizer spec")
    for flag, path, kwargs in EXEC_FLAGS:
        p.add_argument(flag, dest="exec." + path, default=None, **kwargs)
    progress = p.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="exec.progress", action="store_const", const=True, default=None, help="show a progress bar")
    progress.add_argument("--no-progress", dest="exec.progress", action="store_const", const=False, help="never show a progress bar")
    p.add_argument("--tensorboard", metavar="DIR", dest="tensorboard", default=None,
                   help="also log gradient norms, per-example δ and activation histograms to TensorBoard in DIR/<run_id> "
                   "(needs: pip install 'vanishing[tensorboard]'; see docs/watch.md)")
    p.set_defaults(func=cmd_run)


def configs_from_args(args: argparse.Namespace):
    """(RunConfig, ExecConfig) from a TOML file (optional) overridden by flags."""
    from .config import RunConfig, config_from_dict, exec_from_dict, load_toml, with_overrides

    raw: dict[str, Any] = load_toml(args.config) if args.config else {}
    exec_raw = raw.pop("exec", {})
    config = config_from_dict(raw) if raw else RunConfig()
    values = vars(args)
    overrides: dict[str, Any] = {}
    for _, path, _ in RUN_FLAGS:
        value = values.get(path)
        if value is None:
            continue
        if path == "model.activation":
            acts = split_top_level(value)
            value = acts[0] if len(acts) == 1 else acts
        elif path == "probes.enabled":
            value = split_top_level(value)
        overrides[path] = value
    config = with_overrides(config, overrides)
    config = with_sdagd_flags(config, values.get("sdagd.radius"), values.get("sdagd.curvature"))
    if not isinstance(exec_raw, dict):
        from .errors import ConfigError

        raise ConfigError(f"{args.config}: [exec] must be a table")
    for key, value in values.items():
        if key.startswith("exec.") and value is not None:
            exec_raw[key[5:]] = value
    return config, exec_from_dict(exec_raw)


def with_sdagd_flags(config, radius: float | None, curvature: str | None):
    """``--radius``/``--curvature`` folded into the optimizer spec: sdagd(radius=R, curvature=...)."""
    if radius is None and curvature is None:
        return config
    from dataclasses import replace

    from .callspec import format_call, parse_call
    from .errors import ConfigError

    spec = parse_call(config.optim.optimizer, "optim.optimizer")
    if spec.name != "sdagd":
        raise ConfigError(f"--radius/--curvature apply to --optimizer sdagd, not {spec.name!r}")
    options = dict(spec.kwargs)
    if radius is not None:
        options["radius"] = radius
    if curvature is not None:
        options["curvature"] = curvature
    return replace(config, optim=replace(config.optim, optimizer=format_call("sdagd", options)))


def short_optimizer(spec: str) -> str:
    """The optimizer spec with only the options that differ from their defaults: 'sgd(momentum=0.9)'."""
    from .callspec import format_call
    from .optim import REGISTRY, canonical

    name, options = canonical(spec)
    defaults = REGISTRY[name].defaults
    return format_call(name, {k: v for k, v in options.items() if defaults.get(k) != v})


def describe(config) -> str:
    """One line: architecture, activation, optimizer, budget."""
    m, o, t = config.model, config.optim, config.train
    act = m.activation if isinstance(m.activation, str) else ",".join(m.activation)
    extras = [f"batch norm {m.batch_norm}"] if m.batch_norm != "off" else []
    extras += ["layer norm"] * m.layer_norm + ["residual"] * m.residual
    arch = " → ".join(str(w) for w in m.hidden)
    return (
        f"MLP in → {arch} → {m.output}, {act}, init {m.init}{'' if not extras else ', ' + ', '.join(extras)}; "
        f"{o.loss} loss, {short_optimizer(o.optimizer)} lr {o.lr:g}, {o.schedule} schedule; "
        f"batch {t.batch_size}, {t.epochs} epochs, seed {config.seed}"
    )


EPOCH_HEADER = f"{'epoch':>5}  {'train_loss':>10}  {'train_acc':>9}  {'val_loss':>8}  {'val_acc':>7}  {'test_acc':>8}  {'time_s':>6}"


def format_epoch(m: dict) -> str:
    return (
        f"{m['epoch']:>5}  {m['train_loss']:>10.4f}  {100 * m['train_acc']:>8.2f}%  {m['val_loss']:>8.4f}  "
        f"{100 * m['val_acc']:>6.2f}%  {100 * m['test_acc']:>7.2f}%  {m['epoch_time_s']:>6.2f}"
    )


def cmd_run(args: argparse.Namespace) -> int:
    from .config import resolve
    from .runner import RunBusyError, run

    from .device import describe_choice, preflight

    config, ex = configs_from_args(args)
    config = resolve(config)
    device = preflight(ex.device)  # a CUDA request without CUDA is one line and exit 2, before any data is read

    def on_start(result) -> None:
        print(describe_choice(ex.device, device))
        print(f"data: {result.data_source}")
        print(f"run {result.run_id}: {describe(config)}")
        if result.resumed_from_epoch:
            print(f"resuming after epoch {result.resumed_from_epoch}")
        print(EPOCH_HEADER)

    def on_epoch(metrics: dict) -> None:
        from tqdm import tqdm

        tqdm.write(format_epoch(metrics), file=sys.stdout)  # keeps a progress bar intact on a terminal
        sys.stdout.flush()

    try:
        callbacks = []
        if getattr(args, "tensorboard", None):
            from .watch.tensorboard import TensorBoardCallback

            callbacks.append(TensorBoardCallback(args.tensorboard))
        result = run(config, ex, callbacks=callbacks, on_epoch=on_epoch, on_start=on_start)
    except RunBusyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    s = result.summary
    if result.already_done:
        print(describe_choice(ex.device, device))
        print(f"data: {result.data_source}")
        print(f"run {result.run_id} already finished ({result.status}); stored results:")
        print(EPOCH_HEADER)
        for metrics in result.history:
            print(format_epoch(metrics))
    if result.status == "interrupted":
        print(f"interrupted after {s['epochs_done']} epochs; run the same command again to resume ({result.path})")
        return 130
    if result.status == "diverged":
        print(f"diverged: NaN/inf at step {s['diverged_step']} after {s['epochs_done']} finished epochs ({result.path})")
        return 1
    print(
        f"{result.status}: test accuracy {100 * s['test_acc']:.2f}% (MCR {100 * s['test_mcr']:.2f}%, {s['headline']} "
        f"{s['headline_epoch']}); training time {s['train_time_s']:.1f} s; results in {result.path}"
    )
    return 0


# --------------------------------------------------------------------------- status


def add_status_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="list the runs of a results root and their states")
    p.add_argument("results", nargs="?", default="vanishing-results", help="results root (default ./vanishing-results)")
    p.set_defaults(func=cmd_status)


def cmd_status(args: argparse.Namespace) -> int:
    from .store import load

    results = load(args.results)
    runs = results.runs
    if runs.empty:
        print(f"{args.results}: no runs")
        return 0
    print(f"{'run_id':<18} {'status':<11} {'dataset':<13} {'hidden':<16} {'activation':<12} {'optimizer':<8} {'epochs':>7} {'test_acc':>8}")
    for _, r in runs.iterrows():
        acc = "" if r["test_acc"] is None or r["test_acc"] != r["test_acc"] else f"{100 * r['test_acc']:.2f}%"
        done = r["epochs_done"] if r["epochs_done"] == r["epochs_done"] and r["epochs_done"] is not None else 0
        print(
            f"{r['run_id']:<18} {r['status']:<11} {str(r['dataset'])[:13]:<13} {str(r['hidden'])[:16]:<16} "
            f"{str(r['activation'])[:12]:<12} {str(r['optimizer']).split('(')[0]:<8} {int(done):>3}/{int(r['epochs']):<3} {acc:>8}"
        )
    counts = runs["status"].value_counts().to_dict()
    print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return 0


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .data.commands import add_parser as add_data_parser
    from .report.commands import add_parser as add_report_parser
    from .studies.commands import add_parser as add_study_parser
    from .sweep.commands import add_parser as add_sweep_parser
    from .theory.commands import add_parser as add_theory_parser
    from .watch.commands import add_parser as add_diagnose_parser

    parser = OneLineParser(
        prog="vanishing",
        description="Make the vanishing-gradient problem visible, measurable, predictable and fixable.",
    )
    parser.add_argument("--version", action="version", version=f"vanishing {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    sub.required = True
    for add in (add_run_parser, add_study_parser, add_sweep_parser, add_status_parser, add_report_parser,
                add_diagnose_parser, add_theory_parser, add_data_parser):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
