"""The through-time figure (issue 17 item 5): ‖∂L/∂h_{T−k}‖ against the lag k per recurrent layer, memory horizon marked.

A tanh ``nn.RNNCell`` stepped in a loop (read through time from its ``cell@t`` rows of ``backprop_signal``) and a
fused ``nn.LSTM`` (table ``through_time``) are watched, saved and drawn three ways — the live API
(``vanishing.watch.figure``), ``vanishing diagnose --time-figure`` and the ``vanishing report`` page — and the line
data read back from the matplotlib Axes must equal the tables; a run without recurrent layers draws nothing and
does not fail.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import vanishing
from vanishing.cli import main
from vanishing.report import figures as report_figures
from vanishing.report.results_report import write_results_report
from vanishing.store.rundir import write_probe_table
from vanishing.watch import figure as watch_figure

T = 8


class CellLoop(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.RNNCell(3, 16)  # tanh, torch's default init
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        h = None
        for t in range(x.shape[1]):
            h = self.cell(x[:, t], h)
        return self.head(h)


class BiLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 8, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        return self.head(self.lstm(x)[0][:, -1])


class LSTMNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 16, batch_first=True)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        return self.head(self.lstm(x)[0][:, -1])


def _train(model, x, y, steps=4, every=2, **options):
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    with vanishing.watch(model, (x, y), F.cross_entropy, every=every, **options) as w:
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    return w


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    torch.manual_seed(0)
    x, y = torch.randn(48, T, 3), torch.randint(0, 2, (48,))
    root = tmp_path_factory.mktemp("time-figure") / "results"
    cell = _train(CellLoop(), x, y)
    lstm = _train(LSTMNet(), x, y, unknown="skip")
    mlp = _train(nn.Sequential(nn.Linear(3 * T, 16), nn.Tanh(), nn.Linear(16, 2)), x.flatten(1), y)
    paths = {"cell": cell.save(root, "cell"), "lstm": lstm.save(root, "lstm"), "mlp": mlp.save(root, "mlp")}
    return {"cell": cell, "lstm": lstm, "mlp": mlp, "root": root, "paths": paths}


def _expected(rows: pd.DataFrame, layer: str, step: int) -> tuple[np.ndarray, np.ndarray, int | None]:
    """(lags, rms, memory horizon) of one layer at one step, straight from the table rows."""
    r = rows[(rows["layer"] == layer) & (rows["epoch"] == step)].sort_values("t")
    lag = r["t"].max() - r["t"].to_numpy()
    if "lag" in r:  # the recorded lag, where the table has one, is the same k = T − t
        np.testing.assert_array_equal(r["lag"].to_numpy(), lag)
    rms = r["rms"].to_numpy(dtype=float)
    at_loss = rms[np.argmax(r["t"].to_numpy())]
    below = [int(k) for k, v in sorted(zip(lag, rms)) if v < 0.1 * at_loss]
    return lag, rms, (below[0] if below else None)


def _cell_rows(backprop_signal: pd.DataFrame) -> pd.DataFrame:
    """The cell loop's backprop_signal rows as a through-time table (layer 'cell', t = k of cell@k)."""
    bs = backprop_signal[backprop_signal["layer"].str.startswith("cell@")]
    return pd.DataFrame({"epoch": bs["epoch"].to_numpy(), "layer": "cell",
                         "t": bs["layer"].str.split("@").str[1].astype(int).to_numpy(), "rms": bs["rms"].to_numpy()})


def _check_axes(ax, rows: pd.DataFrame, layer: str, steps: list[int]) -> None:
    """Every drawn step's line equals the table; the horizon line sits at the latest step's memory horizon."""
    lines = {ln.get_label().split(" (")[0]: ln for ln in ax.get_lines() if ln.get_label().startswith("step ")}
    assert sorted(lines) == sorted(f"step {s}" for s in steps)
    for step in steps:
        lag, rms, _ = _expected(rows, layer, step)
        line = lines[f"step {step}"]
        np.testing.assert_array_equal(np.asarray(line.get_xdata()), lag)
        np.testing.assert_allclose(np.asarray(line.get_ydata(), dtype=float), np.where(rms > 0, rms, np.nan), rtol=0,
                                   atol=0)  # a zero signal (log axis) is left out of the line
    assert lines[f"step {steps[-1]}"].get_linewidth() > max([lines[f"step {s}"].get_linewidth() for s in steps[:-1]] or [0])
    _, rms, horizon = _expected(rows, layer, steps[-1])
    marks = [ln for ln in ax.get_lines() if ln.get_label().startswith("memory horizon")]
    if horizon is None:
        assert not marks
        assert any(ln.get_label().startswith("no horizon") for ln in ax.get_lines())
    else:
        assert len(marks) == 1 and marks[0].get_label() == f"memory horizon k = {horizon}"
        assert np.allclose(marks[0].get_xdata(), horizon)
    assert ax.get_yscale() == "log"


def test_live_watch_figure_equals_the_tables(watched, tmp_path):
    lstm_rows = watched["lstm"].tables()["through_time"]
    assert set(lstm_rows["layer"]) == {"lstm"} and len(lstm_rows) == 3 * T  # snapshots at steps 0, 2, 4
    fig = watch_figure.through_time_figure(watched["lstm"], tmp_path / "lstm.png", steps="all")
    assert (tmp_path / "lstm.png").stat().st_size > 1000
    _check_axes(fig.axes[0], lstm_rows, "lstm", [0, 2, 4])

    cell_rows = _cell_rows(watched["cell"].tables()["backprop_signal"])
    fig = watch_figure.figure(watched["cell"], kind="through_time")  # default: the latest snapshot only
    _check_axes(fig.axes[0], cell_rows, "cell", [4])
    _, _, horizon = _expected(cell_rows, "cell", 4)
    assert horizon is not None  # a tanh RNN at torch's default init forgets within 8 steps
    verdict = watched["cell"].diagnose().verdict("vanishing_through_time")
    assert verdict is not None and verdict.evidence["horizon"] == horizon  # the same horizon as the diagnosis

    fig = watch_figure.through_time_figure(watched["cell"].diagnose(), steps=[0, 4])  # a Diagnosis: from its δ history
    _check_axes(fig.axes[0], cell_rows, "cell", [0, 4])

    # Diagnosis.figure(kind="through_time"): a fused layer's panel from the diagnosis' through_time table
    fig = watched["lstm"].diagnose().figure(kind="through_time", steps="all")
    _check_axes(fig.axes[0], lstm_rows, "lstm", [0, 2, 4])


def test_saved_run_figure_and_diagnose_cli(watched, tmp_path, capsys):
    paths = watched["paths"]
    lstm_rows = vanishing.load(watched["root"]).probe("through_time")
    lstm_rows = lstm_rows[lstm_rows["run_id"] == "lstm"]
    fig = watch_figure.through_time_figure(paths["lstm"], steps=[2, 4])
    _check_axes(fig.axes[0], lstm_rows, "lstm", [2, 4])

    out = tmp_path / "tt.png"
    assert main(["diagnose", str(watched["root"]), "--time-figure", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "time figure: " in printed
    assert (tmp_path / "tt-cell.png").is_file() and (tmp_path / "tt-lstm.png").is_file()
    assert not (tmp_path / "tt-mlp.png").exists()  # no recurrent layer: no figure

    assert main(["diagnose", str(paths["mlp"]), "--time-figure", str(tmp_path / "none.png")]) == 0
    assert "none written" in capsys.readouterr().err
    assert not (tmp_path / "none.png").exists()


def test_report_page_draws_the_through_time_figure(watched, tmp_path, monkeypatch):
    drawn = []
    original = report_figures.through_time

    def spy(rows, **kwargs):
        fig = original(rows, **kwargs)
        drawn.append((rows.copy(), kwargs, fig))
        return fig

    monkeypatch.setattr(report_figures, "through_time", spy)
    path, report = write_results_report(watched["root"], tmp_path / "report.html", save_figures=False, embed_dpi=40)
    assert not [p for p in report.problems if "through time" in p]
    names = [f.name for f in report.figures if "through-time" in f.name]
    assert len(names) == 2 and len(drawn) == 2  # the cell loop and the LSTM; not the MLP
    page = path.read_text()
    assert page.count("memory horizon") >= 2 and "lag k = T − t" in page

    res = vanishing.load(watched["root"])
    tables = {
        "lstm": res.probe("through_time").query("run_id == 'lstm'"),
        "cell": _cell_rows(res.probe("backprop_signal").query("run_id == 'cell'")),
    }
    for rows, kwargs, fig in drawn:
        layer = str(rows["layer"].iloc[0])
        assert kwargs["clock"] == "step" and kwargs["steps"] == [0, 2, 4]
        _check_axes(fig.axes[0], tables[layer], layer, [0, 2, 4])


def test_several_layers_extra_columns_and_latest_default():
    rows = []
    for layer, decay in (("lstm.l0", 0.5), ("lstm.l1.reverse", 0.95)):
        for step in (0, 10):
            for t in range(1, 7):
                rows.append({"epoch": step, "layer": layer, "t": t, "rms": decay ** (6 - t) * (1 + step / 100),
                             "n_probe": 32})
    df = pd.DataFrame(rows)
    for fig in (report_figures.through_time(df), watch_figure.through_time_figure(df)):
        axes = [ax for ax in fig.axes if ax.get_visible()]
        assert [ax.get_title() for ax in axes] == ["lstm.l0", "lstm.l1.reverse"]
        _check_axes(axes[0], df, "lstm.l0", [10])  # 0.5^4 < 0.1: horizon 4
        _check_axes(axes[1], df, "lstm.l1.reverse", [10])  # 0.95^5 > 0.1: no horizon within 6 steps
    with pytest.raises(ValueError, match="no snapshot at step 3"):
        watch_figure.through_time_figure(df, steps=[3])
    with pytest.raises(ValueError, match="kind"):
        watch_figure.figure(df, kind="bogus")


def test_stacked_bidirectional_lstm_one_panel_per_track(tmp_path):
    torch.manual_seed(1)
    x, y = torch.randn(16, 6, 3), torch.randint(0, 2, (16,))
    w = _train(BiLSTM(), x, y, steps=2, unknown="skip")
    rows = w.tables()["through_time"]
    layers = list(dict.fromkeys(rows["layer"]))
    assert len(layers) >= 2  # more than one track: layers and directions, each its own row group
    run = w.save(tmp_path / "results", "bi")
    saved = vanishing.load(tmp_path / "results").probe("through_time")
    for fig in (watch_figure.through_time_figure(w, steps="all"), watch_figure.through_time_figure(run, steps="all"),
                report_figures.through_time(report_figures.time_rows(saved), steps="all")):
        axes = [ax for ax in fig.axes if ax.get_visible()]
        assert [ax.get_title() for ax in axes] == layers
        for ax, layer in zip(axes, layers):
            _check_axes(ax, rows, layer, [0, 2])


def test_no_recurrent_layer_no_figure_no_crash(watched, tmp_path):
    mlp = watched["mlp"]
    assert "through_time" not in mlp.tables()
    assert watch_figure.time_table(mlp).empty
    with pytest.raises(ValueError, match="no recurrent layer"):
        watch_figure.through_time_figure(mlp)
    assert report_figures.time_rows(None, None).empty

    # an empty through_time table on disk (columns, no rows): nothing drawn, nothing reported as a problem
    root = tmp_path / "results"
    run = mlp.save(root, "mlp-empty")
    write_probe_table(run / "probes", "through_time", {"epoch": np.zeros(0, dtype=np.int64), "layer": np.zeros(0, dtype=str),
                                                       "t": np.zeros(0, dtype=np.int64), "rms": np.zeros(0)})
    assert watch_figure.time_table(run).empty
    path, report = write_results_report(root, tmp_path / "report.html", save_figures=False, embed_dpi=40)
    assert path.is_file()
    assert not [f for f in report.figures if "through-time" in f.name]
    assert not [p for p in report.problems if "through time" in p]
    # the delta figure (kind "delta") is unchanged
    assert watch_figure.figure(mlp.diagnose(), tmp_path / "delta.png").axes
    assert (tmp_path / "delta.png").is_file()
