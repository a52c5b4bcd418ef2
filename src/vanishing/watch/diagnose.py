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

The verdict vocabulary — :data:`KINDS`, :class:`Thresholds` (the threshold of every rule and the why of each),
:data:`REMEDIES`, :class:`Verdict` — is :mod:`vanishing.watch.verdicts`; the verdicts through time of recurrent
layers and their gates are :mod:`vanishing.watch.time_verdicts`. This module applies the layer rules
(:func:`diagnose_tables`), reads run directories (:func:`diagnose_run`) and holds the result
(:class:`Diagnosis`); it re-exports the public names of the other two.

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

from .blocks import block_view
from .time_verdicts import _recurrent_findings, _recurrent_lines, through_time
from .verdicts import (
    HORIZON, KINDS, REMEDIES, TIME_STEPS, MissingProbeError, Thresholds, Verdict, _at, _g, _int, _jsonable, _num, _pct,
)

__all__ = [  # the public API of vanishing.watch.diagnose, old names included (they live in .verdicts / .time_verdicts)
    "HORIZON", "KINDS", "REMEDIES", "TIME_STEPS", "Diagnosis", "MissingProbeError", "Thresholds", "Verdict",
    "diagnose_run", "diagnose_tables", "run_context", "through_time",
]


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


# --------------------------------------------------------------------------- the rules


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
