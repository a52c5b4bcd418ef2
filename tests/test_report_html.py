"""The Report API: self-contained page, embedded figures, PDF beside, escaping, atomic writes."""

from __future__ import annotations

import base64
import html
import io
import re

import pandas as pd
import pytest
from matplotlib.figure import Figure

from vanishing.errors import StoreError
from vanishing.report import Report
from vanishing.report.html import CSP, slug

XSS = "<script>alert(1)</script>"
ATTR = '" onerror="alert(2)'


def small_figure(label: str = "line") -> Figure:
    fig = Figure(figsize=(3, 2))
    ax = fig.subplots()
    ax.plot([1, 2, 3], [1, 4, 9], label=label)
    ax.set_xlabel("x")
    return fig


def embedded_pngs(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def test_page_is_self_contained_with_figures_tables_verdicts_command(tmp_path):
    rep = Report("Study X", subtitle="a test")
    rep.add_heading("Paper vs measured")
    rep.add_verdicts([
        {"claim": "ReLU after 10 epochs", "paper": 93.7, "measured": (93.1, 0.25, 3), "verdict": "reproduced",
         "reason": "|93.10 − 93.70| = 0.60 pp ≤ 1 pp"},
        {"claim": "sigmoid stalls", "paper": 10.6, "measured": (54.0, 2.0), "verdict": "not reproduced", "reason": "trains"},
    ])
    rep.add_heading("Figures")
    rep.add_text("First paragraph.\n\nSecond paragraph,\nwith a line break.")
    rep.add_figure(small_figure(), "Squares", name="squares")
    rep.add_table(pd.DataFrame({"layer": ["hidden1", "hidden2"], "sparsity (%)": [49.5, 80.25]}), "Sparsity")
    rep.add_table([("a", 1), ("b", 2)], "Rows", columns=["name", "value"])
    rep.add_command(["vanishing", "study", "robinson", "--quick"], {"python": "3.11", "torch": "2.13.0+cpu"})
    path = rep.write(tmp_path / "out" / "report.html")
    page = path.read_text(encoding="utf-8")

    # one file that needs nothing else: no scripts, no external URLs, no stylesheets or fonts from elsewhere
    assert "<script" not in page.lower() and "<link" not in page.lower() and "@import" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page) and "url(" not in page
    assert f'content="{CSP}"' in page
    pngs = embedded_pngs(page)
    assert len(pngs) == 1 and pngs[0].startswith(b"\x89PNG")
    from PIL import Image

    with Image.open(io.BytesIO(pngs[0])) as im:  # embedded at 144 dpi
        assert im.size == (3 * 144, 2 * 144)
    # the PDF and a 300-dpi PNG beside the page, linked from the caption
    folder = tmp_path / "out" / "report_figures"
    assert (folder / "fig01-squares.pdf").read_bytes().startswith(b"%PDF")
    with Image.open(folder / "fig01-squares.png") as im:
        assert im.size == (900, 600)
    assert 'href="report_figures/fig01-squares.pdf"' in page
    # verdicts with classes from the fixed set, mean ± s.e.
    assert '<td class="ok">reproduced</td>' in page and '<td class="bad">not reproduced</td>' in page
    assert "93.10 ± 0.25 (n = 3)" in page and "54.00 ± 2.00" in page
    assert "<p>First paragraph.</p>" in page and "Second paragraph,<br>with a line break." in page
    assert '<td class="num">80.25</td>' in page
    assert "vanishing study robinson --quick" in page and "2.13.0+cpu" in page
    assert page.count("<nav>") == 1 and 'href="#section-1"' in page


def test_every_user_string_is_escaped():
    rep = Report(XSS, subtitle=XSS)
    rep.add_heading(XSS)
    rep.add_text(XSS)
    rep.add_table(pd.DataFrame({XSS: [XSS], "n": [1]}), caption=XSS)
    rep.add_table([{"a": XSS}], caption=XSS, collapsed=True)
    rep.add_figure(small_figure(XSS), caption=XSS + ATTR, name=XSS)
    rep.add_verdicts([{"claim": XSS, "paper": XSS, "measured": XSS, "verdict": "partly" + XSS, "reason": XSS}], caption=XSS)
    rep.add_command(["run", XSS], {XSS: XSS}, caption=XSS)
    rep.add_problem(XSS, XSS)
    page = rep.to_html()
    assert "<script" not in page.lower()
    assert XSS not in page
    assert page.count(html.escape(XSS)) >= 15
    assert 'onerror="' not in page  # the quote in the caption cannot end the alt attribute
    assert "&quot; onerror=&quot;alert(2)" in page
    assert rep.figures[0].name == "fig01-script-alert-1-script"  # file names are slugs


def test_write_is_atomic_and_keeps_the_old_page_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "report.html"
    path.write_text("old page")
    rep = Report("new", save_figures=False)
    rep.add_text("content")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", broken_replace)
    with pytest.raises(StoreError, match="report.html: cannot write"):
        rep.write(path)
    assert path.read_text() == "old page"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # the temporary file is gone
    monkeypatch.undo()
    rep.write(path)
    assert "content" in path.read_text()


def test_save_figures_off_writes_the_page_only(tmp_path):
    rep = Report("quick", save_figures=False)
    rep.add_figure(small_figure(), "a figure")
    rep.write(tmp_path / "r.html")
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]
    assert len(embedded_pngs((tmp_path / "r.html").read_text())) == 1


def test_slug():
    assert slug("Learning curves (ReLU, 5 epochs)") == "learning-curves-relu-5-epochs"
    assert slug("../../etc/passwd") == "etc-passwd"
    assert slug("δ") == "figure"
