"""Sweep files and calls: parsing, expansion, validation before anything runs, planning, dry run, resume."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vanishing
from vanishing.cli import main
from vanishing.config import RunConfig, config_hash
from vanishing.errors import ConfigError
from vanishing.seedbatch import BatchDir
from vanishing.sweep import expand, load_sweep, make_spec, spec_from_dict
from vanishing.sweep.plan import plan

PRETORIUS = """
# Pretorius et al. (seed 001), a quick slice: depth × batch norm × (sigmoid/Xavier, ReLU/He) × 3 seeds
name = "pretorius-quick"
seeds = [0, 1, 2]

[data]
dataset = "mnist-sample"
train_subset = 600

[model]
hidden = [16, 16]

[optim]
optimizer = "adam"
schedule = "exponential(gamma=0.99)"

[train]
epochs = 2
batch_size = 64

[probes]
enabled = ["none"]

[grid]
model.hidden = [[16, 16], [16, 16, 16, 16]]
"model.batch_norm" = ["off", "before"]

[zip]
model.activation = ["sigmoid", "relu"]
model.init = ["xavier_normal", "he_normal"]
"""


@pytest.fixture
def pretorius(tmp_path):
    path = tmp_path / "pretorius.toml"
    path.write_text(PRETORIUS)
    return path


def test_a_toml_sweep_expands_grid_times_zip_times_seeds_in_axis_order(pretorius):
    spec = load_sweep(pretorius)
    assert spec.name == "pretorius-quick" and spec.seeds == (0, 1, 2)
    assert spec.varied == ["model.hidden", "model.batch_norm", "model.activation", "model.init"]
    runs = expand(spec)
    assert len(runs) == 2 * 2 * 2 * 3
    first = runs[0].config
    assert first.model.hidden == (16, 16) and first.model.batch_norm == "off"
    assert first.model.activation == "sigmoid" and first.model.init == "xavier_normal"  # zipped together
    assert [r.seed for r in runs[:3]] == [0, 1, 2]  # seeds vary fastest
    assert runs[3].config.model.activation == "relu" and runs[3].config.model.init == "he_normal"
    assert first.optim.schedule == "exponential(gamma=0.99)" and first.train.epochs == 2  # the base config
    assert len({r.run_id for r in runs}) == len(runs)
    assert len({r.config_hash for r in runs}) == 8 and len({r.point for r in runs}) == 8


def test_the_python_call_and_the_file_give_the_same_runs(pretorius):
    from_file = expand(load_sweep(pretorius))
    base = {"data": {"dataset": "mnist-sample", "train_subset": 600}, "model": {"hidden": [16, 16]},
            "optim": {"optimizer": "adam", "schedule": "exponential(gamma=0.99)"},
            "train": {"epochs": 2, "batch_size": 64}, "probes": {"enabled": ["none"]}}
    from_call = expand(make_spec(base, grid={"model.hidden": [[16, 16], [16, 16, 16, 16]], "model.batch_norm": ["off", "before"]},
                                 zip={"model.activation": ["sigmoid", "relu"], "model.init": ["xavier_normal", "he_normal"]},
                                 seeds=3))
    assert [r.run_id for r in from_file] == [r.run_id for r in from_call]


def test_equivalent_spellings_are_one_run():
    spec = make_spec({"data": {"dataset": "mnist-sample"}}, grid={"optim.lr": [None, 0.001]}, seeds=[0])
    assert len(expand(spec)) == 1  # adam's default lr is 0.001


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"grid": {"model.hiden": [[8]]}}, "unknown axis 'model.hiden' (fields of model: hidden,"),
        ({"grid": {"modle.hidden": [[8]]}}, "unknown axis 'modle.hidden' (expected section.field"),
        ({"grid": {"model.hidden": [[8], [0, 4]]}}, "sweep grid axis model.hidden = [0, 4]: model.hidden: layer widths must be positive"),
        ({"grid": {"model.activation": ["relu", "sigmod"]}}, "sweep grid axis model.activation = 'sigmod': model.activation: unknown activation"),
        ({"grid": {"optim.lr": [0.1, -1.0]}}, "optim.lr = -1.0: optim.lr: expected a positive learning rate"),
        ({"grid": {"model.hidden": "8,8"}}, "model.hidden: expected a non-empty list of values"),
        ({"grid": {"seed": [1, 2]}}, "vary the seed with the seeds list"),
        ({"zip": {"model.activation": ["relu", "tanh"], "optim.lr": [0.1]}}, "zip axes must have equal lengths (model.activation has 2, optim.lr has 1)"),
        ({"grid": {"optim.loss": ["ce", "bce"]}}, "optim.loss = 'bce'"),
        ({"seeds": [0, 0]}, "seeds: 0 is listed twice"),
        ({"seeds": [-1]}, "seeds: expected non-negative integers"),
        ({"sedes": [1]}, "unknown key 'sedes'"),
        ({"exec": {"thread": 2}}, "exec: unknown field 'thread'"),
        ({"grid": {"model.output": ["softmax", "linear"]}}, "model.output = 'linear': model.output: 'linear' is not valid with loss 'ce'"),
    ],
)
def test_invalid_sweeps_fail_before_anything_runs_with_one_line(raw, message, tmp_path):
    with pytest.raises(ConfigError) as info:
        expand(spec_from_dict({"data": {"dataset": "mnist-sample"}, **raw}))
    text = str(info.value)
    assert message in text and "\n" not in text
    assert not (tmp_path / "vanishing-results").exists()


def test_an_impossible_combination_names_the_point():
    spec = make_spec({"data": {"dataset": "mnist-sample"}}, grid={"optim.loss": ["ce", "mse"], "model.output": ["softmax", "relu"]})
    with pytest.raises(ConfigError, match=r"sweep point optim.loss = 'mse', model.output = 'relu': model.output: 'relu' is not valid with loss 'mse'"):
        expand(spec)


def test_the_cli_reports_a_bad_sweep_in_one_line_and_exit_code_2(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('[grid]\n"model.hidden" = [[8], [-3]]\n')
    assert main(["sweep", str(path), "--results", str(tmp_path / "r"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "model.hidden = [-3]" in err
    assert not (tmp_path / "r").exists()


@settings(max_examples=30, deadline=None)
@given(
    widths=st.lists(st.lists(st.integers(1, 64), min_size=1, max_size=3), min_size=1, max_size=3, unique_by=tuple),
    acts=st.lists(st.sampled_from(["relu", "tanh", "sigmoid", "elu"]), min_size=1, max_size=3, unique=True),
    seeds=st.lists(st.integers(0, 1000), min_size=1, max_size=4, unique=True),
)
def test_expansion_is_the_full_product_with_each_run_once(widths, acts, seeds):
    spec = make_spec({"data": {"dataset": "mnist-sample"}}, grid={"model.hidden": widths, "model.activation": acts}, seeds=seeds)
    runs = expand(spec)
    assert len(runs) == len(widths) * len(acts) * len(seeds)
    assert len({r.run_id for r in runs}) == len(runs)
    assert {(tuple(dict(r.values)["model.hidden"]), dict(r.values)["model.activation"], r.seed) for r in runs} == {
        (tuple(w), a, s) for w in widths for a in acts for s in seeds
    }
    assert all(r.config.model.hidden == tuple(dict(r.values)["model.hidden"]) for r in runs)


def test_plan_batches_seeds_where_the_rule_allows_and_adopts_unfinished_batches(tmp_path):
    base = {"data": {"dataset": "mnist-sample"}, "model": {"hidden": [32]}}
    spec = make_spec(base, grid={"model.activation": ["relu", "rrelu"]}, seeds=range(10))
    runs = expand(spec)
    tasks = plan(runs, set(), tmp_path, workers=2)
    relu = [t for t in tasks if t.runs[0].config.model.activation == "relu"]
    rrelu = [t for t in tasks if t.runs[0].config.model.activation != "relu"]
    assert [len(t.runs) for t in relu] == [5, 5] and all(t.batched for t in relu)  # 10 seeds ≤ 8 per batch → 2 chunks
    assert len(rrelu) == 10 and not any(t.batched for t in rrelu)  # rrelu may not be batched
    assert [len(t.runs) for t in plan(runs, set(), tmp_path, workers=8) if t.batched] == [3, 3, 2, 2]  # more workers → more chunks
    # an unfinished batch with a joint checkpoint is resumed with its own seeds, whatever the worker count
    digest = relu[0].runs[0].config_hash
    BatchDir(tmp_path, digest, [0, 1, 2, 3, 4, 5, 6]).save({"epoch": 1})
    again = [t for t in plan(runs, set(), tmp_path, workers=2) if t.runs[0].config_hash == digest]
    assert [[r.seed for r in t.runs] for t in again] == [[0, 1, 2, 3, 4, 5, 6], [7, 8, 9]]
    # finished runs are not planned again
    final = {r.run_id for r in runs if r.config.model.activation == "relu"}
    assert all(t.runs[0].config.model.activation != "relu" for t in plan(runs, final, tmp_path / "empty", workers=2))


def test_dry_run_prints_the_runs_and_trains_nothing(pretorius, tmp_path):
    out = io.StringIO()
    result = vanishing.sweep(pretorius, results=tmp_path / "r", dry_run=True, out=out)
    text = out.getvalue()
    assert result.dry_run and len(result.runs) == 24
    header = text.splitlines()[0].split()
    assert header == ["run_id", "hidden", "batch_norm", "activation", "init", "seed", "status", "epochs", "test_acc"]
    assert sum(line.endswith(" new") for line in text.splitlines()) == 24 and "24 new" in text and "nothing trained" in text
    assert not (tmp_path / "r").exists()


def test_a_sweep_in_process_then_again_trains_nothing_twice(tmp_path):
    base = {"data": {"dataset": "mnist-sample", "train_subset": 400}, "train": {"epochs": 2, "batch_size": 50},
            "model": {"hidden": [12]}, "probes": {"enabled": ["none"]}}
    kwargs = dict(base=base, grid={"model.activation": ["tanh", "rrelu"]}, seeds=[0, 1], results=tmp_path / "r",
                  workers=0, display="quiet")
    out = io.StringIO()
    first = vanishing.sweep(**kwargs, out=out)
    assert first.complete and first.counts["done"] == 4
    assert set(first.runs.columns) >= {"run_id", "seed", "activation", "status", "test_acc", "epochs_done"}
    assert "1 seed batch" not in out.getvalue() and "batch " in out.getvalue()  # tanh seeds 0, 1 as one batch
    rows = vanishing.load(tmp_path / "r").runs
    assert len(rows) == 4 and set(rows["status"]) == {"done"}
    summary = json.loads((tmp_path / "r" / "runs" / first.runs.run_id[0] / "summary.json").read_text())
    assert summary["seed_batch"]["seeds"] == [0, 1]
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "r" / "runs").rglob("*") if p.is_file()}
    again_out = io.StringIO()
    again = vanishing.sweep(**kwargs, out=again_out)
    assert again.counts["done"] == 4 and "(4 already finished), 0 tasks" in again_out.getvalue()
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes  # nothing rewritten
    assert list(again.runs["test_acc"]) == list(first.runs["test_acc"])
    listing = io.StringIO()
    vanishing.sweep(**{**kwargs, "workers": None}, dry_run=True, out=listing)
    assert sum(" done " in line for line in listing.getvalue().splitlines()) == 4


def test_vanishing_sweep_is_callable_before_and_after_the_subpackage_is_imported():
    import vanishing.sweep.plan  # binds the subpackage as vanishing.sweep

    assert callable(vanishing.sweep) and vanishing.sweep.load_sweep is load_sweep
    assert config_hash(RunConfig()) == config_hash(RunConfig())


def test_claim_many_is_all_or_nothing_and_takes_over_dead_leases(tmp_path):
    import subprocess
    import sys

    from vanishing.store import Index

    index = Index(tmp_path)
    entries = [(f"r{i}", "h", i, {"seed": i}) for i in range(3)]
    index.add_pending_many(entries)
    assert {r["status"] for r in index.rows()} == {"pending"}
    index.finish("r2", "done", {"epochs_done": 1})
    state, rows = index.claim_many(entries)
    assert state == "claimed" and rows["r0"] is None and rows["r2"]["status"] == "done"  # final ones are reported, not claimed
    # another live process holding one run blocks the whole batch
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        import sqlite3

        with sqlite3.connect(tmp_path / "index.sqlite") as con:
            con.execute("UPDATE runs SET pid=? WHERE run_id IN ('r0', 'r1')", (other.pid,))
        state, busy = index.claim_many(entries)
        assert state == "busy" and list(busy) == ["r0", "r1"]
        assert index.get("r0")["pid"] == other.pid  # nothing was claimed
        other.kill()
        other.wait()
        state, rows = index.claim_many(entries)  # the holder died: its lease is stale
        assert state == "claimed" and rows["r0"] is None and rows["r1"] is None
    finally:
        if other.poll() is None:
            other.kill()
    before = index.get("r0")["heartbeat"]
    index.heartbeat_many(["r0", "r1", "r2"])
    assert index.get("r0")["heartbeat"] >= before and index.get("r2")["heartbeat"] is None  # final rows hold no lease


def test_the_driver_renews_leases_during_long_epochs(tmp_path, monkeypatch):
    """Heartbeats come from a driver thread, not from epoch ends: a long epoch keeps its lease fresh."""
    import vanishing.sweep.driver as driver
    from vanishing.store import Index

    monkeypatch.setattr(driver, "HEARTBEAT_S", 0.01)
    beats: list[list[str]] = []
    original = Index.heartbeat_many
    monkeypatch.setattr(Index, "heartbeat_many", lambda self, ids: (beats.append(list(ids)), original(self, ids)))
    base = {"data": {"dataset": "mnist-sample", "train_subset": 4000}, "train": {"epochs": 1, "batch_size": 4},
            "model": {"hidden": [64]}, "probes": {"enabled": ["none"]}}
    res = vanishing.sweep(base=base, seeds=[0], results=tmp_path / "r", workers=0, display="silent")
    assert res.complete
    assert len(beats) >= 3 and all(ids == [res.runs.run_id[0]] for ids in beats)  # one epoch, many beats
