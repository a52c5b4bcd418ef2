"""Pretorius ablation: the *untrained* nets over many seeds and two input preprocessings (no training).

Two Table 1 / Fig 6 rows about untrained 4×200 nets do not reproduce at the
``--paper`` scale: CIFAR-10 ReLU layers 2 and 4 are 2–4 pp less sparse than
the paper's ≈ 51% with an s.e. of 0.2–0.6 pp over 3 seeds, and untrained deep
ReLU layers carry *less* class information than sigmoid ones (η² 0.11 vs
0.20 in hidden4), against Fig 6. Untrained nets cost one forward pass each,
so both can be measured on many seeds and under the one preprocessing choice
the paper leaves open (seed 001 does not say how inputs are scaled):

- ``scaled``: pixels ÷ 255 in [0, 1], not centred (the study's inputs);
- ``standardised``: per-feature z-score with training-split statistics
  (``data.standardize``).

Per (data set, inputs, activation, seed) the net is built as the study builds
it (4 × 200, ReLU/He normal or sigmoid/Xavier uniform, zero biases, no batch
norm; :func:`vanishing.model.build_model` from the run config and seed) and
read on the study's probe set (100 training examples per class, probe seed 0)
with the probes' formulas, y_nj the output of node j on example n (N examples,
s nodes)::

    sparsity = (1/s) Σ_j (1/N) Σ_n [y_nj ≤ 0]                    (× 100: Table 1's %)
    η²       = mean over nodes of Σ_c n_c (m_c − m)² / Σ_n (y_nj − m)²   (Fig 6's class overlap, inverted)

(:func:`.sparsity_readings.layer_readings`, :func:`vanishing.analysis.node_summary`
on :func:`vanishing.probes.activation_stats.node_stats`). Why the sparsity
of a non-centred input has a wide seed-to-seed spread: with zero biases, node
j of layer 1 is off on example n when w_j·x_n ≤ 0, and for inputs in [0, 1]
w_j·x_n ≈ w_j·x̄ + w_j·(x_n − x̄) is dominated by the shared term w_j·x̄, so a
node is off for most examples or for few — at the extreme each node
contributes 0 or 1 and the layer mean over s = 200 nodes varies like a mean of
200 coin flips (s.d. ≤ 50/√200 ≈ 3.5 pp per seed), and so does every layer fed
by non-negative ReLU outputs. Centred inputs remove the shared term in layer 1
only. (Measured, ``python scripts/pretorius_untrained_inputs.py --seeds 30``:
s.d. per seed 1.7–3.1 pp in every layer with inputs ÷ 255; 0.16–0.26 pp in
layer 1 and 1.7–2.9 pp deeper with standardised inputs.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from ...analysis import node_summary
from ...probes.activation_stats import STAT_COLUMNS, node_stats
from ...report.tables import numeric_verdict
from ..base import mean_se
from .claims import PAPER_TABLE1
from .protocol import INITS
from .sparsity_readings import layer_outputs, layer_readings

INPUTS = ("scaled", "standardised")
ACTIVATIONS = ("relu", "sigmoid")
DATASETS = {"MNIST": "mnist", "CIFAR-10": "cifar10"}
TOLERANCE_PP = 1.0  # the tolerance of the Table 1 rows (claims.py)


def run_config(task: str, inputs: str, activation: str, seed: int, *, width: int = 200, depth: int = 4):
    """The resolved run config of the study's untrained depth × width net (no batch norm) for ``task``."""
    from ...config import config_from_dict, resolve

    return resolve(config_from_dict({
        "data": {"dataset": DATASETS[task], "val_fraction": 0.1, "standardize": inputs == "standardised"},
        "model": {"hidden": [width] * depth, "activation": activation, "init": INITS[activation],
                  "batch_norm": "off", "output": "softmax", "bias_init": "zeros"},
        "seed": seed,
    }))


def read_net(model, x: torch.Tensor, labels: torch.Tensor, n_classes: int) -> pd.DataFrame:
    """Per hidden layer of ``model`` on (``x``, ``labels``): sparsity (%), dead share (%) and mean η² over nodes."""
    outputs = layer_outputs(model, x)
    sparsity, dead = layer_readings(outputs)
    rows = []
    for i, y in enumerate(outputs):
        stats, counts = node_stats(y, labels, n_classes)
        k, _, width = stats.shape
        frame = {"run_id": "r", "epoch": 0, "layer": f"hidden{i + 1}", "node": np.tile(np.arange(width), k),
                 "class": np.repeat(np.r_[np.arange(n_classes), -1], width),
                 "count": np.repeat(counts.numpy(), width)}
        for j, col in enumerate(STAT_COLUMNS):
            frame[col] = stats[:, j, :].reshape(-1).numpy()
        eta2 = float(node_summary(pd.DataFrame(frame))["eta2"].iloc[0])
        rows.append({"layer": i + 1, "sparsity": 100 * sparsity[i], "dead": 100 * dead[i], "eta2": eta2})
    return pd.DataFrame(rows)


def measure(tasks: Sequence[str], seeds: Sequence[int], load_probe, *, inputs: Sequence[str] = INPUTS,
            activations: Sequence[str] = ACTIVATIONS) -> pd.DataFrame:
    """Rows (task, inputs, activation, seed, layer, sparsity, dead, eta2) for every combination;
    ``load_probe(config)`` → (probe inputs, probe labels, n_features, n_classes) of a run config's data."""
    from ...model import build_model

    frames = []
    for task in tasks:
        for inp in inputs:
            x, y, n_in, n_out = load_probe(run_config(task, inp, "relu", 0))
            for act in activations:
                for seed in seeds:
                    model = build_model(run_config(task, inp, act, seed).model, n_in, n_out, seed).eval()
                    frames.append(read_net(model, x, y, n_out).assign(task=task, inputs=inp, activation=act,
                                                                       seed=seed))
    return pd.concat(frames, ignore_index=True)


def summarise(rows: pd.DataFrame, *, first: int = 3) -> pd.DataFrame:
    """Per (task, inputs, activation, layer): sparsity and η², mean ± s.e. over all seeds and over the ``first``
    seeds (the ``--paper`` runs' count), the seed-to-seed s.d. of sparsity, and for ReLU the Table 1 untrained
    value with the numeric verdict (tolerance 1 pp) on all seeds and on the first ``first``."""
    out = []
    for (task, inp, act, layer), part in rows.groupby(["task", "inputs", "activation", "layer"], sort=False):
        part = part.sort_values("seed")
        m, se, n = mean_se(part["sparsity"].tolist())
        m3, se3, n3 = mean_se(part["sparsity"].head(first).tolist())
        e, ese, _ = mean_se(part["eta2"].tolist())
        row = {"task": task, "inputs": inp, "activation": act, "layer": int(layer), "n": n,
               "sparsity": m, "se": se, "sd": float(np.std(part["sparsity"], ddof=1)) if n > 1 else float("nan"),
               f"sparsity_first{first}": m3, f"se_first{first}": se3, "eta2": e, "eta2_se": ese,
               "paper": float("nan"), "verdict": "", f"verdict_first{first}": ""}
        if act == "relu":
            paper = float(PAPER_TABLE1[(task, "off", "untrained")][int(layer) - 1])
            row["paper"] = paper
            row["verdict"] = numeric_verdict(paper, m, se, n=n, tolerance=TOLERANCE_PP)[0]
            row[f"verdict_first{first}"] = numeric_verdict(paper, m3, se3, n=n3, tolerance=TOLERANCE_PP)[0]
        out.append(row)
    return pd.DataFrame(out)


def eta2_gap(rows: pd.DataFrame, layer: int = 4) -> pd.DataFrame:
    """Per (task, inputs): Fig 6's untrained contrast at ``layer``, η²(ReLU) − η²(sigmoid) over paired seeds,
    mean ± s.e., and its direction verdict (the paper: ReLU overlaps less, i.e. a positive difference)."""
    from ...report.tables import direction_verdict

    out = []
    at = rows[rows["layer"] == layer]
    for (task, inp), part in at.groupby(["task", "inputs"], sort=False):
        wide = part.pivot_table(index="seed", columns="activation", values="eta2")
        d, se, n = mean_se((wide["relu"] - wide["sigmoid"]).dropna().tolist())
        verdict, _ = direction_verdict(d, se, n, sign=1, unit="η²")
        out.append({"task": task, "inputs": inp, "layer": layer, "n": n, "relu": float(wide["relu"].mean()),
                    "sigmoid": float(wide["sigmoid"].mean()), "difference": d, "se": se, "verdict": verdict})
    return pd.DataFrame(out)


def probe_loader(exec_config=None):
    """``load_probe`` for :func:`measure`: the probe set (the study's: training split, 100 per class, seed 0) of a
    config's data, each data configuration loaded once."""
    from ...config import ExecConfig, resolve_exec
    from ...probes.probe_set import make_probe_set
    from ...runner import load_run_data

    loaded: dict = {}

    def load(config):
        key = repr(config.data)
        if key not in loaded:
            data = load_run_data(config, resolve_exec(exec_config or ExecConfig()))
            probe = make_probe_set(data, config.probes.probe_split, config.probes.probe_per_class,
                                   config.probes.probe_seed)
            loaded[key] = (probe.x.cpu(), probe.y.cpu(), data.n_features, data.n_classes)
        return loaded[key]

    return load
