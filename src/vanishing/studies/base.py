"""What every study shares: scales, the sweep it runs, its claims, its report.

A study (one file per paper in this package) declares its paper, the figures
and tables it reproduces and its *scales* — ``quick`` (CPU, minutes, the
bundled MNIST sample), ``medium`` (full data at a size that fits about 45
minutes of a 2-core CPU), ``paper`` (the paper's own protocol on the
networks behind its headline tables and figures, ≥ 3 seeds, full data, run on
the 2-core CPU with the local executor — resumable, so it may span several
invocations) and ``full`` (the paper's whole grid, for a GPU or a Ray
cluster) — as plain dicts of parameters. ``--epochs``, ``--seeds`` and the
other common flags override the chosen scale. Its ``run(ctx)`` trains
through :meth:`StudyContext.sweep` (so every run lands in the study's results
root, resumes after a crash and can run on Ray), then states claims with
:meth:`StudyContext.numeric_claim` / :meth:`StudyContext.qualitative_claim`
and adds figures and tables to ``ctx.report``.

Verdicts (SPEC §10, issue 16): a numeric claim is "inconclusive" when it
rests on fewer than 3 seeds or 2 s.e. > max(3 × tolerance, 25% of |paper|);
else "reproduced" when |ours − paper| ≤ max(2 s.e., tolerance), "partly"
when the direction holds, else "not reproduced"
(:func:`vanishing.report.tables.numeric_verdict`). A directional claim ("A
beats B by a margin") is "inconclusive" within 2 s.e. of zero
(:meth:`StudyContext.direction_claim`). A qualitative claim is a sentence
with its evidence and the study's verdict.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..config import ExecConfig
from ..errors import ConfigError
from ..store.atomic import write_bytes

SCALES = ("quick", "medium", "paper", "full")


@dataclass(frozen=True)
class Study:
    """A paper reproduction: metadata, scales and the function that runs it."""

    name: str
    title: str
    citation: str  # the paper, as it is cited in the report
    reproduces: tuple[str, ...]  # figures and tables of the paper redrawn from our measurements
    scales: Mapping[str, Mapping[str, Any]]  # quick | medium | full → parameters of run()
    run: Callable[["StudyContext"], None]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    notes: str = ""  # what the paper leaves out and how the study handles it

    def parameters(self, scale: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """The scale's parameters with the non-None overrides applied."""
        if scale not in self.scales:
            raise ConfigError(f"--scale: study {self.name} has scales {', '.join(self.scales)}, not {scale!r}")
        params = dict(self.scales[scale])
        for key, value in overrides.items():
            if value is not None:
                params[key] = value
        return params


def mean_se(values: Sequence[float]) -> tuple[float, float, int]:
    """Mean, standard error s/√n (NaN for one value) and n over the finite values."""
    arr = np.asarray([v for v in values if v is not None and math.isfinite(float(v))], dtype=float)
    n = len(arr)
    if n == 0:
        return math.nan, math.nan, 0
    se = float(arr.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return float(arr.mean()), se, n


@dataclass
class StudyContext:
    """Everything a study's ``run`` needs: parameters, where to put results, the report and the claims."""

    study: Study
    scale: str
    params: dict[str, Any]
    results: Path
    exec_config: ExecConfig
    sweep_options: dict[str, Any]
    args: argparse.Namespace
    report: Any = None  # vanishing.report.Report
    claims: list[dict] = field(default_factory=list)
    out: Any = sys.stdout
    figure_dir: Path | None = None

    def log(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # -- training ---------------------------------------------------------
    def sweep(self, name: str, *, base: Mapping, grid: Mapping | None = None, zip: Any = None,
              seeds: Sequence[int] | None = None):
        """Run one sweep of the study into its results root; returns the ``vanishing.load`` tables of its runs.

        The tables (``.runs``, ``.epochs``, ``.probes``) are restricted to
        this sweep's runs, so a study can run several sweeps into one root.
        """
        from ..store import load
        from ..sweep import sweep

        seeds = list(seeds if seeds is not None else range(self.params.get("seeds", 1)))
        self.log(f"\n[{self.study.name}] sweep {name}: " + ", ".join(
            f"{k} = {v}" for k, v in (grid or {}).items()) + f"; seeds {seeds}")
        result = sweep(base=dict(base), grid=dict(grid or {}), zip=zip, seeds=seeds, name=f"{self.study.name}-{name}",
                       results=self.results, exec_config=self.exec_config, out=self.out, **self.sweep_options)
        if not result.complete:
            bad = result.runs[~result.runs["status"].isin(["done", "diverged"])]
            raise RuntimeError(f"sweep {name}: {len(bad)} runs did not finish ({', '.join(sorted(set(bad['status'])))})")
        tables = load(self.results)
        ids = set(result.runs["run_id"])
        tables.runs = tables.runs[tables.runs["run_id"].isin(ids)].reset_index(drop=True)
        tables.epochs = tables.epochs[tables.epochs["run_id"].isin(ids)].reset_index(drop=True)
        tables.probes = {k: v[v["run_id"].isin(ids)].reset_index(drop=True) for k, v in tables.probes.items()}
        return tables

    def theory(self, base: Mapping, overrides: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Mean-field prediction (:func:`vanishing.theory.predict`) for the model of a sweep's base config.

        q₁ comes from the second moment of the training inputs of the config's
        data set (as preprocessed for the run), so the prediction sits on the
        same footing as the measured per-example δ at init.
        """
        from ..config import config_from_dict, resolve, with_overrides
        from ..data import load_dataset
        from ..theory import input_second_moment, predict

        cfg = resolve(with_overrides(config_from_dict(dict(base)), dict(overrides or {})))
        d = cfg.data
        data = load_dataset(d.dataset, data_dir=self.exec_config.data_dir, mirror=self.exec_config.mirror,
                            val_fraction=d.val_fraction, split_seed=d.split_seed, pixel_divisor=d.pixel_divisor,
                            standardize=d.standardize, train_subset=d.train_subset)
        return predict(cfg.model, data.n_features, data.n_classes, input_m2=input_second_moment(data.x_train))

    # -- claims -----------------------------------------------------------
    def numeric_claim(self, claim: str, paper: float, values: Sequence[float], *, direction_holds: bool | None = None,
                      note: str = "", unit: str = "%", tolerance: float = 1.0) -> dict:
        """A numeric claim: the paper's number beside our mean ± s.e. over seeds (one value per seed), with its verdict."""
        row = numeric_claim_row(claim, paper, values, direction_holds=direction_holds, note=note, unit=unit,
                                tolerance=tolerance)
        self.claims.append(row)
        return row

    def direction_claim(self, claim: str, paper: str, effect: float, se: float, n: int | None, *, sign: int = 1,
                        note: str = "", unit: str = "pp") -> dict:
        """A directional claim: ``effect`` (e.g. a difference of seed means, ± its s.e. over ``n`` seeds) has ``sign``."""
        row = direction_claim_row(claim, paper, effect, se, n, sign=sign, note=note, unit=unit)
        self.claims.append(row)
        return row

    def qualitative_claim(self, claim: str, verdict: str, evidence: str, paper: str = "stated") -> dict:
        """A claim without a number: the sentence, our verdict and the evidence for it."""
        row = {"claim": claim, "paper": paper, "measured": evidence, "verdict": verdict, "reason": evidence, "unit": ""}
        self.claims.append(row)
        return row

    # -- report -----------------------------------------------------------
    def figure(self, fig, caption: str, name: str) -> None:
        """Add a figure to the report; PNG and PDF are saved under ``<results>/figures/``."""
        from ..report.figures import save

        item = self.report.add_figure(fig, caption, name=name)
        if self.figure_dir is not None:
            if {"png", "pdf"} <= set(item.files):  # the report rendered them already: write the same bytes
                self.figure_dir.mkdir(parents=True, exist_ok=True)
                for ext in ("png", "pdf"):
                    write_bytes(self.figure_dir / f"{name}.{ext}", item.files[ext])
            else:
                save(fig, self.figure_dir / name)
        import matplotlib.pyplot as plt

        plt.close(fig)


def numeric_claim_row(claim: str, paper: float, values: Sequence[float], *, direction_holds: bool | None = None,
                      note: str = "", unit: str = "%", tolerance: float = 1.0) -> dict:
    """The claim row of :meth:`StudyContext.numeric_claim`, as a pure function (claims modules build rows with it)."""
    from ..report.tables import numeric_verdict

    mean, se, n = mean_se(values)
    verdict, reason = numeric_verdict(paper, mean, se, n=n, tolerance=tolerance, direction_holds=direction_holds,
                                      unit="pp" if unit == "%" else unit)
    return {"claim": claim, "paper": paper, "measured": (mean, se, n), "verdict": verdict,
            "reason": reason + (f"; {note}" if note else ""), "unit": unit}


def direction_claim_row(claim: str, paper: str, effect: float, se: float, n: int | None, *, sign: int = 1,
                        note: str = "", unit: str = "pp") -> dict:
    """The claim row of :meth:`StudyContext.direction_claim` (verdict by :func:`~vanishing.report.tables.direction_verdict`)."""
    from ..report.tables import direction_verdict

    verdict, reason = direction_verdict(effect, se, n, sign=sign, unit=unit)
    return {"claim": claim, "paper": paper, "measured": (effect, se, n if n is not None else 0), "verdict": verdict,
            "reason": reason + (f"; {note}" if note else ""), "unit": unit}


def qualitative_claim_row(claim: str, verdict: str, evidence: str, *, n: int | None, paper: str = "stated",
                          needs: str = "seeds") -> dict:
    """A sentence about means over ``n`` seeds (or chains, cells…) with its verdict — ``inconclusive`` when a
    decisive verdict would rest on n < 3 (issue 16); n None: a deterministic statement, no such rule."""
    from ..report.tables import MIN_SEEDS

    reason = evidence
    if n is not None and n < MIN_SEEDS and verdict in ("reproduced", "not reproduced", "partly"):
        verdict, reason = "inconclusive", f"n = {n}; needs ≥ {MIN_SEEDS} {needs} ({verdict} on these); {evidence}"
    return {"claim": claim, "paper": paper, "measured": evidence, "verdict": verdict, "reason": reason, "unit": ""}


def claims_frame(claims: Sequence[dict]) -> pd.DataFrame:
    """The claims as a DataFrame with numeric columns (for CSV) — paper, mean, se, n, unit, seed_averaged, verdict, reason.

    ``seed_averaged`` is False for a number that is not an average over seeds (an exact computation; its
    row sets ``"seed_averaged": False``) and for qualitative rows; the issue-16 seed rule applies to the rest.
    """
    rows = []
    for c in claims:
        measured = c["measured"]
        mean, se, n = measured if isinstance(measured, tuple) else (math.nan, math.nan, 0)
        rows.append({"claim": c["claim"], "paper": c["paper"], "mean": mean, "se": se, "n": n, "unit": c["unit"],
                     "seed_averaged": bool(c.get("seed_averaged", isinstance(measured, tuple))),
                     "verdict": c["verdict"], "reason": c["reason"]})
    return pd.DataFrame(rows)


def format_claims(claims: Sequence[dict]) -> str:
    """The paper-vs-measured table as fixed-width text for the terminal."""
    if not claims:
        return "(no claims)"
    rows = []
    for c in claims:
        measured = c["measured"]
        if isinstance(measured, tuple):
            mean, se, n = measured
            text = f"{mean:.2f}" + (f" ± {se:.2f}" if math.isfinite(se) else "") + f" (n={n})"
        else:
            text = str(measured)
        paper = f"{c['paper']:.2f}" if isinstance(c["paper"], (int, float)) else str(c["paper"])
        rows.append((c["claim"], paper, text, c["verdict"]))
    widths = [min(max(len(r[i]) for r in rows + [("claim", "paper", "measured", "verdict")]), cap)
              for i, cap in enumerate((60, 12, 40, 14))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(("claim", "paper", "measured", "verdict"), widths))]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(_clip(v, w).ljust(w) for v, w in zip(r, widths)))
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def run_study(study: Study, scale: str, overrides: Mapping[str, Any], *, results: str | Path | None = None,
              exec_config: ExecConfig | None = None, sweep_options: Mapping[str, Any] | None = None,
              args: argparse.Namespace | None = None, out=sys.stdout, command: Sequence[str] | None = None) -> dict:
    """Run ``study`` at ``scale``; print the paper-vs-measured table; write report.html and claims.csv.

    Returns ``{"claims": DataFrame, "report": Path, "results": Path, "seconds": float}``.
    """
    from ..report.html import Report, environment_info

    params = study.parameters(scale, overrides)
    root = Path(results or f"vanishing-results/study-{study.name}-{scale}")
    ex = exec_config or ExecConfig()
    from dataclasses import replace

    ex = replace(ex, results=str(root))
    report = Report(study.title, subtitle=study.citation)
    ctx = StudyContext(study, scale, params, root, ex, dict(sweep_options or {}), args or argparse.Namespace(),
                       report=report, out=out, figure_dir=root / "figures")
    started = time.time()
    data_line = _data_line(params.get("dataset"), ex.data_dir)
    if data_line:
        print(f"[{study.name}] data: {data_line}", file=out, flush=True)
        report.add_text(f"Data: {data_line}")
    report.add_text(f"Scale: {scale} — " + ", ".join(f"{k} = {v}" for k, v in params.items()))
    report.add_text("Reproduces: " + "; ".join(study.reproduces))
    if study.notes:
        report.add_text(study.notes, note=True)
    study.run(ctx)
    seconds = time.time() - started

    claims = claims_frame(ctx.claims)
    report.add_verdicts([{k: c[k] for k in ("claim", "paper", "measured", "verdict", "reason")} for c in ctx.claims])
    report.add_command(shlex.join(command) if command else f"vanishing study {study.name} --{scale}",
                       environment=environment_info())
    report.add_text(f"Wall time of this invocation: {seconds:.0f} s (runs already in the results root are reused).", note=True)
    root.mkdir(parents=True, exist_ok=True)
    write_bytes(root / "claims.csv", claims.to_csv(index=False).encode())
    path = report.write(root / "report.html")
    print(f"\n{study.title} — paper vs measured ({scale}):", file=out)
    print(format_claims(ctx.claims), file=out)
    print(f"\nreport: {path}", file=out, flush=True)
    return {"claims": claims, "report": path, "results": root, "seconds": seconds}


def _data_line(dataset: Any, data_dir: str | None) -> str | None:
    """Where the study's data set comes from (one line, said before training: offline runs say so)."""
    if not isinstance(dataset, str) or dataset.startswith("npz:"):
        return None
    from ..data.sources import find

    found, _ = find(dataset, data_dir)
    if found is None:
        return None  # the run itself will say where it looked
    offline = "; nothing is downloaded" if found.origin == "bundled" else ""
    return f"{dataset}: {found.describe()}{offline}"
