"""Robinson (2024)'s claims as pure functions of a per-seed accuracy table (no training, no context).

The protocol (:mod:`.protocol`) turns the stored runs into one tidy table,
:func:`accuracy_table`'s shape: a row per (sweep, setting, width,
activation, output, inputs, seed, epoch) with ``acc`` (test accuracy, %) and
``epoch_time_s``. Each function here reads that table and returns claim rows
(:func:`~vanishing.studies.base.numeric_claim_row` /
:func:`~vanishing.studies.base.direction_claim_row` / :func:`qualitative_row`),
so every verdict can be checked on a synthetic table of a few rows.

Verdict rule (issue 16): a seed-averaged number on fewer than 3 seeds, or with
2 s.e. wider than max(3 × tolerance, 25% of |paper|), is ``inconclusive``;
so is a qualitative statement about seed means on fewer than 3 seeds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from ..base import direction_claim_row, mean_se, numeric_claim_row, qualitative_claim_row

PAPER = {"relu5": 91.0, "relu10": 93.7, "sigmoid5": 10.6, "sigmoid10": 10.6, "relu_out_relu": 9.0, "sigmoid_out": 10.5}
COLUMNS = ("sweep", "setting", "width", "activation", "output", "inputs", "seed", "epoch", "acc", "epoch_time_s")
GAP = 20.0  # pp: "far above" — ReLU over a stalled sigmoid
STALL = 20.0  # %: below this a 10-class net has stalled (chance 10%)
FLAT = 2.0  # pp: "no epochal improvement" tolerance


def setting_text(width: int) -> str:
    return f"Keras defaults (SGD lr 0.01, batch 32, Glorot), width {width}"


def qualitative_row(claim: str, verdict: str, evidence: str, *, n: int | None, paper: str = "stated") -> dict:
    """:func:`~vanishing.studies.base.qualitative_claim_row` counting seeds."""
    return qualitative_claim_row(claim, verdict, evidence, n=n, paper=paper, needs="seeds")


def acc(table: pd.DataFrame, epoch: int, **fields) -> list[float]:
    """Per-seed accuracies (%) at ``epoch`` of the rows matching ``fields`` (ordered by seed)."""
    mask = table["epoch"] == epoch
    for key, value in fields.items():
        mask &= table[key] == value
    return table[mask].sort_values("seed")["acc"].astype(float).tolist()


def _mean(values: Sequence[float]) -> float:
    return mean_se(values)[0]


def _diff(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, int]:
    """mean(a) − mean(b), its s.e. √(se_a² + se_b²) and the smaller n (two independent seed samples)."""
    ma, sa, na = mean_se(a)
    mb, sb, nb = mean_se(b)
    return ma - mb, math.sqrt(sa ** 2 + sb ** 2) if na > 1 and nb > 1 else math.nan, min(na, nb)


def _keras(width: int) -> dict:
    return {"sweep": "main", "setting": "keras-sgd", "width": width, "output": "softmax", "inputs": "/255"}


def accuracy_claims(table: pd.DataFrame, *, width: int, early: int, epochs: int) -> list[dict]:
    """ReLU ≈ 91% (early) / 93.7% (10 epochs), sigmoid stalls at 10.6%, no epochal improvement."""
    k = _keras(width)
    setting = setting_text(width)
    rel5, sig5 = acc(table, early, activation="relu", **k), acc(table, early, activation="sigmoid", **k)
    relL, sigL = acc(table, epochs, activation="relu", **k), acc(table, epochs, activation="sigmoid", **k)
    gap = (_mean(rel5) - _mean(sig5)) > GAP
    rows = [numeric_claim_row(f"ReLU val accuracy after {early} epochs ≈ 91% [{setting}]", PAPER["relu5"], rel5,
                              direction_holds=gap, note="direction: ReLU far above sigmoid" if gap else "")]
    if epochs >= 10:
        rows.append(numeric_claim_row(f"ReLU val accuracy after 10 epochs = 93.7% [{setting}]", PAPER["relu10"], relL,
                                      direction_holds=_mean(relL) > _mean(rel5)))
    rows.append(numeric_claim_row(f"sigmoid stalls at 10.6% after {early} epochs [{setting}]", PAPER["sigmoid5"], sig5,
                                  direction_holds=gap))
    if epochs >= 10:
        rows.append(numeric_claim_row(f"sigmoid stalls at 10.6% after 10 epochs [{setting}]", PAPER["sigmoid10"], sigL,
                                      direction_holds=_mean(sigL) < _mean(relL) - GAP))
    first = acc(table, 1, activation="sigmoid", **k)
    gains = [b - a for a, b in zip(first, sigL)]  # per seed: epoch 1 → last
    rows.append(numeric_claim_row(
        "the sigmoid net shows no epochal improvement (accuracy gain from epoch 1 to the last, pp)", 0.0, gains,
        unit="pp", tolerance=FLAT, direction_holds=bool(gains) and _mean(gains) < 5 * FLAT,
        note=f"sigmoid accuracy changes by {_mean(gains):+.2f} pp from epoch 1 to {epochs} [{setting}]"))
    return rows


def optimizer_claim(table: pd.DataFrame, *, width: int, early: int) -> dict:
    """With Adam the same sigmoid net learns: the stall belongs to the optimizer the paper does not name."""
    adam = acc(table, early, sweep="main", setting="adam", width=width, activation="sigmoid", output="softmax",
               inputs="/255")
    keras = acc(table, early, activation="sigmoid", **_keras(width))
    effect, se, n = _diff(adam, keras)
    row = direction_claim_row(
        "(setting) the stall depends on the optimizer the paper does not name (Adam − SGD, sigmoid)", "not stated",
        effect, se, n, note=f"with Adam lr 1e-3 the same sigmoid net reaches {_mean(adam):.1f}% after {early} epochs "
        f"(SGD lr 0.01: {_mean(keras):.1f}%) — the stall is a property of plain SGD at lr 0.01 on a 4-layer sigmoid "
        "net, not of the sigmoid alone")
    return row


def speed_claim(table: pd.DataFrame, *, width: int) -> dict:
    """No speed difference: per-seed epoch-time ratio sigmoid / ReLU ≈ 1 (tolerance 0.25)."""
    k = _keras(width)
    t = table[(table["sweep"] == k["sweep"]) & (table["setting"] == k["setting"]) & (table["width"] == width)
              & (table["output"] == "softmax") & (table["inputs"] == "/255")]
    per_seed = t.groupby(["activation", "seed"])["epoch_time_s"].mean()
    sig = per_seed.get("sigmoid", pd.Series(dtype=float))
    rel = per_seed.get("relu", pd.Series(dtype=float))
    seeds = sorted(set(sig.index) & set(rel.index))
    ratios = [float(sig[s] / rel[s]) for s in seeds]
    return numeric_claim_row("no speed difference between sigmoid and ReLU (epoch time sigmoid / ReLU)", 1.0, ratios,
                             unit="", tolerance=0.25,
                             note=f"epoch time sigmoid / ReLU = {_mean(ratios):.2f} "
                                  f"({float(sig.mean()):.2f} s vs {float(rel.mean()):.2f} s per epoch)")


def gradient_claim(ratios: Mapping[str, float], *, width: int, n: int) -> dict:
    """The sigmoid net's gradients vanish towards the input: hidden1/hidden4 ‖∂E/∂W‖ ratio ≪ ReLU's."""
    verdict = "reproduced" if ratios["sigmoid"] < 0.1 * ratios["relu"] else "partly"
    return qualitative_row(
        "the sigmoid net's gradients vanish towards the input (the paper's explanation)", verdict,
        f"mean ‖∂E/∂W‖ over the first 100 steps, hidden1 / hidden4: sigmoid {ratios['sigmoid']:.3g}, "
        f"ReLU {ratios['relu']:.3g} [{setting_text(width)}]", n=n)


def output_claims(table: pd.DataFrame, *, width: int, epochs: int) -> list[dict]:
    """The output-activation ablation: ReLU→ReLU output ~9%, the sigmoid net 10–11% whatever its output."""
    ab = {"sweep": "output-ablation", "setting": "keras-sgd", "width": width, "inputs": "/255"}
    relu_relu = acc(table, epochs, activation="relu", output="relu", **ab)
    # per seed, the mean over the two output layers: n counts seeds, not runs
    by_out = [acc(table, epochs, activation="sigmoid", output=o, **ab) for o in ("relu", "sigmoid")]
    sig_out = [(a + b) / 2 for a, b in zip(*by_out)]
    relL = acc(table, epochs, activation="relu", **_keras(width))
    return [
        numeric_claim_row("ReLU hidden with a ReLU output layer reaches only ~9%", PAPER["relu_out_relu"], relu_relu,
                          direction_holds=_mean(relu_relu) < _mean(relL) - GAP),
        numeric_claim_row("the sigmoid net stalls at 10–11% whatever its output layer", PAPER["sigmoid_out"], sig_out,
                          direction_holds=_mean(sig_out) < STALL,
                          note="per seed, the mean over the ReLU and sigmoid output layers"),
    ]


def input_claim(table: pd.DataFrame, *, width: int, epochs: int) -> dict:
    """The "divided by 784" reading: with inputs ÷255÷784 ReLU + SGD stalls too (below 20%, beyond 2 s.e.)."""
    relu784 = acc(table, epochs, sweep="input-784", setting="keras-sgd", width=width, activation="relu",
                  output="softmax", inputs="/255/784")
    mean, se, n = mean_se(relu784)
    text = f"{mean:.2f}" + (f" ± {se:.2f}" if math.isfinite(se) else "")
    return direction_claim_row(
        "(reading) with inputs ÷255÷784 ReLU + SGD stalls as well (20% − accuracy)", "'divided by 784'",
        STALL - mean, se, n,
        note=f"ReLU with inputs ÷255÷784 reaches {text}% after {epochs} epochs — had the paper trained on those "
             "inputs, its ReLU net would not have reached 91%, so it most likely divided by 255 only")


def claims(table: pd.DataFrame, *, width: int, epochs: int, grad_ratios: Mapping[str, float] | None = None,
           grad_n: int = 0) -> list[dict]:
    """Every claim of the study, in report order, from the accuracy table (and the gradient-probe ratios)."""
    early = min(5, epochs)
    rows = accuracy_claims(table, width=width, early=early, epochs=epochs)
    rows.append(optimizer_claim(table, width=width, early=early))
    rows.append(speed_claim(table, width=width))
    if grad_ratios is not None:
        rows.append(gradient_claim(grad_ratios, width=width, n=grad_n))
    rows += output_claims(table, width=width, epochs=epochs)
    rows.append(input_claim(table, width=width, epochs=epochs))
    return rows


def synthetic_table(groups: Mapping[tuple, Sequence[float]], *, epochs: Sequence[int] = (1, 5, 10),
                    epoch_time_s: float = 1.0) -> pd.DataFrame:
    """A table in :data:`COLUMNS` shape from {(sweep, setting, width, activation, output, inputs): per-seed accs}
    — the same accuracies at every epoch listed (for tests and examples)."""
    rows = []
    for key, values in groups.items():
        for seed, value in enumerate(values):
            for epoch in epochs:
                rows.append(dict(zip(COLUMNS[:6], key), seed=seed, epoch=epoch, acc=float(value),
                                 epoch_time_s=epoch_time_s))
    return pd.DataFrame(rows, columns=list(COLUMNS))


__all__ = ["PAPER", "COLUMNS", "accuracy_claims", "optimizer_claim", "speed_claim", "gradient_claim", "output_claims",
           "input_claim", "claims", "qualitative_row", "synthetic_table", "acc"]
