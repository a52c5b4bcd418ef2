"""A self-contained HTML report: text, tables, figures, verdicts, the command and the environment.

    from vanishing.report import Report, figures
    rep = Report("Robinson (2021): sigmoid vs ReLU on MNIST")
    rep.add_heading("Paper vs measured")
    rep.add_verdicts([{"claim": "ReLU after 5 epochs", "paper": 91.0, "measured": (92.3, 0.2, 3),
                       "verdict": "reproduced", "reason": "|92.30 − 91.00| = 1.30 pp ≤ max(2 s.e. = 0.40, 1 pp)"}])
    rep.add_figure(figures.learning_curves(res.epochs, res.runs), "Validation accuracy per epoch", name="curves")
    rep.add_command(sys.argv)
    rep.write("vanishing-results/robinson/report.html")

The page is one file: figures are embedded as base64 PNG (``data:`` URLs),
the style sheet is inline, there is no script, no web font and no link to
anything outside the file, so it renders offline. A Content-Security-Policy
meta tag (``default-src 'none'; img-src data:; style-src 'unsafe-inline'``)
makes the browser refuse any script or remote resource even if one slipped
in. Every user string — titles, text, captions, table headers and cells,
commands, environment values — goes through :func:`html.escape`.

Besides the page, :meth:`Report.write` saves each figure as a PDF and a
high-DPI PNG in ``<stem>_figures/`` next to it (``save_figures=False``
skips them), and links them from the caption. All files are written
atomically (temporary file + rename), figures first, the page last.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import platform
import re
import shlex
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from .tables import html_table, verdict_class, verdict_table

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

CSS = """
:root { --fg: #1d1d1f; --muted: #5f6368; --line: #d9dce1; --bg-alt: #f6f7f9; --accent: #2b5d9b; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", "Liberation Sans", sans-serif;
       color: var(--fg); margin: 0 auto; max-width: 1100px; padding: 1.5rem 1.5rem 4rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin: 0 0 .2rem; }
h2 { font-size: 1.25rem; margin: 2.2rem 0 .6rem; padding-bottom: .2rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.05rem; margin: 1.6rem 0 .4rem; }
p { margin: .4rem 0 .8rem; }
.subtitle, .meta { color: var(--muted); margin: 0 0 .8rem; }
nav { background: var(--bg-alt); border: 1px solid var(--line); border-radius: 6px; padding: .5rem 1rem; margin: 1rem 0; }
nav ol { margin: .2rem 0; padding-left: 1.2rem; columns: 2; }
a { color: var(--accent); }
.table-wrap { overflow-x: auto; margin: .6rem 0 1.2rem; }
table { border-collapse: collapse; font-size: .86rem; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: .2rem 0 .4rem; }
th, td { border: 1px solid var(--line); padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: var(--bg-alt); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.ok { background: #e6f4ea; } td.partly { background: #fef7e0; } td.bad { background: #fce8e6; } td.unsure { background: #e8eaed; color: #3c4043; font-style: italic; }
figure { margin: 1rem 0 1.6rem; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { font-size: .88rem; color: var(--muted); margin-top: .35rem; }
pre { background: var(--bg-alt); border: 1px solid var(--line); border-radius: 4px; padding: .6rem .8rem;
      overflow-x: auto; font-size: .84rem; white-space: pre-wrap; word-break: break-all; }
.note { color: var(--muted); font-size: .9rem; }
.problem { color: #a50e0e; }
details { margin: .4rem 0 1rem; } summary { cursor: pointer; color: var(--accent); }
"""


def environment_info() -> dict[str, str]:
    """Where the report was made: package versions (from metadata, nothing imported), Python, platform, host, time."""
    from importlib import metadata

    info = {"vanishing": _version("vanishing", metadata)}
    for pkg in ("torch", "numpy", "pandas", "matplotlib"):
        info[pkg] = _version(pkg, metadata)
    info.update({
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "time (UTC)": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
    })
    return info


def _version(pkg: str, metadata) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "not installed"


def slug(text: str, fallback: str = "figure") -> str:
    """A file-name-safe slug: lower-case letters, digits and dashes (at most 60 characters)."""
    s = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")[:60].strip("-")
    return s or fallback


def _paragraphs(text: str) -> str:
    """Escaped paragraphs: blank lines separate them, single newlines become line breaks."""
    parts = [p.strip() for p in re.split(r"\n\s*\n", str(text)) if p.strip()]
    return "\n".join("<p>" + "<br>".join(html.escape(line) for line in p.splitlines()) + "</p>" for p in parts)


@dataclass
class FigureFiles:
    """One figure of a report: the embedded PNG and the files written beside the page."""

    number: int
    name: str
    caption: str
    embedded_png: bytes
    width_px: int  # CSS width at 96 px per inch
    files: dict[str, bytes]  # extension → bytes (pdf, png)


class Report:
    """A report assembled block by block, then written as one self-contained HTML file.

    ``embed_dpi`` sets the resolution of the embedded PNGs (shown at their
    physical size, 96 CSS px per inch, so 144 dpi is sharp on high-density
    screens); ``file_dpi`` that of the PNG saved beside the page (300 by
    default), which also gets a vector PDF. ``save_figures=False`` writes
    the page only (faster).
    """

    def __init__(self, title: str, *, subtitle: str | None = None, embed_dpi: int = 144, file_dpi: int = 300,
                 save_figures: bool = True) -> None:
        self.title = str(title)
        self.subtitle = subtitle
        self.embed_dpi = int(embed_dpi)
        self.file_dpi = int(file_dpi)
        self.save_figures = bool(save_figures)
        self.blocks: list[str | FigureFiles] = []  # HTML fragments (already escaped) and figures
        self.headings: list[tuple[str, str]] = []  # (anchor id, escaped text) of level-2 headings
        self.figures: list[FigureFiles] = []
        self.problems: list[str] = []  # figures or tables that could not be made (see add_problem)

    # -- content
    def add_heading(self, text: str, level: int = 2) -> None:
        """A section heading (level 2, listed in the contents) or a sub-heading (level 3–4)."""
        level = min(max(int(level), 2), 4)
        anchor = f"section-{len(self.blocks) + 1}"
        text_html = html.escape(str(text))
        if level == 2:
            self.headings.append((anchor, text_html))
        self.blocks.append(f'<h{level} id="{anchor}">{text_html}</h{level}>')

    def add_text(self, text: str, *, note: bool = False) -> None:
        """Plain text (escaped); blank lines separate paragraphs. ``note`` prints it small and grey."""
        body = _paragraphs(text)
        self.blocks.append(f'<div class="note">{body}</div>' if note else body)

    def add_table(self, data, caption: str | None = None, *, columns: Sequence[str] | None = None,
                  index: bool = False, digits: int = 4, collapsed: bool = False) -> None:
        """A table from a DataFrame, a list of dicts or a list of sequences (with ``columns``); escaped.

        ``collapsed`` puts it in a ``<details>`` element opened by clicking its caption.
        """
        table = html_table(data, None if collapsed else caption, columns=columns, index=index, digits=digits)
        if collapsed:
            table = f"<details><summary>{html.escape(str(caption or 'table'))}</summary>{table}</details>"
        self.blocks.append(table)

    def add_figure(self, fig, caption: str | None = None, *, name: str | None = None) -> FigureFiles:
        """Embed a matplotlib Figure as a PNG; keep a PDF and a high-DPI PNG for :meth:`write`.

        The figure is rendered now, so the caller may discard it afterwards.
        ``name`` (default: from the caption) names the files ``figNN-<name>.pdf/png``.
        """
        from .figures import render

        number = len(self.figures) + 1
        caption = "" if caption is None else str(caption)
        files = {}
        if self.save_figures:
            files = {"pdf": render(fig, "pdf"), "png": render(fig, "png", self.file_dpi)}
        item = FigureFiles(
            number=number,
            name=f"fig{number:02d}-{slug(name or caption or 'figure')}",
            caption=caption,
            embedded_png=render(fig, "png", self.embed_dpi),
            width_px=round(fig.get_figwidth() * 96),
            files=files,
        )
        self.figures.append(item)
        self.blocks.append(item)
        return item

    def add_verdicts(self, rows, caption: str = "Paper vs measured") -> None:
        """The paper-vs-measured table: claim, paper, measured (mean ± s.e.), verdict, reason (see :func:`~vanishing.report.tables.verdict_table`)."""
        frame = verdict_table(rows)
        classes = {"verdict": {str(v): verdict_class(v) for v in frame["verdict"]}}
        self.blocks.append(html_table(frame, caption, cell_classes=classes))

    def add_command(self, cmd: str | Sequence[str], environment: Mapping[str, object] | bool | None = None,
                    *, caption: str = "Command") -> None:
        """The exact command (a string, or argv quoted with :func:`shlex.join`) and an environment table.

        ``environment``: a mapping to print, ``None`` for :func:`environment_info`, ``False`` for none.
        """
        text = cmd if isinstance(cmd, str) else shlex.join(str(c) for c in cmd)
        self.blocks.append(f'<p class="meta">{html.escape(caption)}</p><pre><code>{html.escape(text)}</code></pre>')
        if environment is False:
            return
        env = environment_info() if environment is None or environment is True else environment
        rows = [{"": str(k), "value": str(v)} for k, v in env.items()]
        self.blocks.append(html_table(rows, "Environment", columns=["", "value"]))

    def add_problem(self, what: str, error: BaseException | str) -> None:
        """Record (and show) a figure or table that could not be made, instead of failing the whole report."""
        message = f"{what}: {error}"
        self.problems.append(message)
        self.blocks.append(f'<p class="problem">Could not make {html.escape(message)}</p>')

    # -- output
    def to_html(self, figure_dir: str | None = None) -> str:
        """The page as text; ``figure_dir`` (relative to the page) is where :meth:`write` saved the figure files."""
        esc = html.escape
        head = (
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(self.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        )
        parts = [head, f"<h1>{esc(self.title)}</h1>"]
        if self.subtitle:
            parts.append(f'<p class="subtitle">{esc(str(self.subtitle))}</p>')
        generated = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        parts.append(f'<p class="meta">Generated {esc(generated)} by vanishing {esc(_own_version())}.</p>')
        if len(self.headings) > 1:
            items = "".join(f'<li><a href="#{a}">{t}</a></li>' for a, t in self.headings)
            parts.append(f"<nav><strong>Contents</strong><ol>{items}</ol></nav>")
        for block in self.blocks:
            parts.append(self._figure_html(block, figure_dir) if isinstance(block, FigureFiles) else block)
        parts.append("</body>\n</html>\n")
        return "\n".join(parts)

    def _figure_html(self, item: FigureFiles, figure_dir: str | None) -> str:
        esc = html.escape
        data = base64.b64encode(item.embedded_png).decode("ascii")
        alt = item.caption or f"Figure {item.number}"
        links = ""
        if figure_dir is not None and item.files:
            hrefs = [f'<a href="{esc(quote(f"{figure_dir}/{item.name}.{ext}"))}">{ext.upper()}</a>'
                     for ext in ("pdf", "png") if ext in item.files]
            links = " (" + ", ".join(hrefs) + ")"
        return (
            f'<figure id="figure-{item.number}"><img src="data:image/png;base64,{data}" alt="{esc(alt)}" '
            f'width="{item.width_px}">'
            f"<figcaption><strong>Figure {item.number}.</strong> {esc(item.caption)}{links}</figcaption></figure>"
        )

    def write(self, path: str | Path) -> Path:
        """Write the page (and the figure files beside it, unless ``save_figures`` is off) atomically; return its path."""
        from ..errors import StoreError
        from ..store.atomic import write_bytes

        path = Path(path)
        figure_dir = None
        folder = path.parent
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if self.save_figures and any(f.files for f in self.figures):
                figure_dir = f"{path.stem}_figures"
                folder = path.parent / figure_dir
                folder.mkdir(exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{folder}: cannot create the report folder ({exc.strerror or exc})") from None
        if figure_dir is not None:
            for item in self.figures:
                for ext, data in item.files.items():
                    write_bytes(folder / f"{item.name}.{ext}", data)
        write_bytes(path, self.to_html(figure_dir).encode("utf-8"))
        return path

    def __repr__(self) -> str:
        return f"Report({self.title!r}, blocks={len(self.blocks)}, figures={len(self.figures)})"


def _own_version() -> str:
    from .. import __version__

    return __version__


__all__ = ["CSP", "FigureFiles", "Report", "environment_info", "slug"]
