"""``activation_stats``: per layer, node and class, the distribution of the node's output on the probe set.

Pretorius, Barnard & Davel (2019), "ReLU and sigmoidal activation functions"
(seed 001, §3, eqs. 1–2, Figs. 3–7): for hidden node j of layer i and class c, the
"activation distribution" is the multiset {f(a_ij(x)) : x a probe example of
class c}; they plot its median per node and class (Figs. 5–7) and discuss its
spread. For each (layer, node, class) this probe records, over the
``count`` = n_c probe examples of the class::

    mean   = (1/n_c) Σ_x y(x)
    std    = ( Σ_x (y(x) − mean)² / (n_c − 1) )^½        (sample std; NaN when n_c = 1)
    q05, q25, median, q75, q95                           (linear interpolation, numpy's default)

with y = f(a) the activation function's output (before a batch norm placed
after it or a residual addition). ``class = -1`` pools all probe examples.
Unit: that of the activation output.

It also records one histogram per layer (``activation_hist``): ``bins``
equal bins over the activation's range [lo, hi] where both are finite
(sigmoid [0, 1], tanh [−1, 1] …), else over the observed [min, max] on the
unbounded side; counts are over all (example, node) pairs of the layer.

For convolutions a node is a channel and every spatial position is a sample.
Cost per scheduled epoch: one forward pass of the probe set (shared with the
other snapshot probes) plus a sort of each (node, class) group; storage
(width × (classes + 1) × 9 numbers per layer). Default: at init and at
log-spaced epochs.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .base import Columns, ProbeSetView, SnapshotProbe, layer_column, register, samples_by_node, to_numpy

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
STAT_COLUMNS = ("mean", "std", "q05", "q25", "median", "q75", "q95")


def _group_stats(v: torch.Tensor, max_samples: int | None = None) -> torch.Tensor:
    """[mean, std, quantiles…] along dim -2 of (..., m, width) → (..., 7, width).

    Mean and std always use all m samples. With ``max_samples`` < m the
    quantiles come from ``max_samples`` evenly strided samples (indices
    round(i (m − 1) / (max_samples − 1))): the sort, not the mean, is what a
    snapshot of a language model's N × T tokens per node pays for; the
    quantile's standard error on s samples is √(q(1 − q)/s) / p(x_q).
    """
    m = v.shape[-2]
    mean = v.mean(dim=-2)
    std = v.std(dim=-2) if m > 1 else torch.full_like(mean, float("nan"))
    if max_samples is not None and m > max_samples:
        idx = torch.linspace(0, m - 1, max_samples, device=v.device).round().long()
        v = v.index_select(-2, idx)
    q = torch.quantile(v, torch.tensor(QUANTILES, dtype=v.dtype, device=v.device), dim=-2)  # (5, ..., width)
    q = q.movedim(0, -2)
    return torch.cat([mean.unsqueeze(-2), std.unsqueeze(-2), q], dim=-2)


def node_stats(values: torch.Tensor, labels: torch.Tensor, n_classes: int, *,
               max_samples: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per class and node: [mean, std, q05, q25, median, q75, q95] of ``values``.

    ``values`` (N, width) or (N, C, *spatial); ``labels`` (N,) in [0, n_classes).
    Returns (stats, counts): stats (n_classes + 1, 7, width) where row
    ``n_classes`` pools every sample, counts (n_classes + 1,). A class without
    samples gives NaN. ``max_samples``: quantiles from at most that many
    strided samples per group (see :func:`_group_stats`; default: all).
    With one class the pooled row is that class's row (computed once).
    """
    v, y = samples_by_node(values, labels)
    v = v.float()
    width = v.shape[1]
    counts = torch.bincount(y, minlength=n_classes)[:n_classes]
    out = torch.full((n_classes + 1, len(STAT_COLUMNS), width), float("nan"), device=v.device)
    counts_list = counts.tolist()
    if n_classes == 1:  # a language model's targets, or one probe class: the pooled row is the class row
        out[0] = out[1] = _group_stats(v, max_samples)
        return out, torch.cat([counts, counts.sum().reshape(1)])
    order = torch.argsort(y, stable=True)
    sorted_v = v[order]
    present = [c for c in range(n_classes) if counts_list[c] > 0]
    if present and len({counts_list[c] for c in present}) == 1:  # stratified: one batched pass
        m = counts_list[present[0]]
        out[present] = _group_stats(sorted_v.reshape(len(present), m, width), max_samples)
    else:
        start = 0
        for c in range(n_classes):
            if counts_list[c]:
                out[c] = _group_stats(sorted_v[start : start + counts_list[c]], max_samples)
            start += counts_list[c]
    out[n_classes] = _group_stats(v, max_samples)
    return out, torch.cat([counts, counts.sum().reshape(1)])


def layer_histogram(values: torch.Tensor, bins: int, lo: float = -math.inf, hi: float = math.inf) -> tuple[torch.Tensor, float, float]:
    """Histogram of every entry of ``values`` over [lo, hi] (an infinite end → the observed min/max).

    Returns (counts (bins,), lo, hi); a degenerate range is widened by ±0.5. Non-finite entries
    (an overflowing, diverging net) are left out of the counts, so the histogram never fails.
    """
    v = values.detach().float().reshape(-1)
    v = v[torch.isfinite(v)]
    if not math.isfinite(lo):
        lo = float(v.min()) if v.numel() else 0.0
    if not math.isfinite(hi):
        hi = float(v.max()) if v.numel() else 1.0
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return torch.histc(v, bins=bins, min=lo, max=hi), lo, hi


@register
class ActivationStats(SnapshotProbe):
    """Per layer, node and class on the probe set: mean, std, median and quantiles; per-layer histograms.

    Options of a spec: ``epochs``, ``k``, ``bins``. The Python constructor also takes ``max_samples``
    (quantiles from at most that many strided samples per group, :func:`_group_stats`); it is not part of
    the spec grammar, so run configurations (and their ids) always use every sample. ``vanishing.watch``
    sets it (:data:`vanishing.watch.watcher.QUANTILE_SAMPLES`).
    """

    name = "activation_stats"
    tables = ("activation_stats", "activation_hist")
    defaults = {"epochs": "log", "k": 5, "bins": 50}

    @classmethod
    def check_options(cls, options, field_name):
        super().check_options(options, field_name)
        from ..errors import ConfigError

        if not isinstance(options["bins"], int) or options["bins"] < 1:
            raise ConfigError(f"{field_name}: activation_stats(bins=...) must be an integer >= 1, got {options['bins']!r}")

    def compute(self, view: ProbeSetView) -> dict[str, Columns]:
        stats_parts, hist_parts = [], []
        for name, act, out in zip(view.layers, view.activations, view.out):
            stats, counts = node_stats(out, view.labels, view.n_classes, max_samples=self.options.get("max_samples"))
            k, _, width = stats.shape
            classes = np.r_[np.arange(view.n_classes), -1]
            part: Columns = {
                "layer": layer_column([name], k * width),
                "node": np.tile(np.arange(width), k),
                "class": np.repeat(classes, width),
                "count": np.repeat(to_numpy(counts, np.int64), width),
            }
            s = to_numpy(stats, np.float32)  # (k, 7, width)
            for j, col in enumerate(STAT_COLUMNS):
                part[col] = s[:, j, :].reshape(-1)
            stats_parts.append(part)

            bins = self.options["bins"]
            lo = getattr(act, "lo", -math.inf) if act is not None else -math.inf
            hi = getattr(act, "hi", math.inf) if act is not None else math.inf
            counts_h, lo, hi = layer_histogram(out, bins, lo, hi)
            edges = np.linspace(lo, hi, bins + 1)
            hist_parts.append(
                {
                    "layer": layer_column([name], bins),
                    "bin": np.arange(bins),
                    "lo": edges[:-1],
                    "hi": edges[1:],
                    "count": to_numpy(counts_h, np.int64),
                }
            )
        return {"activation_stats": concat(stats_parts), "activation_hist": concat(hist_parts)}


def concat(parts: list[Columns]) -> Columns:
    """Concatenate tables with the same columns."""
    if not parts:
        return {}
    return {col: np.concatenate([p[col] for p in parts]) for col in parts[0]}
