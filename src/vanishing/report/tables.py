"""Tables: runs per configuration, probe tables (sparsity, saturation, dead units), paper vs measured — as DataFrames and HTML.

The functions that summarise return pandas DataFrames (numeric where a study
wants to compute with them, display text where they are meant to be read);
:func:`html_table` turns any DataFrame or list of rows into an escaped HTML
``<table>``. "mean ± s.e." is over seeds, s.e. = s/√n
(:mod:`vanishing.report.groups`); one seed prints the mean alone.

Verdict rule (SPEC §10, sharpened by issue 16) for a numeric claim, in
percentage points: "inconclusive" when the measurement cannot decide —
fewer than 3 seeds behind a seed average, or 2 s.e. wider than
max(3 × tolerance, 25% of |paper|); else "reproduced" when
|ours − paper| ≤ max(2 s.e., tolerance); else "partly" when the direction
of the claim holds; else "not reproduced" (:func:`numeric_verdict`). A
directional claim ("A beats B") is "inconclusive" when the effect lies within
2 s.e. of zero (:func:`direction_verdict`).
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .groups import config_labels, constant_config, label_columns, mean_se, short_values

VERDICTS = ("reproduced", "partly", "not reproduced", "inconclusive")
MIN_SEEDS = 3  # a seed-averaged number on fewer seeds is never a verdict (the papers average 3)
VERDICT_COLUMNS = ["claim", "paper", "measured", "verdict", "reason"]
MISSING = "–"

# headline metrics of Results.runs summarised per configuration: column → (header, scale)
HEADLINE_METRICS: dict[str, tuple[str, float]] = {
    "test_acc": ("test accuracy (%)", 100.0),
    "test_mcr": ("test MCR (%)", 100.0),
    "val_acc": ("validation accuracy (%)", 100.0),
    "last_test_acc": ("test accuracy, last epoch (%)", 100.0),
    "train_time_s": ("training time (s)", 1.0),
}


# --------------------------------------------------------------------------- formatting


def is_missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def fmt_number(value, digits: int = 4) -> str:
    """A number in ``digits`` significant digits ("–" for None/NaN); other values as text."""
    if is_missing(value):
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        return f"{v:.{digits}g}"
    return str(value)


def fmt_mean_se(mean: float, se: float = math.nan, *, scale: float = 1.0, digits: int = 2) -> str:
    """"91.20 ± 0.35" (``digits`` decimals after scaling); the mean alone when s.e. is NaN; "–" when the mean is."""
    if is_missing(mean) or not math.isfinite(float(mean)):
        return MISSING if is_missing(mean) else fmt_number(mean)
    text = f"{scale * float(mean):.{digits}f}"
    if not is_missing(se) and math.isfinite(float(se)):
        text += f" ± {scale * float(se):.{digits}f}"
    return text


def _range_text(values) -> str:
    v = sorted({int(x) for x in values if not is_missing(x)})
    if not v:
        return MISSING
    return str(v[0]) if v[0] == v[-1] else f"{v[0]}–{v[-1]}"


# --------------------------------------------------------------------------- HTML


def as_frame(data, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A DataFrame from a DataFrame, a list of dicts, or a list of sequences with ``columns``."""
    if isinstance(data, pd.DataFrame):
        return data if columns is None else data[list(columns)]
    rows = list(data)
    if rows and isinstance(rows[0], Mapping):
        frame = pd.DataFrame(rows)
        return frame if columns is None else frame.reindex(columns=list(columns))
    if columns is None:
        raise ValueError("rows given as sequences need columns=[…]")
    return pd.DataFrame([list(r) for r in rows], columns=list(columns))


def html_table(
    data,
    caption: str | None = None,
    *,
    columns: Sequence[str] | None = None,
    index: bool = False,
    digits: int = 4,
    cell_classes: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """An HTML ``<table>`` of ``data`` with every header, cell and the caption escaped.

    Numbers are printed with ``digits`` significant digits, None/NaN as "–".
    ``cell_classes`` = {column: {cell text: css class}} marks known cells
    (e.g. verdicts); the class comes from the mapping, never from the data.
    """
    frame = as_frame(data, columns)
    if index:
        frame = frame.reset_index()
    esc = html.escape
    out = ['<div class="table-wrap"><table>']
    if caption:
        out.append(f"<caption>{esc(str(caption))}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{esc(str(c))}</th>" for c in frame.columns) + "</tr></thead><tbody>")
    classes = cell_classes or {}
    for row in frame.itertuples(index=False, name=None):
        cells = []
        for col, value in zip(frame.columns, row):
            text = fmt_number(value, digits)
            css = []
            if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
                css.append("num")
            extra = classes.get(col, {}).get(text)
            if extra:
                css.append(extra)
            attr = f' class="{esc(" ".join(css))}"' if css else ""
            cells.append(f"<td{attr}>{esc(text)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "\n".join(out)


# --------------------------------------------------------------------------- runs


def validation_text(val_fraction) -> str:
    """Where validation numbers come from, for a run's ``val_fraction``."""
    if is_missing(val_fraction):
        return MISSING
    v = float(val_fraction)
    return "the test set (val_fraction = 0)" if v == 0 else f"{100 * v:g}% of the training split, held out"


def seed_summary(runs: pd.DataFrame, metrics: Sequence[str] = tuple(HEADLINE_METRICS)) -> pd.DataFrame:
    """Per configuration: ``config_hash``, ``label``, ``n`` (runs), and ``<metric>_mean``/``_se``/``_n`` over seeds.

    Numeric (fractions as stored); runs without a value (failed, pending) do
    not count towards a metric's n.
    """
    labels = config_labels(runs)
    rows = []
    for h, part in runs.groupby("config_hash", sort=False):
        row = {"config_hash": h, "label": labels[h], "n": len(part)}
        for m in metrics:
            mean, se, n = mean_se(part[m]) if m in part.columns else (math.nan, math.nan, 0)
            row.update({f"{m}_mean": mean, f"{m}_se": se, f"{m}_n": n})
        rows.append(row)
    return pd.DataFrame(rows).sort_values("label", kind="stable").reset_index(drop=True) if rows else pd.DataFrame()


def runs_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One display row per configuration: the fields that vary, seeds, statuses, epochs, headline epoch, validation, metrics.

    Metrics as "mean ± s.e." over the seeds that have them (percent for
    accuracies and MCR); ``headline epoch`` lists the epochs the headline
    numbers were taken from (best-validation or last; see ``headline rule``).
    """
    if runs.empty:
        return pd.DataFrame()
    cols = label_columns(runs)
    shown = {c: short_values(c, runs[c]) for c in cols}
    summary = seed_summary(runs).set_index("config_hash")
    rows = []
    for h in summary.index:
        part = runs[runs["config_hash"] == h]
        first = part.iloc[0]
        row: dict[str, object] = {}
        if cols:
            for c in cols:
                row[c] = shown[c][str(first[c]) if not is_missing(first[c]) else "None"]
        else:
            row["configuration"] = summary.at[h, "label"]
        counts = part["status"].value_counts()
        row["seeds"] = ", ".join(str(s) for s in sorted(part["seed"]))
        row["status"] = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        row["epochs done"] = _range_text(part["epochs_done"]) + (f" of {int(first['epochs'])}" if "epochs" in part and not is_missing(first["epochs"]) else "")
        row["headline epoch"] = _range_text(part["headline_epoch"])
        row["headline rule"] = "; ".join(sorted({str(x) for x in part["headline"] if not is_missing(x)})) or MISSING
        row["validation"] = validation_text(first.get("val_fraction"))
        for m, (header, scale) in HEADLINE_METRICS.items():
            row[header] = fmt_mean_se(summary.at[h, f"{m}_mean"], summary.at[h, f"{m}_se"], scale=scale,
                                      digits=2 if scale == 100 else 1)
        rows.append(row)
    return pd.DataFrame(rows)


def run_list(runs: pd.DataFrame) -> pd.DataFrame:
    """One display row per run: id, status, seed, the varying fields, epochs, headline test accuracy, message."""
    if runs.empty:
        return pd.DataFrame()
    cols = label_columns(runs)
    out = runs[["run_id", "status", "seed", *cols, "epochs_done", "headline_epoch"]].copy()
    out["test accuracy (%)"] = [fmt_mean_se(v, scale=100) for v in runs["test_acc"]]
    out["message"] = runs["message"].map(lambda m: MISSING if is_missing(m) else str(m))
    return out.sort_values(["run_id"]).reset_index(drop=True)


def config_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The config fields shared by every run (field, value)."""
    return pd.DataFrame([{"field": k, "value": v} for k, v in constant_config(runs).items()])


# --------------------------------------------------------------------------- probe tables


def probe_epoch_table(df: pd.DataFrame, value: str, runs: pd.DataFrame | None = None, *, scale: float = 100.0,
                      unit: str = "%") -> pd.DataFrame:
    """``value`` per configuration and layer, untrained (epoch 0) vs trained (each run's last snapshot), mean ± s.e. over seeds.

    Rows where the probe marks the quantity undefined (``defined`` False)
    print "n/a". Columns: ``configuration`` (when ``runs`` is given),
    ``layer``, ``untrained (<unit>)``, ``trained (<unit>)``, ``trained at epoch``.
    """
    if df is None or df.empty:
        return pd.DataFrame()
    from .groups import GROUP, LABEL, attach_groups, ordered_layers

    data = attach_groups(df, runs)
    last = data.groupby("run_id")["epoch"].transform("max")
    rows = []
    for _, part in sorted(data.groupby(GROUP, sort=False), key=lambda kv: str(kv[1][LABEL].iloc[0])):
        for layer in ordered_layers(part["layer"]):
            lp = part[part["layer"] == layer]
            row: dict[str, object] = {}
            if runs is not None:
                row["configuration"] = str(lp[LABEL].iloc[0])
            row["layer"] = layer
            for name, sel in (("untrained", lp["epoch"] == 0), ("trained", (lp["epoch"] == last[lp.index]) & (lp["epoch"] > 0))):
                cell = lp[sel]
                if cell.empty:
                    row[f"{name} ({unit})"] = MISSING
                elif "defined" in cell.columns and not cell["defined"].astype(bool).any():
                    row[f"{name} ({unit})"] = "n/a"
                else:
                    m, se, _ = mean_se(cell[value])
                    row[f"{name} ({unit})"] = fmt_mean_se(m, se, scale=scale, digits=1 if scale == 100 else 3)
            trained = lp[(lp["epoch"] == last[lp.index]) & (lp["epoch"] > 0)]["epoch"]
            row["trained at epoch"] = _range_text(trained)
            rows.append(row)
    return pd.DataFrame(rows)


def sparsity_table(sparsity: pd.DataFrame, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Pretorius Table 1: % of (example, node) pairs with f(a) ≤ 0 per layer, untrained vs trained (n/a without a hard zero)."""
    return probe_epoch_table(sparsity, "sparsity", runs)


def saturation_table(saturation: pd.DataFrame, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """% of (example, node) pairs with |f′(a)| < threshold·max|f′| per layer, untrained vs trained (n/a if f never saturates)."""
    return probe_epoch_table(saturation, "saturation", runs)


def dead_units_table(dead_units: pd.DataFrame, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """% of a layer's nodes that are off (f(a) ≤ 0) on every probe example, untrained vs trained."""
    return probe_epoch_table(dead_units, "fraction", runs)


# --------------------------------------------------------------------------- paper vs measured


def interval_bound(paper: float, tolerance: float = 1.0) -> float:
    """Widest 2·s.e. on which a numeric claim can be decided: max(3 × tolerance, 0.25·|paper|) (issue 16)."""
    return max(3.0 * float(tolerance), 0.25 * abs(float(paper)))


def seeds_to_resolve(se: float, n: int, target_two_se: float) -> int | None:
    """Seeds at which 2 s.e. would shrink to ``target_two_se``, assuming s.e. ∝ 1/√n: ⌈n·(2 s.e./target)²⌉.

    At least 3 and at least n + 1; None when that is beyond a million seeds (more seeds will not decide it).
    """
    if not (math.isfinite(se) and se > 0 and target_two_se > 0 and n > 0):
        return max(MIN_SEEDS, n + 1)
    ratio = 2 * se / target_two_se
    if not ratio < 1e3:  # n·ratio² > 10⁶ (also catches an infinite ratio)
        return None
    return max(MIN_SEEDS, n + 1, math.ceil(n * ratio ** 2))


def _seeds_text(se: float, n: int, target_two_se: float) -> str:
    k = seeds_to_resolve(se, n, target_two_se)
    return f"~{k} seeds would resolve it" if k is not None else "no feasible number of seeds would resolve it"


def undecidable(se: float, n: int | None, bound: float, unit: str = "pp") -> str | None:
    """Why a seed-averaged measurement cannot decide a claim (None when it can).

    Too few seeds (``n`` < :data:`MIN_SEEDS`), no s.e., or 2·s.e. wider than ``bound``.
    ``n`` None means the number is not a seed average (a formula, a single deterministic measurement).
    """
    if n is None:
        return None
    if n < MIN_SEEDS:
        return f"n = {n}; needs ≥ {MIN_SEEDS} seeds"
    if is_missing(se) or not math.isfinite(float(se)):
        return f"n = {n} but no s.e.; needs ≥ {MIN_SEEDS} finite values"
    two_se = 2 * float(se)
    if two_se > bound:
        return f"2 s.e. = {two_se:.2f} {unit} > {bound:.2f} {unit}; {_seeds_text(float(se), n, bound)}"
    return None


def numeric_verdict(paper: float, mean: float, se: float = math.nan, *, n: int | None = None, tolerance: float = 1.0,
                    direction_holds: bool | None = None, unit: str = "pp") -> tuple[str, str]:
    """(verdict, one-line reason) for a numeric claim, values in percentage points (SPEC §10, issue 16).

    "inconclusive" when :func:`undecidable` (``n`` < 3 seeds, or 2·s.e. >
    max(3·``tolerance``, 0.25·|paper|)); else "reproduced" when
    |mean − paper| ≤ max(2·s.e., ``tolerance``); else "partly" when
    ``direction_holds`` (the claim's direction, judged by the caller), else
    "not reproduced". ``n`` None: not a seed average (no seed rule).
    """
    if is_missing(mean) or not math.isfinite(float(mean)):
        return "inconclusive", "no measurement; needs a finished run"
    why = undecidable(se, n, interval_bound(paper, tolerance), unit)
    if why:
        return "inconclusive", f"{float(mean):.2f} vs paper {float(paper):.2f}: {why}"
    diff = abs(float(mean) - float(paper))
    two_se = 2 * float(se) if not is_missing(se) and math.isfinite(float(se)) else 0.0
    bound = max(two_se, tolerance)
    bound_text = f"max(2 s.e. = {two_se:.2f}, {tolerance:g} {unit})" if two_se else f"{tolerance:g} {unit} (no s.e.)"
    if diff <= bound:
        return "reproduced", f"|{mean:.2f} − {paper:.2f}| = {diff:.2f} {unit} ≤ {bound_text}"
    reason = f"|{mean:.2f} − {paper:.2f}| = {diff:.2f} {unit} > {bound_text}"
    if direction_holds:
        return "partly", reason + "; the direction holds"
    return "not reproduced", reason + ("; the direction does not hold" if direction_holds is False else "")


def direction_verdict(effect: float, se: float, n: int | None, *, sign: int = 1, unit: str = "pp") -> tuple[str, str]:
    """(verdict, reason) for a directional claim "``effect`` has the sign ``sign``" (e.g. a difference of means).

    "inconclusive" when ``n`` < 3 seeds, there is no s.e., or |effect| ≤ 2·s.e.
    (the effect is within noise of zero); else "reproduced" when the sign is
    the claimed one, "not reproduced" when it is the opposite — both beyond 2 s.e.
    """
    if is_missing(effect) or not math.isfinite(float(effect)):
        return "inconclusive", "no measurement; needs a finished run"
    effect, text = float(effect), f"{float(effect):+.2f} {unit}"
    if n is not None and n < MIN_SEEDS:
        return "inconclusive", f"effect {text}, n = {n}; needs ≥ {MIN_SEEDS} seeds"
    if is_missing(se) or not math.isfinite(float(se)):
        return "inconclusive", f"effect {text} without an s.e.; needs ≥ {MIN_SEEDS} seeds"
    two_se = 2 * float(se)
    if abs(effect) <= two_se:
        n_text = _seeds_text(float(se), n, abs(effect)) if n else "more seeds would decide it"
        return "inconclusive", f"effect {text} within 2 s.e. = {two_se:.2f} of zero; {n_text}"
    if sign * effect > 0:
        return "reproduced", f"effect {text} beyond 2 s.e. = {two_se:.2f} in the claimed direction"
    return "not reproduced", f"effect {text} beyond 2 s.e. = {two_se:.2f} against the claimed direction"


def _measured_text(value) -> str:
    if isinstance(value, (tuple, list)) and 1 <= len(value) <= 3:
        mean = value[0]
        se = value[1] if len(value) > 1 else math.nan
        text = fmt_mean_se(mean, se)
        if len(value) == 3:
            text += f" (n = {int(value[2])})"
        return text
    return fmt_number(value)


def verdict_table(rows) -> pd.DataFrame:
    """Paper-vs-measured rows as a DataFrame with columns claim, paper, measured, verdict, reason.

    ``rows``: a DataFrame or a list of dicts with those keys. ``measured`` may
    be text, a number or a tuple (mean, s.e.[, n]) printed "mean ± s.e.".
    ``verdict`` must be one of :data:`VERDICTS` (or a qualitative sentence
    prefixed by one of them).
    """
    frame = as_frame(rows)
    missing = [c for c in VERDICT_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"verdict rows need the columns {', '.join(VERDICT_COLUMNS)} (missing: {', '.join(missing)})")
    out = frame[VERDICT_COLUMNS].copy()
    out["paper"] = out["paper"].map(_measured_text)
    out["measured"] = out["measured"].map(_measured_text)
    for v in out["verdict"]:
        if not any(str(v).startswith(ok) for ok in VERDICTS):
            raise ValueError(f"verdict {v!r}: must be one of {', '.join(VERDICTS)}")
    return out


def verdict_class(verdict: str) -> str:
    """CSS class of a verdict cell (from the fixed set)."""
    for v in ("not reproduced", "reproduced", "partly", "inconclusive"):
        if str(verdict).startswith(v):
            return {"reproduced": "ok", "partly": "partly", "not reproduced": "bad", "inconclusive": "unsure"}[v]
    return ""


__all__ = [
    "HEADLINE_METRICS", "MIN_SEEDS", "VERDICTS", "VERDICT_COLUMNS", "config_table", "dead_units_table",
    "direction_verdict", "fmt_mean_se", "interval_bound", "seeds_to_resolve", "undecidable",
    "fmt_number", "html_table", "numeric_verdict", "probe_epoch_table", "run_list", "runs_table",
    "saturation_table", "seed_summary", "sparsity_table", "validation_text", "verdict_class", "verdict_table",
]
