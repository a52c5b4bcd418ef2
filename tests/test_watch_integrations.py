"""The Lightning and Hugging Face callbacks (issue 17 §4): real packages, tiny models, CPU, nothing downloaded."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn


def _grad_rows(cb):
    return cb.watch.tables()["grad_norms"]


# ---------------------------------------------------------------- Lightning

def _lightning_run(tmp_path, callbacks):
    L = pytest.importorskip("lightning.pytorch")

    class MLP(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 12), nn.Tanh(), nn.Linear(12, 3))
            self.losses = []

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.cross_entropy(self(x), y)
            self.losses.append(float(loss.detach()))
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    torch.manual_seed(0)
    x, y = torch.randn(48, 6), torch.randint(0, 3, (48,))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8, shuffle=False)
    module = MLP()
    trainer = L.Trainer(
        max_epochs=2, accelerator="cpu", devices=1, enable_checkpointing=False, logger=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path, callbacks=callbacks,
    )
    trainer.fit(module, loader)
    return module, (x, y)


def test_lightning_callback_diagnoses_and_does_not_change_training(tmp_path):
    L = pytest.importorskip("lightning.pytorch")
    from vanishing.watch.lightning import VanishingCallback

    torch.manual_seed(1)
    probe = (torch.randn(32, 6), torch.randint(0, 3, (32,)))

    seen = {}

    class Grab(L.Callback):  # an independent reading of the gradient the watch sees, at the same hook
        def on_before_optimizer_step(self, trainer, pl_module, optimizer):
            seen[trainer.global_step + 1] = float(pl_module.net[2].weight.grad.norm())

    cb = VanishingCallback(probe_batch=probe, loss_fn=F.cross_entropy, every=4)
    watched, _ = _lightning_run(tmp_path / "a", [cb, Grab()])
    plain, _ = _lightning_run(tmp_path / "b", [])

    # training unchanged: same per-step losses and same final weights as the seeded run without the callback
    assert len(watched.losses) == 12
    assert watched.losses == plain.losses
    for p, q in zip(watched.parameters(), plain.parameters()):
        assert torch.equal(p, q)

    assert cb.watch.steps == 12 and cb.watch._closed
    assert cb.watch.layers == ["net.0", "net.2", "net.4"]
    g = _grad_rows(cb)
    assert set(g["layer"]) == {"net.0", "net.2", "net.4"}
    assert sorted(set(g["step"])) == list(range(1, 13))
    col = "weight_l2"  # ‖∇W‖₂
    assert np.isfinite(g[col].to_numpy()).all() and (g[col].to_numpy() > 0).all()
    for step, norm in seen.items():
        row = g[(g["step"] == step) & (g["layer"] == "net.2")]
        assert math.isclose(float(row[col].iloc[0]), norm, rel_tol=1e-5)

    d = cb.diagnosis
    assert d is not None
    assert list(d.layers["layer"]) == ["net.0", "net.2"]  # the hidden layers; net.4 is the output layer
    assert np.isfinite(d.layers["rms"].to_numpy(dtype=float)).all() and (d.layers["rms"] > 0).all()
    assert np.isfinite(d.layers["grad_l2"].to_numpy(dtype=float)).all()
    assert "net.0" in str(d) and "net.2" in str(d)
    assert cb.watch.snapshot_steps == [0, 4, 8, 12]


def test_lightning_callback_logs_to_the_trainer_logger(tmp_path):
    L = pytest.importorskip("lightning.pytorch")
    from lightning.pytorch.loggers import Logger

    from vanishing.watch.lightning import VanishingCallback

    class Memory(Logger):
        def __init__(self):
            super().__init__()
            self.rows = []

        @property
        def name(self):
            return "memory"

        @property
        def version(self):
            return 0

        def log_hyperparams(self, params, *args, **kwargs):
            pass

        def log_metrics(self, metrics, step=None):
            self.rows.append((step, dict(metrics)))

    class M(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            return F.cross_entropy(self(batch[0]), batch[1])

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(32, 4), torch.randint(0, 2, (32,)))
    logger = Memory()
    cb = VanishingCallback(probe_batch=(torch.randn(16, 4), torch.randint(0, 2, (16,))), loss_fn=F.cross_entropy, every=2)
    L.Trainer(max_epochs=1, accelerator="cpu", logger=logger, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, default_root_dir=tmp_path, callbacks=[cb]).fit(M(), torch.utils.data.DataLoader(data, batch_size=8))
    ours = [(s, m) for s, m in logger.rows if any(k.startswith("vanishing/") for k in m)]
    assert [s for s, _ in ours] == [1, 3]  # snapshots at steps 2 and 4; Lightning's global_step is the optimizer steps done
    assert {"vanishing/grad_norm/net.0", "vanishing/grad_norm/net.2", "vanishing/rms_delta/net.0"} <= set(ours[0][1])
    assert all(math.isfinite(v) for _, m in ours for v in m.values())


def test_lightning_callback_works_with_a_pytorch_lightning_trainer(tmp_path):
    pl = pytest.importorskip("pytorch_lightning")  # the standalone package, when it is installed
    from vanishing.watch.lightning import VanishingCallback

    class M(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            return F.cross_entropy(self(batch[0]), batch[1])

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(32, 4), torch.randint(0, 2, (32,)))
    cb = VanishingCallback(probe_batch=(torch.randn(16, 4), torch.randint(0, 2, (16,))), loss_fn=F.cross_entropy, every=2)
    pl.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
               enable_model_summary=False, default_root_dir=tmp_path, callbacks=[cb]).fit(M(), torch.utils.data.DataLoader(data, batch_size=8))
    assert cb.watch.steps == 4 and cb.watch.snapshot_steps == [0, 2, 4]
    assert list(cb.diagnosis.layers["layer"]) == ["net.0"]


# ---------------------------------------------------------------- Hugging Face

def _hf_run(tmp_path, callbacks):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

    class DS(torch.utils.data.Dataset):
        def __init__(self):
            g = torch.Generator().manual_seed(0)
            self.ids = torch.randint(0, 50, (40, 8), generator=g)
            self.labels = torch.randint(0, 2, (40,), generator=g)

        def __len__(self):
            return len(self.ids)

        def __getitem__(self, i):
            return {"input_ids": self.ids[i], "labels": self.labels[i]}

    transformers.set_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16, num_labels=2)
    model = BertForSequenceClassification(config)
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=5, per_device_train_batch_size=8, report_to=[],
                             use_cpu=True, save_strategy="no", logging_steps=1, disable_tqdm=True, seed=0,
                             dataloader_num_workers=0, learning_rate=1e-3)
    trainer = Trainer(model=model, args=args, train_dataset=DS(), callbacks=callbacks)
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return model, losses


def test_hf_callback_diagnoses_and_does_not_change_training(tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    from transformers import TrainerCallback

    from vanishing.watch.hf import VanishingCallback

    g = torch.Generator().manual_seed(1)
    probe = ({"input_ids": torch.randint(0, 50, (16, 8), generator=g)}, torch.randint(0, 2, (16,), generator=g))
    name = "bert.encoder.layer.0.intermediate.dense"
    seen = {}

    class Grab(TrainerCallback):
        def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
            seen[state.global_step + 1] = float(model.get_submodule(name).weight.grad.norm())

    cb = VanishingCallback(probe_batch=probe, loss_fn=lambda out, y: F.cross_entropy(out.logits, y), every=2, unknown="skip")
    watched, watched_losses = _hf_run(tmp_path / "a", [cb, Grab()])
    plain, plain_losses = _hf_run(tmp_path / "b", [])

    assert len(watched_losses) == 5
    assert watched_losses == plain_losses
    for p, q in zip(watched.parameters(), plain.parameters()):
        assert torch.equal(p, q)

    w = cb.watch
    assert w.steps == 5 and w._closed
    assert w.snapshot_steps == [0, 2, 4, 5]
    gn = w.tables()["grad_norms"]
    col = "weight_l2"
    layers = set(gn["layer"])
    for expected in ("bert.encoder.layer.0.attention.self.query", "bert.encoder.layer.0.attention.output.dense",
                     name, "bert.encoder.layer.0.output.dense", "bert.pooler.dense", "classifier"):
        assert expected in layers
    assert np.isfinite(gn[col].to_numpy()).all()
    assert sorted(seen) == [1, 2, 3, 4, 5]
    for step, norm in seen.items():
        row = gn[(gn["step"] == step) & (gn["layer"] == name)]
        assert math.isclose(float(row[col].iloc[0]), norm, rel_tol=1e-5)
    d = cb.diagnosis
    assert d is not None and name in list(d.layers["layer"]) and name in str(d)
    assert np.isfinite(d.layers["rms"].to_numpy(dtype=float)).all()
    assert np.isfinite(d.layers["grad_l2"].to_numpy(dtype=float)).all()
    assert sorted(cb.logged) == [2, 4]
    assert f"vanishing/grad_norm/{name}" in cb.logged[2]


def test_missing_extra_gives_one_clear_line(monkeypatch):
    import builtins
    import importlib
    import sys

    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name.split(".")[0] in ("lightning", "pytorch_lightning", "transformers"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    for mod, extra in (("vanishing.watch.lightning", "lightning"), ("vanishing.watch.hf", "hf")):
        monkeypatch.delitem(sys.modules, mod, raising=False)
        monkeypatch.setattr(builtins, "__import__", fake)
        with pytest.raises(ImportError, match=rf"pip install 'vanishing\[{extra}\]'") as info:
            importlib.import_module(mod)
        monkeypatch.setattr(builtins, "__import__", real)
        assert "\n" not in str(info.value)
        assert info.value.__cause__ is None  # no chained traceback of the missing import
        assert info.value.__context__ is None or info.value.__suppress_context__
    monkeypatch.delitem(sys.modules, "vanishing.watch.lightning", raising=False)
    monkeypatch.delitem(sys.modules, "vanishing.watch.hf", raising=False)


def test_callbacks_are_not_imported_eagerly():
    import subprocess
    import sys

    code = ("import sys, vanishing, vanishing.watch; "
            "print(any(m in sys.modules for m in ('vanishing.watch.lightning', 'vanishing.watch.hf', 'lightning', 'transformers')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
