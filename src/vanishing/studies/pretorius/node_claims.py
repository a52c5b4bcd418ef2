"""The paper's claims about what the nodes do (Fig 3–7), as pure functions of node statistics.

Inputs: ``node_runs`` (the 4-layer nets, columns ``run_id, task, activation,
batch_norm, seed``), ``summary`` (:func:`vanishing.analysis.node_summary`
of their ``activation_stats``), the ``saturation`` and ``sparsity`` probe
tables and ``trained`` (run_id → the selected epoch,
:func:`vanishing.analysis.selected_epochs`). Every comparison is a
per-seed directional check (:func:`.rules.check_diff`); a claim made of
several is :func:`.rules.combine`-d (all must hold). Only the nets without
batch norm, as in the paper's figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ...analysis import POINT_STD
from ..base import direction_claim_row
from .claims import ACTIVATIONS, TASKS, sel
from .rules import check_diff, combine, diff, fmt, m, pm, qualitative, tally


class NodeData:
    """Per-seed look-ups into the node tables (a thin, pure helper)."""

    def __init__(self, node_runs: pd.DataFrame, summary: pd.DataFrame, saturation: pd.DataFrame | None,
                 trained: Mapping[str, int]):
        self.runs, self.summary, self.saturation, self.trained = node_runs, summary, saturation, trained
        self.idx = summary.set_index(["run_id", "epoch", "layer"]) if len(summary) else summary
        self.sat = (saturation.set_index(["run_id", "epoch", "layer"])["saturation"]
                    if saturation is not None and len(saturation) else None)

    def _ids(self, task, act):
        return sel(self.runs, task=task, activation=act, batch_norm="off")["run_id"].tolist()

    def _epoch(self, rid, state):
        return 0 if state == "untrained" else self.trained.get(rid)

    def vals(self, task: str, act: str, state: str, layer: str, col: str) -> list[float]:
        """``col`` of ``layer`` per seed, at init or at the selected epoch."""
        out = []
        for rid in self._ids(task, act):
            key = (rid, self._epoch(rid, state), layer)
            if key in self.idx.index:
                out.append(float(self.idx.loc[key, col]))
        return out

    def layer_mean(self, task: str, act: str, state: str, layers: Sequence[str], col: str) -> list[float]:
        """``col`` averaged over ``layers``, per seed."""
        out = []
        for rid in self._ids(task, act):
            e = self._epoch(rid, state)
            got = [float(self.idx.loc[(rid, e, lay), col]) for lay in layers if (rid, e, lay) in self.idx.index]
            if len(got) == len(layers):
                out.append(float(np.mean(got)))
        return out

    def sat_vals(self, task: str, act: str, layer: str, state: str) -> list[float]:
        """Saturated (sample, node) pairs (%) per seed."""
        if self.sat is None:
            return []
        out = []
        for rid in self._ids(task, act):
            key = (rid, self._epoch(rid, state), layer)
            if key in self.sat.index:
                out.append(100 * float(self.sat.loc[key]))
        return out


def node_claims(node_runs: pd.DataFrame, summary: pd.DataFrame, saturation: pd.DataFrame | None,
                sparsity: pd.DataFrame | None, trained: Mapping[str, int], tasks: Sequence[str], *,
                sparsity_epochs: Mapping[str, int] | None = None) -> list[dict]:
    """The claims of Fig 3–7 (each states its checks in its evidence text); see the module docstring for the rules.

    ``sparsity_epochs``: run_id → the selected epoch in the ``sparsity`` table (default ``trained``; differs when
    node statistics are recorded on a sparser schedule than sparsity)."""
    if not len(summary):
        return []
    D = NodeData(node_runs, summary, saturation, trained)
    layers = sorted(summary["layer"].unique(), key=lambda s: int(str(s).replace("hidden", "")))
    first, second, last = layers[0], layers[min(1, len(layers) - 1)], layers[-1]
    T, rows = "MNIST", []

    def by_layer(fn, digits=3, scale=1.0, unit=""):
        return ", ".join(f"{lay} {scale * fn(lay):.{digits}f}{unit}" for lay in layers)

    # Fig 3 — trained sigmoid activations skewed towards 0 and 1: saturation and extreme medians rise in every layer
    sat = {(lay, s): D.sat_vals(T, "sigmoid", lay, s) for lay in layers for s in ("untrained", "trained")}
    ext = {(lay, s): D.vals(T, "sigmoid", s, lay, "median_extreme") for lay in layers for s in ("untrained", "trained")}
    parts = [check_diff(sat[(lay, "trained")], sat[(lay, "untrained")]) for lay in layers]
    parts += [check_diff(ext[(lay, "trained")], ext[(lay, "untrained")]) for lay in layers]
    rows.append(qualitative(
        "Fig 3: trained sigmoid activations are skewed towards the saturation points 0 and 1", combine(parts),
        "saturated (sample, node) pairs (|f′| < 5% of its max, i.e. output within 0.013 of 0 or 1), untrained → "
        "trained: " + ", ".join(f"{lay} {fmt(sat[(lay, 'untrained')], 1)} → {fmt(sat[(lay, 'trained')], 1)}%" for lay in layers)
        + "; class medians within 0.1 of 0 or 1: " + ", ".join(
            f"{lay} {100 * m(ext[(lay, 'untrained')]):.1f} → {100 * m(ext[(lay, 'trained')]):.1f}%" for lay in layers)
        + f" (both must rise in every layer: {tally(parts)})"))
    # Fig 3 — the 2nd hidden layer less saturated, higher variance, than every other layer
    std = {lay: D.vals(T, "sigmoid", "trained", lay, "within_std") for lay in layers}
    if len(layers) >= 3:
        others = [lay for lay in layers if lay != second]
        parts = [check_diff(sat[(second, "trained")], sat[(o, "trained")], -1) for o in others]
        parts += [check_diff(std[second], std[o]) for o in others]
        rows.append(qualitative(
            "Fig 3: in trained sigmoid nets the 2nd hidden layer is less saturated, with higher variance", combine(parts),
            "trained sigmoid — saturated pairs: " + by_layer(lambda l: m(sat[(l, "trained")]), 1, unit="%")
            + "; mean within-class std: " + by_layer(lambda l: m(std[l]))
            + f" ({second} against every other layer: {tally(parts)})"))
    # Fig 3 — last layer the most saturated, with more point distributions than the first
    pf = {lay: D.vals(T, "sigmoid", "trained", lay, "point_fraction") for lay in layers}
    parts = [check_diff(sat[(last, "trained")], sat[(o, "trained")]) for o in layers if o != last]
    parts.append(check_diff(pf[last], pf[first]))
    rows.append(qualitative(
        "Fig 3: last-layer sigmoid distributions are the most saturated, some almost point distributions", combine(parts),
        "trained sigmoid — saturated pairs: " + by_layer(lambda l: m(sat[(l, "trained")]), 1, unit="%")
        + f"; class distributions with std < {POINT_STD}: " + by_layer(lambda l: m(pf[l]), 1, 100, "%")
        + f" ({tally(parts)})"))
    # Fig 4 — deeper ReLU nodes active for fewer samples
    if sparsity is not None and len(sparsity):
        ids = sel(node_runs, task=T, activation="relu", batch_norm="off")["run_id"]
        sp_run = sparsity[sparsity["run_id"].isin(ids) & (sparsity["epoch"] == sparsity["run_id"].map(sparsity_epochs or trained))]
        sp = {lay: (100 * sp_run[sp_run["layer"] == lay]["sparsity"].astype(float)).tolist() for lay in layers}
        rows.append(direction_claim_row(
            "Fig 4: trained ReLU nodes in deeper layers activate for fewer samples than in earlier layers", "stated",
            *diff(sp[last], sp[first]),
            note="trained ReLU sparsity: " + ", ".join(f"{k} {fmt(v, 1)}%" for k, v in sp.items())
                 + "; effect = last − first (paper, Table 1: 80.40, 79.33, 81.93, 81.90%)"))
    # Fig 4/6 — deeper ReLU nodes specialise towards single classes
    ac = {lay: D.vals(T, "relu", "trained", lay, "active_classes") for lay in layers}
    rows.append(direction_claim_row(
        "Fig 4/6: trained ReLU nodes in deeper layers are more specialised towards single classes", "stated",
        *diff(ac[first], ac[last]), unit="classes",
        note="trained ReLU — classes (of 10) whose median output at a node is > 0, mean over nodes: "
             + ", ".join(f"{k} {fmt(v)}" for k, v in ac.items()) + "; effect = first − last"))
    # Fig 5 — untrained sigmoid: medians near 0.5 in layer 1 (|median − 0.5| < 0.15), closer together with depth
    off1 = D.vals(T, "sigmoid", "untrained", first, "median_offcentre")
    spread = {lay: D.vals(T, "sigmoid", "untrained", lay, "median_spread") for lay in layers}
    eta_u = {lay: m(D.vals(T, "sigmoid", "untrained", lay, "eta2")) for lay in layers}
    parts = [check_diff([0.15] * len(off1), off1) if off1 else "inconclusive", check_diff(spread[first], spread[last])]
    rows.append(qualitative(
        "Fig 5: untrained sigmoid medians sit near 0.5 in layer 1 and overlap more with depth", combine(parts),
        "untrained sigmoid — mean |median − 0.5|: " + by_layer(lambda l: m(D.vals(T, "sigmoid", "untrained", l, "median_offcentre")))
        + "; spread of the class medians (std over classes, activation units): "
        + ", ".join(f"{k} {fmt(v, 4)}" for k, v in spread.items()) + "; η² (scale-free class information): "
        + by_layer(lambda l: eta_u[l]) + f" (layer 1 within 0.15 of 0.5, spread first > last: {', '.join(parts)})"))
    # Fig 5 — trained sigmoid: classes separated by medians saturating to 0/1, more in deeper layers
    e_u = D.layer_mean(T, "sigmoid", "untrained", layers, "median_extreme")
    e_t = D.layer_mean(T, "sigmoid", "trained", layers, "median_extreme")
    parts = [check_diff(e_t, e_u), check_diff(ext[(last, "trained")], ext[(first, "trained")])]
    rows.append(qualitative(
        "Fig 5: trained sigmoid nets separate classes by saturating medians to 0/1, more in deeper layers", combine(parts),
        "class medians within 0.1 of 0 or 1, untrained → trained: "
        + ", ".join(f"{k} {100 * m(ext[(k, 'untrained')]):.1f} → {100 * m(ext[(k, 'trained')]):.1f}%" for k in layers)
        + "; trained η²: " + by_layer(lambda l: m(D.vals(T, "sigmoid", "trained", l, "eta2")))
        + f" (more after training, more in {last} than {first}: {', '.join(parts)})"))
    # Fig 6 — untrained: deep-layer class distributions overlap less with ReLU than with sigmoid
    e_sig, e_rel = D.vals(T, "sigmoid", "untrained", last, "eta2"), D.vals(T, "relu", "untrained", last, "eta2")
    ov = {a: m(D.vals(T, a, "untrained", last, "overlap")) for a in ACTIVATIONS}
    rows.append(direction_claim_row(
        "Fig 6: untrained, deep-layer class distributions overlap less with ReLU than with sigmoid", "stated",
        *diff(e_rel, e_sig), unit="η²",
        note=f"untrained, {last}: η² ReLU {fmt(e_rel, 3)}, sigmoid {fmt(e_sig, 3)} (effect = ReLU − sigmoid); IQR overlap "
             f"of class pairs ReLU {100 * ov['relu']:.1f}%, sigmoid {100 * ov['sigmoid']:.1f}%; untrained ReLU medians "
             "at 0: " + by_layer(lambda l: m(D.vals(T, "relu", "untrained", l, "median_zero")), 1, 100, "%")))
    # Fig 6 — trained ReLU: early layers class-agnostic, deeper layers overlap less
    eta_t = {lay: D.vals(T, "relu", "trained", lay, "eta2") for lay in layers}
    ov_t = {lay: D.vals(T, "relu", "trained", lay, "overlap") for lay in layers}
    dv, se, _ = diff(eta_t[last], eta_t[first])
    parts = [check_diff(eta_t[last], eta_t[first]), check_diff(ov_t[last], ov_t[first], -1)]
    rows.append(qualitative(
        "Fig 6: trained ReLU nets keep early layers class-agnostic; deeper layers overlap less", combine(parts),
        "trained ReLU η²: " + ", ".join(f"{k} {fmt(v, 3)}" for k, v in eta_t.items())
        + f" (last − first {pm(dv, se, 3, '')}); IQR overlap of class pairs: " + by_layer(lambda l: m(ov_t[l]), 1, 100, "%")
        + f" ({', '.join(parts)})"))
    # Fig 7 — CIFAR-10: the trained nets gain less class information (η², mean over layers) than on MNIST
    if "CIFAR-10" in tasks and (node_runs["task"] == "CIFAR-10").any():
        parts, ev = [], []
        for act in ACTIVATIONS:
            gain = {}
            for task in TASKS:
                tr = D.layer_mean(task, act, "trained", layers, "eta2")
                un = D.layer_mean(task, act, "untrained", layers, "eta2")
                k = min(len(tr), len(un))
                gain[task] = [a - b for a, b in zip(tr[:k], un[:k])]
                ev.append(f"{task} {act} {m(un):.3f} → {m(tr):.3f}")
            parts.append(check_diff(gain["MNIST"], gain["CIFAR-10"]))
        rows.append(qualitative(
            "Fig 7: on CIFAR-10 the trained nets separate classes less; medians stay closer to untrained", combine(parts),
            "η² (mean over layers) untrained → trained: " + ", ".join(ev)
            + f" (the gain smaller on CIFAR-10 for both activations: {', '.join(parts)})"))
    return rows


__all__ = ["NodeData", "node_claims"]
