"""``--device`` before training (issue 18): CUDA asked for without CUDA is one line and exit 2; ``auto`` says its choice.

And the device-aware seed-batching rule, with a fake device and fake free memory.
"""

from __future__ import annotations

import pytest
import torch

from vanishing.cli import main
from vanishing.config import RunConfig, resolve, with_overrides
from vanishing.device import describe_choice, preflight, resolve_device
from vanishing.errors import ConfigError
from vanishing.seedbatch import rule
from vanishing.seedbatch.rule import batch_memory_bytes, should_batch

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the behaviour on a machine without CUDA")

SWEEP = '''
seeds = [0]
[data]
dataset = "mnist-sample"
train_subset = 200
[model]
hidden = [8]
[train]
epochs = 1
[exec]
threads = 1
'''


def _one_line_exit_2(capsys, code, tmp_path):
    out, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: device: 'cuda'") and "torch.cuda.is_available() is False" in err
    assert "start" not in out and not (tmp_path / "r").exists()  # nothing trained, nothing written


@no_cuda
def test_study_with_cuda_but_no_cuda_fails_before_training_with_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    import vanishing.studies

    def must_not_run(*args, **kwargs):
        raise AssertionError("the study started")

    monkeypatch.setattr(vanishing.studies, "run_study", must_not_run)
    code = main(["study", "robinson", "--quick", "--device", "cuda", "--results", str(tmp_path / "r")])
    _one_line_exit_2(capsys, code, tmp_path)


@no_cuda
def test_the_real_study_command_exits_2_before_training(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "vanishing", "study", "robinson", "--quick", "--device", "cuda",
                           "--results", str(tmp_path / "r")], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "error: device: 'cuda' requested but torch.cuda.is_available() is False (use auto or cpu)"]
    assert not (tmp_path / "r").exists()


@no_cuda
def test_sweep_with_cuda_but_no_cuda_fails_before_any_run(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(SWEEP)
    code = main(["sweep", str(path), "--device", "cuda:0", "--results", str(tmp_path / "r")])
    out, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "device: 'cuda:0' requested" in err
    assert not (tmp_path / "r").exists()


@no_cuda
def test_run_with_cuda_but_no_cuda_fails_before_training(tmp_path, capsys):
    code = main(["run", "--dataset", "mnist-sample", "--hidden", "8", "--epochs", "1", "--device", "cuda",
                 "--results", str(tmp_path / "r")])
    out, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "torch.cuda.is_available() is False" in err
    assert "epoch" not in out


def test_run_with_auto_names_the_chosen_device_in_its_first_line(tmp_path, capsys):
    argv = ["run", "--dataset", "mnist-sample", "--hidden", "8", "--epochs", "1", "--device", "auto",
            "--results", str(tmp_path / "r")]
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    for attempt in ("trains", "already finished"):
        assert main(argv) == 0
        first = capsys.readouterr().out.splitlines()[0]
        assert first.startswith(f"device: {expected}") and "(auto: " in first, (attempt, first)


def test_study_with_auto_names_the_chosen_device_in_its_first_line(tmp_path, capsys, monkeypatch):
    import vanishing.studies

    seen = {}

    def fake_run_study(study, scale, overrides, **kwargs):
        seen["device"] = kwargs["exec_config"].device
        print("[robinson] the study would start here")

    monkeypatch.setattr(vanishing.studies, "run_study", fake_run_study)
    assert main(["study", "robinson", "--quick", "--device", "auto", "--results", str(tmp_path / "r")]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert first.startswith(f"device: {expected}") and "(auto: " in first
    assert seen["device"] == "auto"


def test_sweep_with_auto_names_the_chosen_device_in_its_first_line(tmp_path, capsys, monkeypatch):
    import vanishing.sweep.api

    class Result:
        dry_run, complete = False, True

    monkeypatch.setattr(vanishing.sweep.api, "sweep", lambda *a, **k: Result())
    path = tmp_path / "s.toml"
    path.write_text(SWEEP)
    assert main(["sweep", str(path), "--device", "auto", "--results", str(tmp_path / "r")]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("device: ") and "(auto: " in first


def test_resolve_device_names():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(None).type in ("cpu", "cuda")
    assert preflight("auto") == resolve_device("auto")
    for bad in ("gpu", "mps", "cuda:x"):
        with pytest.raises(ConfigError) as info:
            resolve_device(bad)
        assert "\n" not in str(info.value) and "device" in str(info.value)
    assert describe_choice("cpu", torch.device("cpu")) == "device: cpu"
    if not torch.cuda.is_available():
        assert describe_choice("auto", torch.device("cpu")) == "device: cpu (auto: no CUDA device found)"
        with pytest.raises(ConfigError, match="torch.cuda.is_available"):
            resolve_device("cuda:1")


# --------------------------------------------------------------------------- the batching rule knows the device


def _cfg(width, **extra):
    return resolve(with_overrides(RunConfig(), {"model.hidden": [width] * 4, "optim.optimizer": "adam", **extra}))


@pytest.mark.parametrize("width", [64, 200, 800])
@pytest.mark.parametrize("k", [2, 3, 8, 16])
def test_on_a_gpu_seeds_batch_whenever_k_above_1_and_they_fit(width, k):
    cfg = _cfg(width)
    need = batch_memory_bytes(cfg, k)
    assert should_batch(cfg, k, "cuda", free_bytes=need) and should_batch(cfg, k, "cuda:1", free_bytes=10 * need)
    assert not should_batch(cfg, k, "cuda", free_bytes=need - 1)  # does not fit: sequential
    assert not should_batch(cfg, 1, "cuda", free_bytes=10 * need)
    # the CPU keeps its measured rule: batch only narrow nets
    assert should_batch(cfg, k, "cpu") == (width <= 64)


def test_the_gpu_branch_keeps_what_may_not_be_batched():
    sdagd = _cfg(64, **{"optim.optimizer": "sdagd", "optim.loss": "mse", "model.output": "sigmoid"})
    rrelu = _cfg(64, **{"model.activation": "rrelu"})
    assert not should_batch(sdagd, 4, "cuda", free_bytes=1 << 40)
    assert not should_batch(rrelu, 4, "cuda", free_bytes=1 << 40)


def test_the_gpu_branch_reads_free_memory_from_the_device(monkeypatch):
    cfg = _cfg(800)
    need = batch_memory_bytes(cfg, 8)
    monkeypatch.setattr(rule, "device_free_bytes", lambda device: need // 2)
    assert not should_batch(cfg, 8, "cuda") and should_batch(cfg, 2, "cuda")
    monkeypatch.setattr(rule, "device_free_bytes", lambda device: None)  # unknown: counts as fitting
    assert should_batch(cfg, 8, "cuda")
    # "auto" follows the device auto would choose
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(rule, "device_free_bytes", lambda device: 1 << 40)
    assert should_batch(cfg, 8, "auto")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert not should_batch(cfg, 8, "auto")


def test_the_memory_estimate_grows_with_k_and_width():
    assert batch_memory_bytes(_cfg(64), 2) < batch_memory_bytes(_cfg(64), 4) < batch_memory_bytes(_cfg(800), 4)
    # 784 → 800×4 → 10, K = 16, batch 128: 2.6 M parameters a seed, about 0.7 GB counted twice
    assert 1 << 30 < batch_memory_bytes(_cfg(800), 16) < 2 << 30
