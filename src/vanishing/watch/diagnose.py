"""Verdicts from the probe tables: vanishing, exploding, saturated, dead units — or healthy.

Works on the tables of a live :class:`~vanishing.watch.Watch` and on any run
directory of the store (``vanishing run`` or ``Watch.save``); it reads
tables only and imports no training code. The verdicts are taken at one
snapshot (default: the latest) of the probe set, from the **per-example**
δ_n = ∂E_n/∂a_n (``backprop_signal``): RMS_l = ((1/N) Σ_n ‖δ_{l,n}‖²)^½ for
hidden layer l = 1 … L, input side first. Per consecutive pair the ratio
r_l = RMS_l / RMS_{l+1} is the factor by which the signal changes going one
layer back; mean-field theory predicts it (√χ^(l), SPEC §7). Per-example
norms, not mini-batch norms, because a mini-batch δ mixes in the correlation
between examples; δ, not ∇W, because ∇W = δᵀy carries the forward factor
E[y²] that can hide a vanishing δ (SPEC §7).

Thresholds (:class:`Thresholds`; every one can be changed):

===================  =======  ================================================================
verdict              default  rule
===================  =======  ================================================================
vanishing            0.5      geometric mean of r_l < 0.5 (SPEC §12): the signal at least
                              halves per layer back, so L layers scale the first layer's
                              updates by ≤ 2^−(L−1). Theory: sigmoid with torch default
                              init √χ₁ ≈ 0.14, Xavier 0.24; critical inits (He + ReLU,
                              Xavier + tanh) give ≈ 1. 0.5 lies between.
                     0.01     or RMS_1 / RMS_L < 0.01 (with ≥ 3 hidden layers): a milder
                              per-layer decay that compounds over depth — tanh with torch's
                              default init (√χ₁ ≈ 0.58) loses 100× over 10 layers.
exploding            2.0      geometric mean of r_l > 2 (SPEC §12), the mirror image;
                     100      or RMS_1 / RMS_L > 100; or a non-finite δ or gradient.
saturated            0.25     a layer with > 25 % of its (example, node) pairs at
                              |f′(a)| < 5 % of max |f′| (the ``saturation`` probe). Such a
                              pair passes < 1/20 of the gradient it could; at a quarter of
                              the layer the loss of signal is no longer a few outliers but
                              the layer's operating point. Healthy sigmoid/tanh nets sit at
                              a few %; Glorot & Bengio (2010) saw top sigmoid layers at ~100 %.
dead units           0.10     a layer with > 10 % of its nodes inactive (f(a) ≤ 0) on
                              every probe example (``dead_units``). A dead ReLU gets no
                              gradient, so it never recovers: its capacity is lost. At He
                              init with zero bias a node is dead on N examples with
                              probability ≈ 2^−N, so 10 % on a probe batch of ≥ 32 is
                              not chance.
===================  =======  ================================================================

Evidence names layers: for vanishing, the "starved" layers whose RMS δ is
below ``starved`` (10 %) of the last hidden layer's — the first layers of the
net; for exploding, the "flooded" ones above 1/``starved`` (10×). The
weight-gradient norms (median ‖∇W‖₂ over the last 100 recorded steps up to the
snapshot) are shown beside δ for context but decide nothing.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..errors import UsageError
from .blocks import block_view

KINDS = ("vanishing", "exploding", "saturated", "dead_units", "healthy", "not_judged", "vanishing_through_time",
         "exploding_through_time", "gate_saturated")
TIME_STEPS = 3  # a module applied at least this many times per forward pass (a cell stepped in a loop) is read through time
HORIZON = 0.1  # memory horizon: the lag at which ‖∂L/∂h‖ falls below 10 % of its value at the last application


class MissingProbeError(UsageError):
    """The run has no per-example δ table, so no diagnosis can be made."""


@dataclass(frozen=True)
class Thresholds:
    """The decision rules of :func:`diagnose_tables` (see the module docstring for the why of each)."""

    vanishing: float = 0.5  # geometric-mean ratio RMS_l/RMS_{l+1} below this → vanishing
    exploding: float = 2.0  # … above this → exploding
    vanishing_total: float = 0.01  # RMS_first/RMS_last below this (≥ 3 hidden layers) → vanishing
    exploding_total: float = 100.0  # RMS_first/RMS_last above this (≥ 3 hidden layers) → exploding
    starved: float = 0.1  # evidence: layers with RMS_l/RMS_last below this (above 1/this: flooded)
    saturation: float = 0.25  # a layer's saturated share of (example, node) pairs above this → saturated
    dead: float = 0.10  # a layer's share of dead nodes above this → dead units
    min_total_layers: int = 3  # hidden layers needed for the end-to-end rules
    gate_saturation: float = 0.25  # a recurrent layer's forget/update-gate values < 0.05 (or > 0.95) above this share

    def __post_init__(self) -> None:
        if not 0 < self.vanishing < 1 < self.exploding:
            raise ValueError(f"thresholds: need 0 < vanishing < 1 < exploding, got {self.vanishing}, {self.exploding}")
        if not 0 < self.vanishing_total < 1 < self.exploding_total:
            raise ValueError("thresholds: need 0 < vanishing_total < 1 < exploding_total")
        for name in ("saturation", "dead", "starved", "gate_saturation"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"thresholds: {name} must lie in (0, 1), got {getattr(self, name)}")


REMEDIES: dict[str, list[str]] = {
    "vanishing": [
        "Use a ReLU-family activation (relu, leaky_relu, elu) instead of sigmoid/tanh: f′ = 1 on the active side, "
        "where sigmoid's f′ ≤ 1/4 shrinks δ at every layer (Glorot, Bordes & Bengio 2011).",
        "Initialise for the activation: He (nn.init.kaiming_normal_, σ_w² = 2/fan_in) for ReLU, Xavier "
        "(nn.init.xavier_uniform_) for tanh/sigmoid — it moves χ₁ = σ_w² E[f′(a)²] towards 1 "
        "(Glorot & Bengio 2010; He et al. 2015). torch's default init (σ_w² = 1/3) is in the ordered phase.",
        "Add batch normalisation before the activations (Ioffe & Szegedy 2015): it keeps pre-activations in "
        "the region where f′ is large.",
        "Add residual connections (y = x + F(x)): the identity path carries δ past every block (He et al. 2016).",
        "Use an optimizer with per-parameter step sizes — Adam, or SDAGD (vanishing run --optimizer sdagd) — "
        "so that small gradients still move the first layers.",
        "Use a shallower network: with a per-layer ratio r, L layers scale the first layer's signal by r^(L−1).",
    ],
    "exploding": [
        "Clip the gradient norm: torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm) before optimizer.step().",
        "Initialise with smaller weights: He for ReLU, Xavier for tanh/sigmoid, not larger gains (χ₁ > 1 is the "
        "chaotic phase).",
        "Add batch normalisation, or lower the learning rate.",
        "Use Adam or SDAGD, whose steps do not grow with the gradient.",
        "Use a shallower network: with a per-layer ratio r > 1, L layers multiply the signal by r^(L−1).",
    ],
    "saturated": [
        "Use a ReLU-family activation, which has no saturating positive side.",
        "Initialise with Xavier (or smaller) weights and standardise the inputs, so that pre-activations start "
        "in the linear region of sigmoid/tanh.",
        "Add batch normalisation before the activations.",
        "Lower the learning rate: large steps push pre-activations into the flat tails.",
    ],
    "dead_units": [
        "Use leaky_relu, elu or prelu: a negative slope keeps a gradient for inactive units.",
        "Lower the learning rate (a large step can push a unit's bias so far that it never fires again).",
        "Initialise with He and a small positive bias, or use Adam with a smaller step.",
        "Add batch normalisation before the activations, which re-centres each unit's input.",
    ],
    "healthy": [],
    "vanishing_through_time": [
        "Use a gated cell (nn.LSTM / nn.GRU) instead of a plain tanh RNN: the cell state's additive path carries "
        "∂L/∂h back over many steps (Hochreiter & Schmidhuber 1997).",
        "Initialise the LSTM forget-gate bias to 1 (or more), so that the cell starts out remembering (Jozefowicz et al. 2015).",
        "Initialise the recurrent matrix orthogonally (nn.init.orthogonal_(weight_hh)), so that its singular values are 1.",
        "Shorten the dependency the task needs, or add skip connections / attention across time.",
    ],
    "exploding_through_time": [
        "Clip the gradient norm: torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm) before optimizer.step().",
        "Initialise the recurrent matrix orthogonally or with a spectral radius below 1.",
        "Truncate backpropagation through time to fewer steps (detach the hidden state every k steps).",
        "Use a gated cell (nn.LSTM / nn.GRU).",
    ],
    "gate_closed": [
        "Initialise the LSTM forget-gate bias to 1 (rows H:2H of bias_ih — torch's gate order is i, f, g, o — with "
        "bias_hh's f rows 0): f = σ(1) ≈ 0.73 keeps most of the cell state from the start (Gers, Schmidhuber & "
        "Cummins 2000; Jozefowicz, Zaremba & Sutskever 2015).",
        "For a GRU, give the update gate z (rows H:2H of bias_ih — gate order r, z, n) a positive bias, so that "
        "h_t = (1 − z) ⊙ n + z ⊙ h_{t−1} starts close to keeping h_{t−1}.",
        "Lower the learning rate or clip the gradient norm: large steps push gate pre-activations into σ's flat tails.",
        "Standardise the inputs and keep the recurrent weights small (nn.init.orthogonal_), so that gate "
        "pre-activations start near 0.",
    ],
    "gate_open": [
        "A gate stuck at 1 copies the state unchanged and its own weights get almost no gradient (σ′ < 0.05): if the "
        "task needs to forget, lower an over-large forget-gate bias, the learning rate, or clip the gradient norm.",
    ],
    "not_judged": [
        "Modules with parameters of a type the layer registry does not know are not watched: register them with "
        "vanishing.watch.register_layer(Type, LayerRule('weight', node_dim=...)), or add a Linear layer between "
        "them and the output layer so that it has a hidden layer to judge.",
    ],
}


@dataclass
class Verdict:
    """One finding: ``kind`` (one of KINDS), a one-line ``summary``, the ``layers`` it names, the numbers, the remedies."""

    kind: str
    summary: str
    layers: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    remedies: list[str] = field(default_factory=list)


@dataclass
class Diagnosis:
    """The verdicts at one snapshot, with the per-layer table they come from.

    ``layers``: one row per hidden layer (input side first) — ``layer``,
    ``width``, ``rms`` (RMS per-example ‖δ‖), ``ratio`` (RMS_l/RMS_{l+1}),
    ``rel_last`` (RMS_l/RMS_L), ``saturation``, ``dead_fraction``, ``sparsity``
    (NaN where undefined), ``grad_l2`` (median ‖∇W‖₂ of recent steps).
    ``history``: ``epoch``, ``layer``, ``rms`` of every snapshot (for the figure).
    ``recurrent``: one row per recurrent layer (a cell loop, a fused layer's (layer, direction)) — ``layer``,
    ``steps``, ``decay`` (per step back), ``first_over_last``, ``horizon``, ``decay_cell`` (LSTM ‖∂L/∂c‖; NaN
    elsewhere), ``gate`` ("forget", "update" or ""), ``gate_low`` / ``gate_high`` (share of gate values < 0.05 /
    > 0.95), ``gate_mean``.
    ``clock``: what ``snapshot`` counts — "epoch" (``vanishing run``) or "step"
    (a watched loop).
    """

    verdicts: list[Verdict]
    layers: pd.DataFrame
    snapshot: int
    clock: str
    geometric_mean_ratio: float
    total_ratio: float
    thresholds: Thresholds
    history: pd.DataFrame
    source: str = ""
    n_samples: int | None = None
    unwatched: list[str] = field(default_factory=list)  # modules the unknown= policy left out, "name (Type)"
    recurrent: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per recurrent layer (see _recurrent_table)
    through_time: pd.DataFrame | None = None  # the run's through_time table (fused layers, every snapshot)
    depth_axis: str = ""  # "" (layer order) or how the block view judged depth (:mod:`.blocks`)

    @property
    def kinds(self) -> list[str]:
        return [v.kind for v in self.verdicts]

    @property
    def healthy(self) -> bool:
        return self.kinds == ["healthy"]

    def verdict(self, kind: str) -> Verdict | None:
        return next((v for v in self.verdicts if v.kind == kind), None)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return {
            "source": self.source,
            "clock": self.clock,
            "snapshot": self.snapshot,
            "n_samples": self.n_samples,
            "geometric_mean_ratio": _num(self.geometric_mean_ratio),
            "total_ratio": _num(self.total_ratio),
            "verdicts": [{**asdict(v), "evidence": _jsonable(v.evidence)} for v in self.verdicts],
            "layers": _jsonable(self.layers.to_dict(orient="records")),
            "thresholds": asdict(self.thresholds),
            "unwatched": list(self.unwatched),
            "recurrent": _jsonable(self.recurrent.to_dict(orient="records")),
            "depth_axis": self.depth_axis or "layers",
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def figure(self, path=None, *, kind: str = "delta", steps=None):
        """``kind="delta"``: RMS per-example δ per layer at every snapshot (log scale); ``"through_time"``:
        ‖∂L/∂h_{T−k}‖ against the lag k per recurrent layer. Saved as PNG/PDF when ``path`` is given."""
        from .figure import figure

        return figure(self, path, kind=kind, steps=steps)

    def __str__(self) -> str:
        t = self.thresholds
        head = f"diagnosis of {self.source or 'a run'} at {self.clock} {self.snapshot}"
        if self.n_samples:
            head += f" (per-example δ on {self.n_samples} probe examples)"
        lines = [head, ""]
        wn = max([5] + [len(str(n)) for n in self.layers["layer"]])  # full names, never cut (issue 17)
        lines.append(f"  {'layer':<{wn}} {'width':>6} {'RMS δ':>10} {'ratio→next':>10} {'vs last':>9} "
                     f"{'saturated':>9} {'dead':>6} {'‖∇W‖':>9}")
        for _, r in self.layers.iterrows():
            lines.append(
                f"  {str(r['layer']):<{wn}} {_int(r['width']):>6} {_g(r['rms']):>10} {_g(r['ratio'], 3):>10} "
                f"{_g(r['rel_last'], 3):>9} {_pct(r['saturation']):>9} {_pct(r['dead_fraction']):>6} {_g(r['grad_l2']):>9}"
            )
        gm = _g(self.geometric_mean_ratio, 3)
        lines.append(f"  geometric-mean ratio {gm} (vanishing < {t.vanishing:g}, exploding > {t.exploding:g}); "
                     f"first/last {_g(self.total_ratio, 3)}")
        if self.depth_axis:
            lines.append(f"  depth {self.depth_axis}: a block's parallel branches are not read as depth")
        if self.unwatched and len(self.layers):
            lines.append(f"  not watched (layer types the registry does not know): {', '.join(self.unwatched)}")
        lines.extend(_recurrent_lines(self.recurrent))
        lines.append("")
        for v in self.verdicts:
            lines.append(f"{v.kind.upper().replace('_', ' ')}: {v.summary}")
            for i, remedy in enumerate(v.remedies, 1):
                lines.append(f"  {i}. {remedy}")
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- formatting helpers


def _num(x: Any) -> Any:
    if isinstance(x, (float, np.floating)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return _num(obj)


def _g(x: Any, digits: int = 3) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(x):
        return "–" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return f"{x:.{digits}g}"


def _pct(x: Any) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "–"
    return "–" if not math.isfinite(x) else f"{100 * x:.1f}%"


def _int(x: Any) -> str:
    try:
        return str(int(x))
    except (TypeError, ValueError):
        return "–"


# --------------------------------------------------------------------------- the rules


def _at(table: pd.DataFrame | None, epoch: int) -> pd.DataFrame | None:
    if table is None or len(table) == 0 or "epoch" not in table:
        return None
    rows = table[table["epoch"] == epoch]
    return rows if len(rows) else None


def _by_layer(rows: pd.DataFrame | None, column: str, defined: bool = True) -> dict[str, float]:
    if rows is None or column not in rows:
        return {}
    out = {}
    for _, r in rows.iterrows():
        ok = bool(r["defined"]) if defined and "defined" in rows else True
        out[str(r["layer"])] = float(r[column]) if ok else float("nan")
    return out


def _grad_l2(grad_norms: pd.DataFrame | None, snapshot: int, clock: str, window: int = 100) -> dict[str, float]:
    """Median ‖∇W‖₂ per layer over the last ``window`` recorded steps at or before the snapshot."""
    if grad_norms is None or len(grad_norms) == 0:
        return {}
    g = grad_norms
    g = g[g["step"] <= snapshot] if clock == "step" else g[g["epoch"] <= snapshot]
    if not len(g):
        return {}
    recent = sorted(g["step"].unique())[-window:]
    g = g[g["step"].isin(recent)]
    return {str(k): float(v) for k, v in g.groupby("layer", sort=False)["weight_l2"].median().items()}


def _nonfinite_step(grad_norms: pd.DataFrame | None) -> int | None:
    """First step with an infinite weight-gradient norm, or a NaN one in a layer that has finite ones elsewhere.

    (A NaN alone can mean "no gradient this step" — a frozen or unused layer.)
    """
    if grad_norms is None or len(grad_norms) == 0:
        return None
    w = grad_norms["weight_l2"].to_numpy(dtype=float)
    finite = np.isfinite(w)
    has_finite = grad_norms.assign(_f=finite).groupby("layer", sort=False)["_f"].transform("any").to_numpy(dtype=bool)
    bad = np.isinf(w) | (np.isnan(w) & has_finite)
    if not bad.any():
        return None
    return int(grad_norms["step"].to_numpy()[bad].min())


def diagnose_tables(
    tables: Mapping[str, pd.DataFrame],
    thresholds: Thresholds | None = None,
    *,
    at: int | None = None,
    context: Mapping[str, Any] | None = None,
) -> Diagnosis:
    """Diagnose one run from its probe tables (DataFrames as ``vanishing.load`` gives them, one run only).

    ``at``: the snapshot (``epoch`` value of the probe-set tables; a step for
    watched runs) — default the latest. ``context``: ``clock`` ("epoch" or
    "step"), ``source`` (a name for the report), ``n_samples``.
    """
    t = thresholds or Thresholds()
    ctx = dict(context or {})
    clock = ctx.get("clock", "epoch")
    bs = tables.get("backprop_signal")
    tt = tables.get("through_time")
    if (bs is None or len(bs) == 0) and clock == "step" and ("snapshot" in ctx or (tt is not None and len(tt))):
        if "snapshot" not in ctx:  # a saved watch: the through-time table says which snapshots there are
            ctx["snapshot"] = int(at) if at is not None else int(tt["epoch"].max())
        d = _not_judged(t, ctx)
        more, d.recurrent = _recurrent_findings(tables, d.snapshot, [], np.zeros(0), t)
        d.verdicts.extend(more)
        d.through_time = tt
        return d
    if bs is None or len(bs) == 0:
        raise MissingProbeError(
            f"{ctx.get('source') or 'this run'}: no per-example δ (probe table backprop_signal); run it with the "
            "backprop_signal probe — vanishing run ... --probes default (it includes backprop_signal), or add "
            "\"backprop_signal(epochs='init,last')\" to --probes; vanishing.watch() records it always"
        )
    snapshots = sorted(int(e) for e in bs["epoch"].unique())
    snap = snapshots[-1] if at is None else int(at)
    if snap not in snapshots:
        raise MissingProbeError(f"no snapshot at {clock} {snap} (snapshots: {', '.join(map(str, snapshots))})")
    cur = bs[bs["epoch"] == snap]
    names = [str(n) for n in cur["layer"]]
    rms = cur["rms"].to_numpy(dtype=float)
    n_samples = ctx.get("n_samples") or (int(cur["n_samples"].iloc[0]) if "n_samples" in cur else None)

    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.append(rms[:-1] / rms[1:], np.nan) if len(rms) else np.zeros(0)
        rel_last = rms / rms[-1] if len(rms) else np.zeros(0)
        pair = ratio[:-1]
        if len(pair) and np.all(np.isfinite(pair)) and np.all(pair > 0):
            gm = float(np.exp(np.mean(np.log(pair))))
        elif len(pair) and np.any(pair == 0) and np.all(np.isfinite(pair)):
            gm = 0.0
        elif len(pair):
            gm = float("inf") if np.any(np.isinf(pair)) else float("nan")
        else:
            gm = float("nan")
        total = float(rms[0] / rms[-1]) if len(rms) >= 2 else float("nan")

    sat = _by_layer(_at(tables.get("saturation"), snap), "saturation")
    dead_rows = _at(tables.get("dead_units"), snap)
    dead = _by_layer(dead_rows, "fraction")
    dead_count = _by_layer(dead_rows, "dead")
    spars = _by_layer(_at(tables.get("sparsity"), snap), "sparsity")
    width = _by_layer(dead_rows, "width", defined=False) or _by_layer(_at(tables.get("sparsity"), snap), "width", defined=False)
    grads = _grad_l2(tables.get("grad_norms"), snap, clock)
    nan = float("nan")
    layer_table = pd.DataFrame({
        "layer": names,
        "width": [width.get(n, nan) for n in names],
        "rms": rms,
        "ratio": ratio,
        "rel_last": rel_last,
        "saturation": [sat.get(n, nan) for n in names],
        "dead_fraction": [dead.get(n, nan) for n in names],
        "sparsity": [spars.get(n, nan) for n in names],
        "grad_l2": [grads.get(n, grads.get(n.rpartition("@")[0], nan)) for n in names],  # name@k: its module's ‖∇W‖
    })

    verdicts: list[Verdict] = []
    deep = len(names) >= t.min_total_layers
    view = block_view(names, rms)
    if view is not None:  # repeated blocks (a transformer, a ResNet): each role against itself (see .blocks)
        gm, total, deep = view.geometric_mean_ratio, view.first_to_last, view.n_blocks >= t.min_total_layers
        same = view.same_role_last(rms)
        rel_last = np.array([same.get(i, np.nan) for i in range(len(names))])
    pair_evidence = {f"{names[i]}→{names[i + 1]}": _num(ratio[i]) for i in range(len(names) - 1)}

    # vanishing
    vanish_gm = math.isfinite(gm) and gm < t.vanishing
    vanish_total = deep and math.isfinite(total) and total < t.vanishing_total
    if vanish_gm or vanish_total:
        starved = [n for n, r in zip(names[:-1], rel_last[:-1]) if r < t.starved] or names[:1]
        ratios_text = view.describe() if view is not None else f"geometric mean of {len(pair)} layer ratios"
        why = (f"RMS per-example δ shrinks ×{_g(gm, 2)} per layer going back ({ratios_text}, threshold "
               f"{t.vanishing:g})") if vanish_gm else (
               f"the first hidden layer gets {_g(total, 2)} of the last one's RMS δ (threshold {t.vanishing_total:g}) "
               f"although the per-layer geometric-mean ratio is {_g(gm, 2)}")
        versus = "the same role's in the last block" if view is not None else f"the last hidden layer's {names[-1]}"
        summary = f"{why}; the first layers are starved: {', '.join(starved)} (RMS δ < {t.starved:.0%} of {versus})."
        verdicts.append(Verdict("vanishing", summary, starved, {
            "geometric_mean_ratio": _num(gm), "first_to_last": _num(total), "ratios": pair_evidence,
            "rms": {n: _num(v) for n, v in zip(names, rms)}, "rule": "gm" if vanish_gm else "first_to_last",
        }, list(REMEDIES["vanishing"])))

    # exploding
    bad_step = _nonfinite_step(tables.get("grad_norms"))
    explode_gm = math.isfinite(gm) and gm > t.exploding
    explode_total = deep and math.isfinite(total) and total > t.exploding_total
    nonfinite = bool(len(rms)) and not np.all(np.isfinite(rms))
    if explode_gm or explode_total or nonfinite or bad_step is not None:
        flooded = [n for n, r in zip(names[:-1], rel_last[:-1]) if not (r <= 1 / t.starved)] or names[:1]
        parts = []
        if explode_gm:
            parts.append(f"RMS per-example δ grows ×{_g(gm, 2)} per layer going back (geometric mean, threshold {t.exploding:g})")
        elif explode_total:
            parts.append(f"the first hidden layer gets {_g(total, 2)}× the last one's RMS δ (threshold {t.exploding_total:g})")
        if nonfinite:
            parts.append("δ is not finite on the probe set")
        if bad_step is not None:
            parts.append(f"a gradient norm is non-finite from step {bad_step}")
        summary = "; ".join(parts) + (f"; layers most affected: {', '.join(flooded)}." if (explode_gm or explode_total) else ".")
        verdicts.append(Verdict("exploding", summary, flooded if (explode_gm or explode_total) else [], {
            "geometric_mean_ratio": _num(gm), "first_to_last": _num(total), "ratios": pair_evidence,
            "first_nonfinite_step": bad_step,
        }, list(REMEDIES["exploding"])))

    # saturated
    saturated = {n: v for n, v in sat.items() if n in names and math.isfinite(v) and v > t.saturation}
    if saturated:
        listed = ", ".join(f"{n} {v:.0%}" for n, v in saturated.items())
        verdicts.append(Verdict(
            "saturated",
            f"more than {t.saturation:.0%} of (example, node) pairs have |f′(a)| < 5% of its maximum in: {listed}.",
            list(saturated), {"saturation": {n: _num(v) for n, v in saturated.items()}}, list(REMEDIES["saturated"]),
        ))

    # dead units
    dead_layers = {n: v for n, v in dead.items() if n in names and math.isfinite(v) and v > t.dead}
    if dead_layers:
        listed = ", ".join(f"{n} {int(dead_count.get(n, 0))}/{_int(width.get(n))} ({v:.0%})" for n, v in dead_layers.items())
        verdicts.append(Verdict(
            "dead_units",
            f"more than {t.dead:.0%} of the nodes are inactive (f(a) ≤ 0) on every probe example in: {listed}.",
            list(dead_layers), {"dead_fraction": {n: _num(v) for n, v in dead_layers.items()},
                                "dead": {n: _num(dead_count.get(n)) for n in dead_layers}}, list(REMEDIES["dead_units"]),
        ))

    more, recurrent_table = _recurrent_findings(tables, snap, names, rms, t)
    verdicts.extend(more)

    if not verdicts:
        if len(names) < 2:
            summary = (f"only {len(names)} hidden layer: no layer-to-layer ratio to judge; no layer saturated "
                       f"(> {t.saturation:.0%}) or dead (> {t.dead:.0%}).")
        else:
            summary = (f"RMS per-example δ changes ×{_g(gm, 2)} per layer (within [{t.vanishing:g}, {t.exploding:g}]), "
                       f"first/last {_g(total, 2)}; no layer saturated (> {t.saturation:.0%}) or dead (> {t.dead:.0%}).")
        verdicts.append(Verdict("healthy", summary, [], {"geometric_mean_ratio": _num(gm), "first_to_last": _num(total),
                                                         "ratios": pair_evidence}))

    history = bs[["epoch", "layer", "rms"]].copy()
    return Diagnosis(verdicts, layer_table, snap, clock, gm, total, t, history.reset_index(drop=True),
                     str(ctx.get("source", "")), n_samples, list(ctx.get("unwatched") or []), recurrent_table,
                     tables.get("through_time"), view.describe() if view is not None else "")


# --------------------------------------------------------------------------- recurrent layers: through time and gates


def _recurrent_findings(tables, snap: int, names: list[str], rms: np.ndarray, t: Thresholds):
    """(verdicts, per-layer table) of the recurrent layers: cell loops (``name@t`` δ rows) and fused tracks."""
    recurrent = through_time(names, rms)
    recurrent.update(_fused_through_time(tables, snap))
    gates = _gates(tables, snap)
    verdicts = _time_verdicts(recurrent, gates, t) + _gate_verdicts(gates, t)
    return verdicts, _recurrent_table(recurrent, _fused_through_time(tables, snap, "rms_cell"), gates)


def _time_verdicts(recurrent: Mapping[str, Mapping[str, Any]], gates: Mapping[str, Mapping[str, Any]] | None = None,
                   t: Thresholds | None = None) -> list[Verdict]:
    """vanishing/exploding through time for each recurrent layer of :func:`through_time` (cell loops and fused layers).

    No verdict for a layer whose signal at lag 0 is exactly 0 (a reverse direction read only at its first step,
    out[:, −1]): its lag-0 reference is undefined. A reverse direction (``….reverse``) is not called exploding for
    growth alone: a read-out at the last position (out[:, −1]) feeds it at its *first* step, so its signal grows
    towards lag T − 1 without any amplification by the recurrence; a non-finite signal still is. With the layer's gate closed (a share < 0.05 above
    ``t.gate_saturation``) the summary says so and the gate remedies come first.
    """
    gates, t = gates or {}, t or Thresholds()
    verdicts = []
    for base, r in recurrent.items():
        by_lag = np.asarray(r["rms_by_lag"], dtype=float)
        if np.all(np.isfinite(by_lag)) and by_lag[0] == 0:
            continue
        summary_t = (f"{base}: ‖∂L/∂h‖ over {r['steps']} applications changes ×{_g(r['decay'], 3)} per step back "
                     f"(geometric fit), {_g(r['first_over_last'], 3)} at the first step vs the last")
        gate = gates.get(base)
        closed = gate is not None and math.isfinite(gate["low"]) and gate["low"] > t.gate_saturation
        if r["horizon"] is not None:
            note = f"; its {gate['gate']} gate is < 0.05 on {gate['low']:.0%} of values" if closed else ""
            remedies = (REMEDIES["gate_closed"][:1] if closed else []) + _ungated(REMEDIES["vanishing_through_time"], gate)
            verdicts.append(Verdict("vanishing_through_time", summary_t + f"; memory horizon {r['horizon']} steps "
                                    f"(the signal is below {HORIZON:.0%} of its value at the last step){note}.", [base],
                                    dict(r), list(dict.fromkeys(remedies))))
        elif not np.all(np.isfinite(by_lag)) or (r["first_over_last"] > 1 / HORIZON and not base.endswith(".reverse")):
            verdicts.append(Verdict("exploding_through_time", summary_t + ".", [base], dict(r),
                                    _ungated(REMEDIES["exploding_through_time"], gate)))
    return verdicts


def _ungated(remedies: list[str], gate: Mapping[str, Any] | None) -> list[str]:
    """The remedies, less "use a gated cell" for a layer that has a gate already (an LSTM or GRU)."""
    return [r for r in remedies if gate is None or not r.startswith("Use a gated cell")]


def _fused_through_time(tables: Mapping[str, pd.DataFrame], snap: int, column: str = "rms") -> dict[str, dict[str, Any]]:
    """:func:`through_time` of the fused nn.RNN/GRU/LSTM tracks (table ``through_time``: RMS ‖∂L/∂h‖ per t = T − lag).

    ``column="rms_cell"``: the same for an LSTM's ‖∂L/∂c‖ (tracks whose column is all NaN are left out).
    """
    rows = _at(tables.get("through_time"), snap)
    out: dict[str, dict[str, Any]] = {}
    if rows is None or column not in rows:
        return out
    for layer, r in rows.groupby("layer", sort=False):
        r = r.sort_values("t")
        values = r[column].to_numpy(dtype=float)
        if column != "rms" and np.all(np.isnan(values)):
            continue
        out.update(through_time([f"{layer}@{int(k)}" for k in r["t"]], values))
    return out


def _gates(tables: Mapping[str, pd.DataFrame], snap: int) -> dict[str, dict[str, Any]]:
    """Table ``gate_saturation`` at the snapshot: layer → {gate, n, low, high, mean}."""
    rows = _at(tables.get("gate_saturation"), snap)
    if rows is None:
        return {}
    return {str(r["layer"]): {"gate": str(r["gate"]), "n": int(r["n"]), "low": float(r["low"]),
                              "high": float(r["high"]), "mean": float(r["mean"])} for _, r in rows.iterrows()}


def _gate_verdicts(gates: Mapping[str, Mapping[str, Any]], t: Thresholds) -> list[Verdict]:
    """gate_saturated: a layer with more than ``t.gate_saturation`` of its forget/update-gate values < 0.05 or > 0.95.

    Closed (≈ 0): the state is dropped at every step, so ∂L/∂h cannot flow back through it. Open (≈ 1): the state
    is copied and σ′ < 0.05, so the gate's own weights hardly learn. The remedies follow which side it is.
    """
    closed = {n: g for n, g in gates.items() if math.isfinite(g["low"]) and g["low"] > t.gate_saturation}
    opened = {n: g for n, g in gates.items() if math.isfinite(g["high"]) and g["high"] > t.gate_saturation}
    if not closed and not opened:
        return []
    parts = [f"{n} ({g['gate']} gate) {g['low']:.0%} < 0.05" for n, g in closed.items()]
    parts += [f"{n} ({g['gate']} gate) {g['high']:.0%} > 0.95" for n, g in opened.items()]
    why = []
    if closed:
        why.append("a gate ≈ 0 drops the state at every step, so the signal cannot flow back through it")
    if opened:
        why.append("a gate ≈ 1 copies the state and passes almost no gradient to its own weights")
    remedies = (REMEDIES["gate_closed"] if closed else []) + (REMEDIES["gate_open"] if opened else [])
    layers = list(dict.fromkeys(list(closed) + list(opened)))
    return [Verdict("gate_saturated", f"more than {t.gate_saturation:.0%} of the gate values are saturated in: "
                    f"{', '.join(parts)}; {'; '.join(why)}.", layers,
                    {"gates": {n: dict(gates[n]) for n in layers}}, list(remedies))]


def _recurrent_table(recurrent, cells, gates) -> pd.DataFrame:
    """One row per recurrent layer (columns in :class:`Diagnosis`), the through-time layers first."""
    nan = float("nan")
    rows = []
    for layer in list(dict.fromkeys(list(recurrent) + list(gates))):
        r, c, g = recurrent.get(layer, {}), cells.get(layer, {}), gates.get(layer, {})
        rows.append({"layer": layer, "steps": r.get("steps", nan), "decay": r.get("decay", nan),
                     "first_over_last": r.get("first_over_last", nan),
                     "horizon": r.get("horizon") if r.get("horizon") is not None else nan,
                     "decay_cell": c.get("decay", nan), "gate": g.get("gate", ""), "gate_low": g.get("low", nan),
                     "gate_high": g.get("high", nan), "gate_mean": g.get("mean", nan)})
    columns = ["layer", "steps", "decay", "first_over_last", "horizon", "decay_cell", "gate", "gate_low", "gate_high",
               "gate_mean"]
    return pd.DataFrame(rows, columns=columns)


def _recurrent_lines(table: pd.DataFrame) -> list[str]:
    """The recurrent-layer block of the printed diagnosis (nothing when there is no recurrent layer)."""
    if table is None or not len(table):
        return []
    wn = max([5] + [len(str(n)) for n in table["layer"]])
    lines = ["", "  recurrent layers: ‖∂L/∂h‖ against the lag from each layer's last step; gate values < 0.05 | > 0.95",
             f"  {'layer':<{wn}} {'steps':>5} {'decay/step':>10} {'first/last':>10} {'horizon':>7} {'c decay':>8} "
             f"{'gate':>7} {'<0.05':>7} {'>0.95':>7}"]
    for _, r in table.iterrows():
        horizon = "none" if math.isfinite(float(r["steps"])) and not math.isfinite(float(r["horizon"])) else _int(r["horizon"])
        lines.append(f"  {str(r['layer']):<{wn}} {_int(r['steps']):>5} {_g(r['decay']):>10} {_g(r['first_over_last']):>10} "
                     f"{horizon:>7} {_g(r['decay_cell']):>8} {str(r['gate']) or '–':>7} {_pct(r['gate_low']):>7} "
                     f"{_pct(r['gate_high']):>7}")
    return lines


def through_time(names: list[str], rms: np.ndarray) -> dict[str, dict[str, Any]]:
    """Modules applied ≥ TIME_STEPS times (``name@1`` … ``name@T``): ‖∂L/∂h‖ against the lag k = T − t from the last.

    ``rms_by_lag[k]`` (k = 0 at the last application), ``decay`` = exp(slope) of the least-squares line through
    (k, log rms_k) — the factor per step back —, ``first_over_last`` = rms_{T−1}/rms_0, ``horizon`` = the first
    lag at which rms_k < HORIZON·rms_0 (None when it never does within the sequence).
    """
    groups: dict[str, list[tuple[int, float]]] = {}
    for n, v in zip(names, rms):
        base, at, k = str(n).rpartition("@")
        if at and k.isdigit():
            groups.setdefault(base, []).append((int(k), float(v)))
    out = {}
    for base, calls in groups.items():
        if len(calls) < TIME_STEPS:
            continue
        calls.sort()
        by_lag = np.array([v for _, v in calls][::-1])
        ref = by_lag[0]
        ok = np.isfinite(by_lag) & (by_lag > 0)
        lags = np.arange(len(by_lag))
        decay = float(np.exp(np.polyfit(lags[ok], np.log(by_lag[ok]), 1)[0])) if ok.sum() >= 2 else float("nan")
        below = np.nonzero(by_lag < HORIZON * ref)[0] if ref > 0 else np.zeros(0, dtype=int)
        with np.errstate(divide="ignore", invalid="ignore"):
            fol = float(by_lag[-1] / ref) if ref > 0 else float("nan")
        out[base] = {"steps": len(by_lag), "decay": decay, "first_over_last": fol,
                     "horizon": int(below[0]) if len(below) else None, "rms_by_lag": [float(v) for v in by_lag]}
    return out


def _not_judged(t: Thresholds, ctx: Mapping[str, Any]) -> Diagnosis:
    """A watched model with no hidden weight layer (only the output layer is a Linear/conv): nothing to judge, said so."""
    unwatched = list(ctx.get("unwatched") or [])
    why = "no hidden weight layer (Linear/convolution) runs before the output layer, so there is no per-example δ ratio to judge"
    if unwatched:
        why += f"; not watched: {', '.join(unwatched)}"
    columns = ["layer", "width", "rms", "ratio", "rel_last", "saturation", "dead_fraction", "sparsity", "grad_l2"]
    return Diagnosis([Verdict("not_judged", why + ".", [], {"unwatched": unwatched}, list(REMEDIES["not_judged"]))],
                     pd.DataFrame({c: [] for c in columns}), int(ctx.get("snapshot", 0)), "step", float("nan"),
                     float("nan"), t, pd.DataFrame({"epoch": [], "layer": [], "rms": []}), str(ctx.get("source", "")),
                     ctx.get("n_samples"))


# --------------------------------------------------------------------------- run directories


def run_context(doc: Mapping[str, Any] | None, path) -> dict[str, Any]:
    """``clock`` and ``source`` for a run directory's config.json."""
    doc = doc or {}
    watched = doc.get("kind") == "watch"
    rid = doc.get("run_id", getattr(path, "name", str(path)))
    return {"clock": "step" if watched else "epoch", "source": f"{'watched run' if watched else 'run'} {rid}"}


def diagnose_run(path, thresholds: Thresholds | None = None, *, at: int | None = None) -> Diagnosis:
    """Diagnose one run directory (``<root>/runs/<run_id>``) from its ``probes/*.npz`` tables."""
    from pathlib import Path

    from ..store.atomic import read_json
    from ..store.results import read_probe_tables

    path = Path(path)
    doc = read_json(path / "config.json")
    if doc is None:
        raise MissingProbeError(f"{path}: not a run directory (no config.json)")
    return diagnose_tables(read_probe_tables(path / "probes"), thresholds, at=at, context=run_context(doc, path))
