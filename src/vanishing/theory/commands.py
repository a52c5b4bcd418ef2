"""The ``vanishing theory`` command: mean-field predictions for one MLP configuration.

``add_parser(subparsers)`` registers the command on the top-level parser of
:mod:`vanishing.cli`; the handler is ``args.func``.

    vanishing theory --activation sigmoid --init xavier_normal --depth 5 --width 700 --dataset mnist
    vanishing theory --activation tanh --sigma-w2 1 --q1 0.1
    vanishing theory --reference

prints, per hidden layer, the predicted q, χ^(l), the ratio √χ^(l) of
consecutive per-example δ norms and the cumulative decay ‖δ_l‖/‖δ_L‖, then the
deep-network summary at the fixed point: q*, χ₁, ξ, trainable depth ≈ 6ξ and
the phase. q₁ comes from ``--q1``, else from the data (``--dataset``: q₁ =
σ²_{w,1}·mean(x²) + σ²_{b,1} over the training split), else the fixed point.
``--reference`` prints the SPEC §7 reference table instead. Exit 0; 2 on bad
input.
"""

from __future__ import annotations

import argparse
import math

from ..cliutil import split_top_level
from ..errors import ConfigError

DEFAULT_DEPTH = 5
DEFAULT_WIDTH = 700


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``theory`` on the CLI's sub-parsers."""
    p = subparsers.add_parser(
        "theory",
        help="mean-field predictions (q-map, χ, depth scale) for an MLP",
        description="Mean-field predictions for an MLP at initialisation (Poole et al. 2016; Schoenholz et al. 2017): "
        "per hidden layer the pre-activation second moment q, χ = σ_w²·E[φ′(a)²] and the predicted ratio √χ of "
        "consecutive per-example δ norms; then χ₁, depth scale ξ, trainable depth ≈ 6ξ and the phase at the fixed "
        "point. σ_w² = fan_in·Var(W). See docs/theory.md.",
    )
    p.add_argument("--activation", default="relu", help="hidden activation, one for all layers or one per layer: "
                   "sigmoid | tanh | relu | sigmoid,tanh … (default relu)")
    p.add_argument("--init", default="auto", help="weight init scheme (sets σ_w² per layer): auto | xavier_normal | "
                   "he_normal | torch_default | orthogonal(gain=1.0) | normal(std=0.01) … (default auto)")
    p.add_argument("--bias-init", default="zeros", help="bias scheme (sets σ_b², μ_b): zeros | constant(value=…) | "
                   "normal(std=…) | torch_default (default zeros)")
    p.add_argument("--depth", type=int, default=DEFAULT_DEPTH, help=f"number of hidden layers (default {DEFAULT_DEPTH})")
    p.add_argument("--width", type=int, default=DEFAULT_WIDTH, help=f"width of every hidden layer (default {DEFAULT_WIDTH})")
    p.add_argument("--hidden", help="hidden widths, e.g. 500,300 (overrides --depth/--width)")
    p.add_argument("--output", default="softmax", help="output activation; matters for auto init of the output layer (default softmax)")
    p.add_argument("--n-in", type=int, default=784, help="input features when no --dataset is given (default 784)")
    p.add_argument("--n-out", type=int, default=10, help="outputs when no --dataset is given (default 10)")
    p.add_argument("--dataset", help="measure q₁ on this data set's training split: mnist | mnist-sample | "
                   "fashion-mnist | cifar10 | npz:PATH")
    p.add_argument("--data-dir", metavar="DIR", help="folder with the data set files")
    p.add_argument("--q1", type=float, help="second moment of the first hidden pre-activation (overrides --dataset)")
    p.add_argument("--sigma-w2", type=float, help="σ_w² = fan_in·Var(W) for every layer (overrides --init)")
    p.add_argument("--sigma-b2", type=float, help="bias variance σ_b² for every layer (overrides --bias-init; μ_b = 0)")
    p.add_argument("--nodes", type=int, default=None, help="Gauss–Hermite nodes, even (default 200)")
    p.add_argument("--reference", action="store_true", help="print the SPEC §7 reference values (σ_b = 0, fixed point) and exit")
    p.set_defaults(func=cmd_theory)


def _fmt(v: float, width: int = 9) -> str:
    if isinstance(v, str):
        return f"{v:>{width}}"
    if math.isnan(v):
        return f"{'nan':>{width}}"
    if math.isinf(v):
        return f"{'∞' if v > 0 else '-∞':>{width}}"
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:>{width}.3e}"
    return f"{v:>{width}.4f}"


def _print_reference(nodes: int) -> int:
    from .meanfield import reference_values

    df = reference_values(n=nodes)
    print("SPEC §7 reference values (σ_b = 0, at the fixed point q*; χ₁ = σ_w²·E[φ′(√q* z)²])")
    print(f"{'activation':<10} {'init':<19} {'σ_w²':>7} {'q*':>9} {'χ₁':>9} {'√χ₁':>9} {'ξ':>9} {'6ξ':>9}  phase")
    for _, r in df.iterrows():
        print(f"{r['activation']:<10} {r['init']:<19} {r['sigma_w2']:>7.4f}{_fmt(r['q_star'], 10)}{_fmt(r['chi1'], 10)}"
              f"{_fmt(r['sqrt_chi1'], 10)}{_fmt(r['depth_scale'], 10)}{_fmt(r['trainable_depth'], 10)}  {r['phase']}")
    return 0


def cmd_theory(args: argparse.Namespace) -> int:
    """Print the mean-field predictions per hidden layer and the fixed-point summary."""
    from ..config import ModelConfig
    from .gaussian import DEFAULT_NODES
    from .meanfield import input_second_moment, predict

    nodes = DEFAULT_NODES if args.nodes is None else args.nodes
    if nodes < 2 or nodes % 2 or nodes > 300:
        raise ConfigError(f"--nodes: expected an even number of Gauss–Hermite nodes in 2…300, got {nodes}")
    if args.reference:
        return _print_reference(nodes)
    if args.hidden:
        try:
            hidden = tuple(int(w) for w in split_top_level(args.hidden))
        except ValueError:
            raise ConfigError(f"--hidden: expected comma-separated integers, got {args.hidden!r}") from None
    else:
        if args.depth < 1 or args.width < 1:
            raise ConfigError(f"--depth and --width must be >= 1, got {args.depth} and {args.width}")
        hidden = (args.width,) * args.depth
    if not hidden or min(hidden) < 1:
        raise ConfigError(f"--hidden: widths must be >= 1, got {args.hidden!r}")
    acts = split_top_level(args.activation)
    if len(acts) not in (1, len(hidden)):
        raise ConfigError(f"--activation: give one activation or one per hidden layer ({len(hidden)}), got {len(acts)}")
    if args.q1 is not None and not (math.isfinite(args.q1) and args.q1 >= 0):
        raise ConfigError(f"--q1: expected a finite number >= 0, got {args.q1}")
    for flag, value in (("--sigma-w2", args.sigma_w2), ("--sigma-b2", args.sigma_b2)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"{flag}: expected a finite number >= 0, got {value}")
    config = ModelConfig(hidden=hidden, activation=acts[0] if len(acts) == 1 else tuple(acts), output=args.output,
                         init=args.init, bias_init=args.bias_init)
    n_in, n_out, m2, source = args.n_in, args.n_out, None, None
    if args.dataset and args.q1 is None:
        from ..data import load_dataset

        ds = load_dataset(args.dataset, data_dir=args.data_dir)
        n_in, n_out = ds.n_features, ds.n_classes
        m2 = input_second_moment(ds.x_train)
        source = f"{args.dataset} training split ({len(ds.y_train):,} examples): m₂ = mean x² = {m2:.4f}"
    if n_in < 1 or n_out < 1:
        raise ConfigError(f"--n-in and --n-out must be >= 1, got {n_in} and {n_out}")
    df = predict(config, n_in, n_out, input_m2=m2, q1=args.q1, sigma_w2=args.sigma_w2, sigma_b2=args.sigma_b2, n=nodes)

    act_text = args.activation
    body = f"{hidden[0]}×{len(hidden)}" if len(set(hidden)) == 1 and len(hidden) > 1 else " → ".join(map(str, hidden))
    arch = f"{n_in} → {body} → {n_out}"
    init_text = f"σ_w² = {args.sigma_w2:g} (all layers)" if args.sigma_w2 is not None else f"init {args.init}"
    bias_text = f"σ_b² = {args.sigma_b2:g}" if args.sigma_b2 is not None else f"bias {args.bias_init}"
    print(f"mean-field predictions at init: MLP {arch}, {act_text}, {init_text}, {bias_text}")
    q1 = df.attrs["q1"]
    if df.attrs["q1_source"] == "given":
        print(f"q₁ = {q1:.4g} (given)")
    elif df.attrs["q1_source"] == "inputs":
        print(f"q₁ = σ²_w1·m₂ + σ²_b1 = {q1:.4g} from the {source}")
    else:
        print(f"q₁ = {q1:.4g}: the fixed point of the first layer (no --dataset or --q1)")
    print("per hidden layer: q = E[a²] (q-map), χ = σ_w²(next)·E[φ′(a)²], ratio = √χ = predicted ‖δ_l‖/‖δ_l+1‖ "
          "(per example; last row: to the output δ), decay = ‖δ_l‖/‖δ_L‖")
    print(f"{'layer':<8} {'activation':<12} {'width':>6} {'σ_w²':>8} {'q':>9} {'σ_w²next':>9} {'χ':>9} {'ratio':>9} "
          f"{'decay':>9} {'ξ':>9}  phase")
    for _, r in df.iterrows():
        print(f"{r['name']:<8} {r['activation'][:12]:<12} {r['width']:>6} {r['sigma_w2']:>8.4f}{_fmt(r['q'], 10)}"
              f"{_fmt(r['sigma_w2_next'], 10)}{_fmt(r['chi'], 10)}{_fmt(r['ratio'], 10)}{_fmt(r['decay'], 10)}"
              f"{_fmt(r['depth_scale'], 10)}  {r['phase']}")
    total = float(df["decay"].iloc[0])
    print(f"predicted ‖δ_1‖/‖δ_L‖ = {total:.4g} over {len(df) - 1} layer steps")
    fp = df.attrs["fixed_point"]
    mu_text = "" if fp["bias_mean"] == 0 else f", μ_b = {fp['bias_mean']:.4g}"
    print(f"deep limit ({fp['activation']}, σ_w² = {fp['sigma_w2']:.4g}, σ_b² = {fp['sigma_b2']:.4g}{mu_text}): "
          f"q* = {fp['q_star']:.4g}, χ₁ = {fp['chi1']:.4g}, √χ₁ = {fp['ratio']:.4g}")
    xi, phase_name = fp["depth_scale"], fp["phase"]
    if phase_name == "critical":
        print("phase: critical (χ₁ = 1): depth scale ξ = ∞, no depth limit from gradient vanishing")
    elif phase_name.startswith("ordered"):
        print(f"phase: {phase_name}: depth scale ξ = −1/ln χ₁ = {xi:.4g} layers, trainable depth ≈ 6ξ = {6 * xi:.4g} layers")
    else:
        print(f"phase: {phase_name}: ‖δ‖² grows e-fold every 1/ln χ₁ = {xi:.4g} layers (e⁶ over {6 * xi:.4g} layers)")
    return 0
