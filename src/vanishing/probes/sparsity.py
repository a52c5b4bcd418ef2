"""``sparsity``: how many probe examples leave each node inactive, averaged over the layer's nodes.

Pretorius, Barnard & Davel (2019), "ReLU and sigmoidal activation functions"
(seed 001, Table 1): "Sparsity here refers to the average percentage of
samples per node that are inactive for a hidden layer … determined by
counting the number of samples that are inactive for each node and then
averaging over nodes". With y_nj = f(a_nj) the output of node j on probe
example n (N examples, s nodes)::

    inactive_j = (1/N) Σ_n [y_nj ≤ 0]
    sparsity   = (1/s) Σ_j inactive_j            (a fraction; × 100 for Table 1's %)

Defined only for activations with a hard zero region
(``Activation.hard_zero``: relu, relu6, hardswish, zero-slope leaky_relu);
NaN (``defined = False``) otherwise — a sigmoid or tanh node is never
"inactive" in this sense. For hardswish "output ≤ 0" also counts its small
negative bump on (−3, 0), as the definition says. Pretorius report the
untrained (epoch 0) and trained (last epoch) values: an untrained He-init
ReLU net with zero bias gives ≈ 50 % (48–50 % on MNIST), training raises it
to ≈ 80 %.

Cost: a comparison and a mean over the probe set's outputs per scheduled
epoch. Default: at init and at log-spaced epochs (which include the last).
"""

from __future__ import annotations

import numpy as np
import torch

from .base import Columns, ProbeSetView, SnapshotProbe, layer_column, register, samples_by_node


def inactive_fraction(outputs: torch.Tensor) -> torch.Tensor:
    """Per node: the fraction of samples whose output is ≤ 0, shape (width,)."""
    v, _ = samples_by_node(outputs)
    return (v <= 0).sum(dim=0).double() / v.shape[0]


def layer_sparsity(outputs: torch.Tensor) -> torch.Tensor:
    """Mean over nodes of :func:`inactive_fraction` (Pretorius Table 1, as a fraction)."""
    return inactive_fraction(outputs).mean()


def has_hard_zero(activation) -> bool:
    """Whether "inactive = output ≤ 0" is defined; an unknown activation (None) is given the benefit."""
    return True if activation is None else bool(activation.hard_zero)


@register
class Sparsity(SnapshotProbe):
    """Per hidden layer: mean over nodes of the fraction of probe examples with output ≤ 0."""

    name = "sparsity"
    tables = ("sparsity",)

    def compute(self, view: ProbeSetView) -> dict[str, Columns]:
        values, defined = [], []
        for act, out in zip(view.activations, view.out):
            ok = has_hard_zero(act)
            defined.append(ok)
            values.append(float(layer_sparsity(out)) if ok else float("nan"))
        return {
            "sparsity": {
                "layer": layer_column(view.layers, 1),
                "sparsity": np.asarray(values, dtype=np.float64),
                "defined": np.asarray(defined, dtype=bool),
                "n_samples": np.full(len(view.layers), len(view.labels), dtype=np.int64),
                "width": np.asarray([int(samples_by_node(o)[0].shape[1]) for o in view.out], dtype=np.int64),
            }
        }
