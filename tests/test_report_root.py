"""Reports of a real tiny results root, checked in headless Chromium.

The root: two seeds of one MLP (784 → 16 → 16 → 10, ReLU) trained with
``vanishing.run`` on the bundled mnist-sample (500 training examples,
2 epochs, ``--probes default``).

The browser check drives Debian's ``chromium`` over the DevTools protocol on
``--remote-debugging-pipe`` (file descriptors 3 and 4, NUL-separated JSON;
stdlib only, no websocket), with no network: it loads the page from
``file://``, collects console messages, uncaught exceptions, log entries
(CSP violations, failed loads), JavaScript dialogs and every request whose URL
is not ``file:`` or ``data:``; then reads the images' ``naturalWidth`` and
the number of ``<script>`` elements from the DOM, and keeps a full-page
screenshot in ``test-artifacts/``. Without chromium the tests fail when
``$CI`` is set (``.ci/run`` installs it) and skip otherwise.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import html
import json
import math
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

import vanishing
from vanishing.config import (
    DataConfig,
    ExecConfig,
    ModelConfig,
    ProbesConfig,
    RunConfig,
    TrainConfig,
)
from vanishing.report import figures, tables
from vanishing.report.results_report import headline_sentence, results_report

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
XSS = "<script>alert(1)</script>"


# --------------------------------------------------------------------------- the tiny root


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report-root")
    for seed in (0, 1):
        config = RunConfig(
            data=DataConfig(dataset="mnist-sample", train_subset=500),
            model=ModelConfig(hidden=(16, 16), activation="relu"),
            train=TrainConfig(epochs=2),
            probes=ProbesConfig(enabled=("default",)),
            seed=seed,
        )
        result = vanishing.run(config, ExecConfig(results=str(root), threads=1, progress=False))
        assert result.status == "done"
    return root


@pytest.fixture(scope="module")
def tiny(tiny_root):
    return vanishing.load(tiny_root)


# --------------------------------------------------------------------------- figures on real data


def test_learning_curves_on_the_real_root(tiny):
    fig = figures.learning_curves(tiny.epochs, tiny.runs, metrics=("val_acc",))
    ax = fig.axes[0]
    (line,) = [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]
    band = next(c for c in ax.collections if c.get_label() == "_s.e. band")
    verts = band.get_paths()[0].vertices
    histories = [json.loads((Path(p) / "epochs.json").read_text()) for p in tiny.runs["path"]]
    for e in (1, 2):
        vals = [100 * h[e - 1]["val_acc"] for h in histories]
        mean, se = statistics.mean(vals), statistics.stdev(vals) / math.sqrt(2)
        assert line.get_ydata()[e - 1] == pytest.approx(mean)
        ys = verts[np.isclose(verts[:, 0], e), 1]
        assert ys.min() == pytest.approx(mean - se) and ys.max() == pytest.approx(mean + se)


def test_probe_figures_on_the_real_root(tiny):
    grads = tiny.probe("grad_norms")
    mesh = figures.grad_norm_heatmap(grads).axes[0].collections[0]
    steps = sorted(grads["step"].unique())
    z = np.ma.getdata(mesh.get_array()).reshape(3, len(steps))
    out = grads[(grads["layer"] == "output") & (grads["step"] == steps[-1])]["weight_l2"]
    assert z[2, -1] == pytest.approx(statistics.mean(out))  # row 3 = output layer, mean of the two seeds
    delta = tiny.probe("backprop_signal")
    ax = figures.delta_by_layer(delta).axes[0]
    init = next(c for c in ax.containers if c.get_label() == "untrained (epoch 0)").lines[0]
    expected = [statistics.mean(delta[(delta["epoch"] == 0) & (delta["layer"] == f"hidden{k}")]["rms"]) for k in (1, 2)]
    np.testing.assert_allclose(init.get_ydata(), expected)
    stats = tiny.probe("activation_stats")
    fig = figures.activation_distributions(stats)
    first = min(stats["run_id"].unique())
    title = next(ax.get_title() for ax in fig.axes if ax.get_title())
    layer, node = title.split(", node ")
    medians = [ln for ln in fig.axes[0].get_lines() if ln.get_color() == "black"]
    rows = stats[(stats["run_id"] == first) & (stats["layer"] == layer) & (stats["node"] == int(node))
                 & (stats["epoch"] == 0) & (stats["class"] >= 0)].sort_values("class")
    np.testing.assert_allclose([ln.get_ydata()[0] for ln in medians[:10]], rows["median"].to_numpy())
    cm = figures.class_medians(stats)
    assert len(cm.axes[0].collections) == 10  # one scatter per MNIST class


# --------------------------------------------------------------------------- the results-root report


def test_headline_sentence_says_when_validation_is_the_test_set(tiny):
    runs = tiny.runs.assign(val_fraction=0.0, headline="last epoch (the test set serves as validation)")
    text = headline_sentence(runs)
    assert "Validation is the test set for every run (val_fraction = 0)" in text
    assert "last epoch (the test set serves as validation)" in text
    assert "not the test set" in headline_sentence(tiny.runs)


def test_report_reads_the_store_without_importing_training_code(tiny_root):
    code = (
        "import sys; from vanishing.report import results_report, tables, figures\n"
        f"rep = results_report.results_report({str(tiny_root)!r}, save_figures=False, embed_dpi=20)\n"
        "assert rep.problems == [], rep.problems\n"
        "bad = [m for m in sys.modules if m.split('.')[:2] in (['vanishing', x] for x in "
        "('train', 'model', 'optim', 'probes', 'runner', 'data', 'sweep', 'seedbatch', 'losses'))]\n"
        "print(bad)\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- Chromium


def chromium_or_fail() -> str:
    exe = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs it with apt-get (Debian package 'chromium')")
        pytest.skip("chromium is not installed (apt-get install chromium); the report is not checked in a browser")
    return exe


class DevTools:
    """A minimal DevTools-protocol client over --remote-debugging-pipe (fd 3 = commands in, fd 4 = replies out)."""

    def __init__(self, exe: str, profile: str) -> None:
        cmd_r, self.cmd_w = os.pipe()
        self.out_r, out_w = os.pipe()
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
                 "--disable-extensions", "--disable-breakpad", "--disable-crash-reporter",
                 "--host-resolver-rules=MAP * ~NOTFOUND", "--window-size=1280,900",
                 "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"]
        # chromium reads commands on fd 3 and writes replies on fd 4. posix_spawn puts the pipe ends there
        # (thread-safe, unlike preexec_fn); they are first moved to fds >= 10 so that no dup2 overwrites another.
        high_r = fcntl.fcntl(cmd_r, fcntl.F_DUPFD_CLOEXEC, 10)
        high_w = fcntl.fcntl(out_w, fcntl.F_DUPFD_CLOEXEC, 10)
        for fd in (cmd_r, out_w):
            os.close(fd)
        actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                   (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
                   (os.POSIX_SPAWN_DUP2, high_r, 3), (os.POSIX_SPAWN_DUP2, high_w, 4)]
        try:
            self.pid = os.posix_spawn(exe, [exe, *flags], dict(os.environ), file_actions=actions, setsid=True)
        finally:
            for fd in (high_r, high_w):
                os.close(fd)
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict] = []

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.out_r], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self.out_r, 1 << 16)
            if not chunk:
                raise EOFError("chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._read(deadline))

    def exited(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.waitpid(self.pid, os.WNOHANG)[0] == self.pid:
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        """Close the browser; kill its process group (it runs in a session of its own) if it does not exit."""
        try:
            done = False
            with contextlib.suppress(Exception):
                self.call("Browser.close", timeout=5)
                done = self.exited(10)
            if not done:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(self.pid, 0)
        finally:
            os.close(self.cmd_w)
            os.close(self.out_r)


PAGE_STATE = """JSON.stringify({
  images: Array.from(document.images).map(i => ({complete: i.complete, width: i.naturalWidth, height: i.naturalHeight})),
  scripts: document.scripts.length,
  title: document.title,
  text: document.body ? document.body.innerText : ""
})"""


def open_in_chromium(page: Path, screenshot: Path) -> dict:
    """Load ``page`` in headless Chromium without network; return its problems, images, scripts and text."""
    exe = chromium_or_fail()
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        browser = DevTools(exe, profile)
        try:
            target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Runtime", "Log", "Page", "Network"):
                browser.call(f"{domain}.enable", session=session)
            browser.call("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
            browser.wait_for("Page.loadEventFired")
            state = json.loads(browser.call("Runtime.evaluate", {"expression": PAGE_STATE, "returnByValue": True},
                                            session=session)["result"]["value"])
            shot = browser.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=session)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        finally:
            browser.close()
    problems = []
    for e in browser.events:
        method, p = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
            problems.append(f"console.{p['type']}: " + " ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
        elif method == "Runtime.exceptionThrown":
            problems.append(f"exception: {p['exceptionDetails'].get('text')}")
        elif method == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
            problems.append(f"log {p['entry']['level']}: {p['entry']['text']}")
        elif method == "Page.javascriptDialogOpening":
            problems.append(f"dialog: {p.get('message')}")
        elif method == "Network.requestWillBeSent" and not p["request"]["url"].startswith(("file:", "data:")):
            problems.append(f"request: {p['request']['url']}")
        elif method == "Network.loadingFailed":
            problems.append(f"failed load: {p.get('errorText')}")
    return {**state, "problems": problems}


def assert_renders(result: dict, n_images: int) -> None:
    assert result["problems"] == []
    assert len(result["images"]) == n_images
    assert all(img["complete"] and img["width"] > 0 and img["height"] > 0 for img in result["images"])
    assert result["scripts"] == 0


def test_chromium_check_catches_a_broken_page(tmp_path):
    """The browser check is able to fail: a console error, a broken image and a remote resource are all reported."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><title>bad</title></head><body>'
                   '<img src="data:image/png;base64,AAAA"><img src="http://example.invalid/x.png">'
                   '<script>console.error("boom")</script></body></html>')
    result = open_in_chromium(bad, ARTIFACTS / "report-broken-page.png")
    assert any("boom" in p for p in result["problems"])
    assert any("example.invalid" in p for p in result["problems"])
    assert [img["width"] for img in result["images"]] == [0, 0]
    with pytest.raises(AssertionError):
        assert_renders(result, 2)


def test_vanishing_report_renders_in_chromium(tiny_root, tiny, capsys):
    from vanishing.cli import main

    out = tiny_root / "site" / "report.html"
    assert main(["report", str(tiny_root), "--out", str(out), "--no-figure-files"]) == 0
    printed = capsys.readouterr()
    assert f"report: {out}" in printed.out and "warning" not in printed.err
    page = out.read_text(encoding="utf-8")
    n_figures = page.count("<figure ")
    assert n_figures >= 8
    result = open_in_chromium(out, ARTIFACTS / "report-root.png")
    assert_renders(result, n_figures)
    assert result["title"] == f"vanishing results: {tiny_root}"
    text = result["text"]
    # every figure the root has data for, and what the headline numbers are
    for caption in ("per epoch; line = mean over seeds, band = ± one standard error",
                    "weight-gradient norm ‖∂E/∂W‖₂ per layer (rows, input at the bottom)",
                    "weight-gradient norm per layer over optimizer steps", "per-example backpropagated signal",
                    "per-class distributions of the outputs", "median output per class for every node",
                    "distribution of each hidden layer's outputs", "f (solid) and its derivative f′ (dashed)"):
        assert caption in text
    assert "best-validation epoch" in text and "held-out 10% of the training split, not the test set" in text
    accs = [100 * a for a in tiny.runs["test_acc"]]
    assert f"{statistics.mean(accs):.2f} ± {statistics.stdev(accs) / math.sqrt(2):.2f}" in text
    for table in ("Sparsity:", "Saturation:", "Dead units:"):
        assert table in text


def test_hostile_strings_are_escaped_and_inject_no_script(tiny_root, tmp_path):
    """``<script>alert(1)</script>`` as run name, config values, a run command and the title: shown as text, never run."""
    hostile = tmp_path / "hostile"
    src = min((tiny_root / "runs").iterdir())
    dst = hostile / "runs" / "evil"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("checkpoint.pt"))
    doc = json.loads((dst / "config.json").read_text())
    doc["run_id"] = XSS
    doc["config"]["data"]["dataset"] = XSS
    doc["config"]["optim"]["schedule"] = '"><img src=x onerror=alert(2)>'
    doc["command"] = ["vanishing", "run", "--dataset", XSS]
    (dst / "config.json").write_text(json.dumps(doc))
    rep = results_report(hostile, title=XSS, save_figures=False, embed_dpi=50)
    out = rep.write(hostile / "report.html")
    page = out.read_text(encoding="utf-8")
    assert "<script" not in page.lower() and "<img src=x" not in page
    assert html.escape(XSS) in page
    assert page.count(html.escape(XSS)) >= 4  # title, h1, run list, shared config, command …
    result = open_in_chromium(out, ARTIFACTS / "report-hostile.png")
    assert_renders(result, page.count("<figure "))
    assert result["title"] == XSS  # shown as text
    assert result["text"].count(XSS) >= 3
    assert not any("alert" in p for p in result["problems"])


def test_tables_on_the_real_root(tiny):
    sp = tables.sparsity_table(tiny.probe("sparsity"), tiny.runs)
    assert list(sp["layer"]) == ["hidden1", "hidden2"]
    rows = tiny.probe("sparsity")
    vals = [100 * v for v in rows[(rows["epoch"] == 0) & (rows["layer"] == "hidden1")]["sparsity"]]
    assert sp.loc[0, "untrained (%)"] == f"{statistics.mean(vals):.1f} ± {statistics.stdev(vals) / math.sqrt(2):.1f}"
    sat = tables.saturation_table(tiny.probe("saturation"), tiny.runs)
    assert set(sat["untrained (%)"]) == {"n/a"}  # ReLU does not saturate
