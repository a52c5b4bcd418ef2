"""Verdicts through time: recurrent layers whose signal vanishes or explodes along the sequence, and saturated gates.

A module applied at least :data:`~vanishing.watch.verdicts.TIME_STEPS` times per forward pass — a cell stepped in
a loop, whose δ rows are ``name@1`` … ``name@T`` of table ``backprop_signal`` — or a fused ``nn.RNN``/``GRU``/
``LSTM`` layer (table ``through_time``: RMS ‖∂L/∂h‖, and an LSTM's ‖∂L/∂c‖, per t = T − lag and direction) is read
against the lag k = T − t from its last application (:func:`through_time`):

* ``decay`` = exp(slope) of the least-squares line through (k, log rms_k): the factor per step back;
* ``first_over_last`` = rms_{T−1} / rms_0;
* ``horizon`` = the first lag at which rms_k < :data:`~vanishing.watch.verdicts.HORIZON` · rms_0 (10 %).

vanishing_through_time: a horizon within the sequence; exploding_through_time: first/last above 1/HORIZON (not
for a ``….reverse`` direction on growth alone) or a non-finite signal. gate_saturated: more than
``Thresholds.gate_saturation`` (25 %) of a layer's forget/update-gate values < 0.05 (closed: the state is dropped
at every step) or > 0.95 (open: σ′ < 0.05, so the gate's weights hardly learn), from table ``gate_saturation``.
Remedies: gated cells (Hochreiter & Schmidhuber 1997), forget-gate bias 1 (Gers, Schmidhuber & Cummins 2000;
Jozefowicz, Zaremba & Sutskever 2015), orthogonal recurrent init, clipping (:data:`~vanishing.watch.verdicts.REMEDIES`).
:mod:`vanishing.watch.diagnose` calls :func:`_recurrent_findings` and prints :func:`_recurrent_lines`.
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .verdicts import HORIZON, REMEDIES, TIME_STEPS, Thresholds, Verdict, _at, _g, _int, _pct


# --------------------------------------------------------------------------- recurrent layers: through time and gates


def _recurrent_findings(tables, snap: int, names: list[str], rms: np.ndarray, t: Thresholds):
    """(verdicts, per-layer table) of the recurrent layers: cell loops (``name@t`` δ rows) and fused tracks."""
    recurrent = through_time(names, rms)
    recurrent.update(_fused_through_time(tables, snap))
    gates = _gates(tables, snap)
    verdicts = _time_verdicts(recurrent, gates, t) + _gate_verdicts(gates, t)
    cells = _fused_through_time(tables, snap, "rms_cell")
    cells.update(_fused_through_time(tables, snap, "rms_cell", table="cell_state"))
    return verdicts, _recurrent_table(recurrent, cells, gates)


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
        elif not np.all(np.isfinite(by_lag)) or (r["first_over_last"] > 1 / HORIZON and not is_reverse(base)):
            verdicts.append(Verdict("exploding_through_time", summary_t + ".", [base], dict(r),
                                    _ungated(REMEDIES["exploding_through_time"], gate)))
    return verdicts


def is_reverse(layer: str) -> bool:
    """A reverse-direction track: ``lstm.l0.reverse`` or, for a module called k times per pass, ``lstm.l0.reverse@k``."""
    return re.sub(r"@\d+$", "", layer).endswith(".reverse")


def _ungated(remedies: list[str], gate: Mapping[str, Any] | None) -> list[str]:
    """The remedies, less "use a gated cell" for a layer that has a gate already (an LSTM or GRU)."""
    return [r for r in remedies if gate is None or not r.startswith("Use a gated cell")]


def _fused_through_time(tables: Mapping[str, pd.DataFrame], snap: int, column: str = "rms",
                        table: str = "through_time") -> dict[str, dict[str, Any]]:
    """:func:`through_time` of the fused nn.RNN/GRU/LSTM tracks (table ``through_time``: RMS ‖∂L/∂h‖ per t = T − lag).

    ``column="rms_cell"``: the same for an LSTM's ‖∂L/∂c‖ (tracks whose column is all NaN are left out);
    ``table="cell_state"``: the ‖∂L/∂c‖ of ``nn.LSTMCell`` loops (t = the application, 1 … T).
    """
    rows = _at(tables.get(table), snap)
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
    """One row per recurrent layer (columns in :class:`~vanishing.watch.diagnose.Diagnosis`), the through-time layers first."""
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

