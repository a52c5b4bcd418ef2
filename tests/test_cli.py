"""The `vanishing` command: run, resume after SIGKILL, status, bad input, load()."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import vanishing
from vanishing.cli import main, split_top_level

SMALL = ["--dataset", "mnist-sample", "--train-subset", "1000", "--hidden", "32,32", "--batch-size", "50", "--threads", "1"]


def run_cli(*args, cwd=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "vanishing", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def test_run_prints_epochs_and_stores_the_run(tmp_path, capsys):
    code = main(["run", *SMALL, "--epochs", "2", "--results", str(tmp_path / "res")])
    out = capsys.readouterr().out
    assert code == 0
    assert "data: bundled mnist-sample" in out
    assert out.count("%") >= 6 and "test accuracy" in out
    runs = list((tmp_path / "res" / "runs").iterdir())
    assert len(runs) == 1
    summary = json.loads((runs[0] / "summary.json").read_text())
    assert summary["status"] == "done" and summary["epochs_done"] == 2
    # the same command again does not train twice
    code = main(["run", *SMALL, "--epochs", "2", "--results", str(tmp_path / "res")])
    assert code == 0 and "already finished (done)" in capsys.readouterr().out
    assert len(list((tmp_path / "res" / "runs").iterdir())) == 1


def test_load_returns_the_documented_tables(tmp_path):
    for seed in ("0", "1"):
        assert main(["run", *SMALL, "--epochs", "2", "--seed", seed, "--results", str(tmp_path)]) == 0
    res = vanishing.load(tmp_path)
    assert len(res.runs) == 2 and set(res.runs["status"]) == {"done"}
    for col in ["run_id", "status", "seed", "dataset", "hidden", "activation", "optimizer", "lr", "test_acc", "test_mcr", "depth", "width"]:
        assert col in res.runs.columns, col
    assert res.runs["hidden"].tolist() == ["32,32", "32,32"] and res.runs["depth"].tolist() == [2, 2]
    expected = ["run_id", "seed", "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc", "test_mcr", "lr", "epoch_time_s"]
    assert all(c in res.epochs.columns for c in expected)
    assert len(res.epochs) == 4 and res.epochs["test_acc"].between(0, 1).all()
    assert sorted(res.epochs["seed"].unique().tolist()) == [0, 1]


def test_status_lists_runs(tmp_path, capsys):
    main(["run", *SMALL, "--epochs", "1", "--results", str(tmp_path)])
    capsys.readouterr()
    assert main(["status", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "done" in out and "32,32" in out and "1 done" in out


@pytest.mark.parametrize(
    "args,message",
    [
        (["--activation", "relux"], "model.activation: unknown activation 'relux'"),
        (["--hidden", "128,0"], "model.hidden: layer widths must be positive integers, got 0 for hidden2"),
        (["--lr", "0"], "optim.lr: expected a positive learning rate, got 0"),
        (["--lr", "-0.1"], "optim.lr: expected a positive learning rate"),
        (["--epochs", "x"], "argument --epochs: invalid int value"),
        (["--optimizer", "sgd(momentum=2)"], "momentum must lie in [0, 1)"),
        (["--loss", "mse", "--output", "relu"], "model.output: 'relu' is not valid with loss 'mse'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message):
    results = tmp_path / "res"
    proc = run_cli("run", "--dataset", "mnist-sample", "--results", str(results), *args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not results.exists()


@pytest.mark.parametrize(
    "content,message",
    [
        (b"\x00\x00\x08\x01" + (60000).to_bytes(4, "big") + b"\x00" * 100, "wrong magic"),  # labels magic in the images file
        (b"\x00\x00\x08\x03" + (60000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + b"\x00" * 1000, "truncated"),
        (b"garbage", ""),
    ],
)
def test_corrupt_idx_file_is_one_line_exit_2(tmp_path, shared_data, content, message):
    data = tmp_path / "mnist"
    data.mkdir()
    for name in ("train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (data / name).symlink_to(shared_data / "mnist" / name)
    (data / "train-images-idx3-ubyte").write_bytes(content)
    results = tmp_path / "res"
    proc = run_cli("run", "--dataset", "mnist", "--data-dir", str(data), "--results", str(results))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "train-images-idx3-ubyte" in lines[0] and message in lines[0], proc.stderr
    assert not results.exists()


def test_sigkilled_run_resumes_to_the_same_metrics(tmp_path):
    # the whole sample (200 steps per epoch) so that the kill lands while the run is still going
    args = [*SMALL, "--train-subset", "10000", "--epochs", "6", "--activation", "rrelu", "--optimizer", "sgd(momentum=0.9)"]
    reference = run_cli("run", *args, "--results", str(tmp_path / "ref"))
    assert reference.returncode == 0, reference.stderr

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    killed_after = []
    for kill_at in ("    2  ", "    4  "):
        proc = subprocess.Popen(
            [sys.executable, "-m", "vanishing", "run", *args, "--results", str(tmp_path / "killed")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        for line in proc.stdout:
            if line.startswith(kill_at):
                proc.send_signal(signal.SIGKILL)
                killed_after.append(line.split()[0])
                break
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
    resumed = run_cli("run", *args, "--results", str(tmp_path / "killed"))
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming after epoch" in resumed.stdout
    ref_epochs = json.loads(next((tmp_path / "ref" / "runs").iterdir()).joinpath("epochs.json").read_text())
    got_epochs = json.loads(next((tmp_path / "killed" / "runs").iterdir()).joinpath("epochs.json").read_text())
    strip = lambda hs: [{k: v for k, v in h.items() if not k.endswith("time_s")} for h in hs]
    assert len(got_epochs) == 6 and strip(got_epochs) == strip(ref_epochs)
    assert vanishing.load(tmp_path / "killed").runs["status"].tolist() == ["done"]


def test_help_everywhere():
    for args in (["--help"], ["run", "--help"], ["status", "--help"], ["data", "--help"]):
        proc = run_cli(*args)
        assert proc.returncode == 0 and "usage:" in proc.stdout


def test_split_top_level():
    assert split_top_level("relu,leaky_relu(alpha=0.1),tanh") == ["relu", "leaky_relu(alpha=0.1)", "tanh"]
    assert split_top_level("prelu(init=0.1, per_unit=True)") == ["prelu(init=0.1, per_unit=True)"]


def test_toml_config_with_flag_override(tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        '[data]\ndataset = "mnist-sample"\ntrain_subset = 500\n[model]\nhidden = [16]\nactivation = "tanh"\n'
        '[train]\nepochs = 1\nbatch_size = 50\n[exec]\nthreads = 1\n'
    )
    assert main(["run", "--config", str(cfg), "--activation", "sigmoid", "--results", str(tmp_path / "r")]) == 0
    res = vanishing.load(tmp_path / "r")
    assert res.runs["activation"].tolist() == ["sigmoid"] and res.runs["hidden"].tolist() == ["16"]
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nhidden = [16\n")
    assert main(["run", "--config", str(bad), "--results", str(tmp_path / "r2")]) == 2
    assert "bad.toml: not valid TOML" in capsys.readouterr().err
