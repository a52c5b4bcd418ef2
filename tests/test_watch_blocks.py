"""The block view of depth (watch/blocks.py): roles, per-role ratios across blocks, and when it does not apply."""

from __future__ import annotations

import numpy as np
import pytest

from vanishing.watch.blocks import block_view, role_of


def test_role_of_replaces_numeric_components_only():
    assert role_of("m.bert.encoder.layer.3.attention.self.query") == ("m.bert.encoder.layer.*.attention.self.query", (3,))
    assert role_of("layer2.1.conv1") == ("layer2.*.conv1", (1,))  # "layer2" and "conv1" are names, not indices
    assert role_of("head") == ("head", ())


@pytest.mark.parametrize("r", [0.3, 1.0, 1.7])
def test_a_geometric_decay_reads_the_same_per_layer_in_the_block_view(r):
    # 5 blocks × 3 layers, δ shrinking ×r per layer going back, as in a plain deep net: the block view must give r
    names = [f"blocks.{b}.{role}" for b in range(5) for role in ("fc1", "fc2", "fc3")]
    rms = np.array([r ** (len(names) - 1 - i) for i in range(len(names))])
    view = block_view(names, rms)
    assert view is not None and view.n_blocks == 5 and view.layers_per_block == 3
    assert view.geometric_mean_ratio == pytest.approx(r, rel=1e-9)
    assert view.first_to_last == pytest.approx(r ** 12, rel=1e-9)  # 4 blocks × 3 layers back
    assert view.ratios["blocks.*.fc1"] == pytest.approx([r ** 3] * 4)


def test_parallel_branches_of_very_different_size_are_not_depth():
    # a BERT-like block: q, k tiny, v medium, out large; flat from block to block (a residual stream)
    scale = {"q": 3e-6, "k": 3.5e-6, "v": 3e-4, "out": 1e-2, "ffn_in": 9e-4, "ffn_out": 1e-2}
    names = [f"encoder.layer.{b}.{role}" for b in range(4) for role in scale] + ["pooler"]
    rms = np.array([scale[n.rsplit(".", 1)[1]] * (1 + 0.01 * i) for i, n in enumerate(names[:-1])] + [0.1])
    with np.errstate(divide="ignore"):
        layer_gm = float(np.exp(np.mean(np.log(rms[:-1] / rms[1:]))))
    view = block_view(names, rms)
    assert view is not None and set(view.roles) == {f"encoder.layer.*.{r}" for r in scale}
    assert 0.99 < view.geometric_mean_ratio <= 1.0  # each role grows 1% per layer position going forward
    assert view.first_to_last == pytest.approx(float(np.exp(np.mean([np.log(rms[i] / rms[i + 18]) for i in range(6)]))))
    assert layer_gm < 0.7  # the layer view would read the pooler and the branches as depth
    rel = view.same_role_last(rms)
    assert rel[0] == pytest.approx(rms[0] / rms[18]) and len(rel) == 24


@pytest.mark.parametrize("names", [
    ["0", "2", "4", "6"],                                  # nn.Sequential of Linear layers: one role
    ["layers.0.linear", "layers.1.linear", "layers.2.linear", "head"],  # one role per block
    ["fc1", "fc2", "fc3"],                                 # no numeric components
    ["cell@1", "cell@2", "cell@3", "head"],                # a shared module's applications
])
def test_no_block_view_for_plain_stacks(names):
    assert block_view(names, np.ones(len(names))) is None


def test_a_zero_delta_reads_as_total_decay():
    names = [f"h.{b}.{r}" for b in range(3) for r in ("a", "b")]
    rms = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    view = block_view(names, rms)
    assert view.geometric_mean_ratio == 0.0
    assert view.first_to_last == 0.0


# --------------------------------------------------------------------------- the diagnosis of real models


def _watch_diagnosis(model, x, y):
    import torch.nn.functional as F

    import vanishing

    w = vanishing.watch(model, (x, y), F.cross_entropy, unknown="skip")
    w.close()
    return w.diagnose()


def test_a_small_bert_at_init_is_healthy_not_vanishing():
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=4, num_attention_heads=4, intermediate_size=64,
                     num_labels=3, max_position_embeddings=64)
    bert = BertForSequenceClassification(cfg)

    class Logits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = bert

        def forward(self, ids):
            return self.m(input_ids=ids).logits

    d = _watch_diagnosis(Logits(), torch.randint(0, 100, (32, 16)), torch.randint(0, 3, (32,)))
    assert d.kinds == ["healthy"], str(d)
    assert d.depth_axis.startswith("judged across 4 repeated blocks")
    # the layer order alone would have read q/k → v → out as depth: its ratios span orders of magnitude
    assert d.layers["ratio"].min() < 0.05 and d.layers["ratio"].max() > 10


def test_a_deep_sigmoid_block_stack_still_vanishes_in_the_block_view():
    import torch
    import torch.nn as nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(32, 32), nn.Linear(32, 32)

        def forward(self, x):
            return torch.sigmoid(self.fc2(torch.sigmoid(self.fc1(x))))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = nn.Linear(8, 32)
            self.blocks = nn.ModuleList(Block() for _ in range(6))
            self.out = nn.Linear(32, 3)

        def forward(self, x):
            h = torch.sigmoid(self.inp(x))
            for b in self.blocks:
                h = b(h)
            return self.out(h)

    torch.manual_seed(0)
    d = _watch_diagnosis(Net(), torch.randn(64, 8), torch.randint(0, 3, (64,)))
    assert d.depth_axis and "vanishing" in d.kinds, str(d)
    # per watched layer, the block view agrees with the layer view of this plain (branch-free) stack
    rms = d.layers["rms"].to_numpy()
    inside = rms[1:-1]  # blocks.0.fc1 … blocks.5.fc2 in order
    layer_gm = float(np.exp(np.mean(np.log(inside[:-1] / inside[1:]))))
    assert d.geometric_mean_ratio == pytest.approx(layer_gm, rel=0.35)
