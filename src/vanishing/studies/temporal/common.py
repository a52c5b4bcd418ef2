"""What the temporal study's protocol, claims and figures share: the cells, tasks, thresholds and summaries."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from ..base import mean_se

CELL_ORDER = ("rnn_tanh", "rnn_sigmoid", "rnn_relu", "lstm", "gru")
CELL_NAMES = {"rnn_tanh": "RNN tanh", "rnn_sigmoid": "RNN sigmoid", "rnn_relu": "RNN ReLU", "lstm": "LSTM",
              "gru": "GRU"}
TORCH_INIT = {"init": "torch_default", "recurrent_init": "torch_default", "bias_init": "torch_default"}
ABLATIONS = {  # label → (cell, config overrides): trained at the ablation lengths
    "lstm(b_f=0)": ("lstm", {"forget_bias": 0.0}),
    "lstm(b_f=3)": ("lstm", {"forget_bias": 3.0}),
    "rnn_tanh[torch_default]": ("rnn_tanh", TORCH_INIT),
}
INIT_ONLY = {  # label → (cell, overrides): probed at init only (steps = 0), at the longest length
    "rnn_relu[torch_default]": ("rnn_relu", TORCH_INIT),
    "rnn_sigmoid[orthogonal(4)]": ("rnn_sigmoid", {"recurrent_init": "orthogonal(gain=4.0)"}),
    "lstm(b_f=5)": ("lstm", {"forget_bias": 5.0}),
    "lstm(b_f=0)[torch_default]": ("lstm", {**TORCH_INIT, "forget_bias": 0.0}),
    "gru[torch_default]": ("gru", TORCH_INIT),
}
TASK_METRIC = {  # task → (summary/history column, axis label, scale)
    "adding": ("test_loss_ratio", "test MSE ÷ Var(y)  (1 = chance)", 1.0),
    "copy": ("test_error", "test symbol error (%)", 100.0),
}
GRAD_LABEL = r"RMS $\|\partial L/\partial h_{T-k}\|$"
BRIDGED = 0.5  # a length counts as bridged when the task error is below half the input-blind (chance) error


def _profile(tg: pd.DataFrame, run_id: str, step: int) -> pd.DataFrame:
    rows = tg[(tg["run_id"] == run_id) & (tg["step"] == step)]
    return rows.sort_values("k").reset_index(drop=True)


def _k0(task: str, symbols: int) -> int:
    return 0 if task == "adding" else symbols - 1



def _fmt(values, digits: int = 2, scale: float = 1.0) -> str:
    mean, se, n = mean_se([v * scale for v in values])
    if n == 0:
        return "–"
    return f"{mean:.{digits}f}" + (f" ± {se:.{digits}f}" if math.isfinite(se) else "")


def _fmt_log(values) -> str:
    """Geometric summary of positive values spanning decades: 10^(mean ± s.e. of log10)."""
    logs = [math.log10(v) for v in values if v is not None and math.isfinite(v) and v > 0]
    mean, se, n = mean_se(logs)
    if n == 0:
        return "0" if len(values) else "–"
    return f"1e{mean:+.1f}" + (f" (±{se:.1f} dex)" if math.isfinite(se) else "")


def _log_mean(values) -> float:
    logs = [math.log10(v) for v in values if v is not None and math.isfinite(v) and v > 0]
    return float(np.mean(logs)) if logs else -math.inf



def _order(label: str) -> tuple:
    """Sort key: the five cells in CELL_ORDER, each followed by its variants."""
    base = label.split("(")[0].split("[")[0]
    return (CELL_ORDER.index(base) if base in CELL_ORDER else len(CELL_ORDER), label != base, label)


def _cell_color(label: str):
    from ...report.figures import TAB10

    base = label.split("(")[0].split("[")[0]
    return TAB10[CELL_ORDER.index(base) if base in CELL_ORDER else 7]


def _geo(frames: list[pd.DataFrame], column: str) -> np.ndarray:
    """Geometric mean over seeds, per k (zeros and NaN left out)."""
    arr = np.vstack([f[column].to_numpy(float) for f in frames])
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a lag where every seed is 0 or NaN: NaN, not drawn
        logs = np.where(arr > 0, np.log10(arr), np.nan)
        m = np.nanmean(logs, axis=0)
    return 10.0 ** m



def _sel(df: pd.DataFrame, **kw) -> pd.DataFrame:
    mask = pd.Series(True, index=df.index)
    for k, v in kw.items():
        mask &= df[k] == v
    return df[mask]

