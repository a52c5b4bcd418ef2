"""What a sweep shows while it runs and when it ends.

* On a terminal (``live``): a status block redrawn in place about once a
  second — counts per status and one line per running run (its varied
  fields, epoch, last validation accuracy).
* In CI and logs (``quiet``: not a terminal, or ``$CI`` set): one line per
  event — a task starts, a run ends (with its test accuracy or its
  failure), a note — each with a timestamp and the running counts.
* At the end, both print the summary table: one row per point of the grid
  (runs that differ only in seed), with the number of seeds per status and
  the mean ± standard error of the headline test accuracy.
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any, Sequence, TextIO

from .spec import SweepRun, column_names, display_value

ORDER = ("pending", "running", "done", "diverged", "interrupted", "failed")


def counts(statuses: Sequence[str]) -> dict[str, int]:
    out = {s: 0 for s in ORDER}
    for s in statuses:
        out[s] = out.get(s, 0) + 1
    return out


def format_counts(c: dict[str, int]) -> str:
    return ", ".join(f"{n} {s}" for s, n in c.items() if n or s != "interrupted")


def varied_text(run: SweepRun) -> str:
    cols = column_names([p for p, _ in run.values])
    return " ".join(f"{cols[p]}={display_value(v)}" for p, v in run.values)


def _acc(summary: dict) -> str:
    acc = summary.get("test_acc") if summary else None
    return "" if acc is None or acc != acc else f"{100 * acc:.2f}%"


class Display:
    """Status output of a running sweep (see the module docstring)."""

    def __init__(self, name: str, states: dict, mode: str = "auto", out: TextIO | None = None) -> None:
        self.name = name
        self.states = states
        self.out = out or sys.stdout
        if mode == "auto":
            mode = "live" if self.out.isatty() and not os.environ.get("CI") else "quiet"
        self.mode = mode  # live | quiet | silent
        self.t0 = time.monotonic()
        self.last_draw = 0.0
        self.drawn = 0
        self.last_metrics: dict[str, dict] = {}

    # -- events from the driver
    def started(self, task, states) -> None:
        if self.mode == "quiet":
            what = "batch" if task.batched else "start"
            first = states[0].run
            seeds = ",".join(str(s.run.seed) for s in states)
            self._line(f"{what:<8} {first.run_id if not task.batched else first.config_hash[:12]} seeds {seeds}  {varied_text(first)}")

    def epoch(self, state, metrics: dict) -> None:
        self.last_metrics[state.run.run_id] = metrics

    def ended(self, state) -> None:
        if self.mode == "silent":
            return
        if self.mode == "live":
            self._clear()  # the line scrolls up above the status block
        s = state.summary or {}
        if state.status == "done":
            detail = f"test_acc {_acc(s)} after {s.get('epochs_done')} epochs"
        elif state.status == "diverged":
            detail = f"NaN/inf at step {s.get('diverged_step')}"
        elif state.status == "failed":
            detail = (state.message or "").splitlines()[0] if state.message else ""
        else:
            detail = f"after {s.get('epochs_done') or state.epochs} epochs"
        self._line(f"{state.status:<8} {state.run.run_id}  {varied_text(state.run)}  {detail}")

    def note(self, text: str) -> None:
        if self.mode == "silent":
            return
        if self.mode == "live":
            self._clear()
        self._line(text)

    def refresh(self, final: bool = False) -> None:
        if self.mode != "live":
            return
        now = time.monotonic()
        if not final and now - self.last_draw < 1.0:
            return
        self.last_draw = now
        self._clear()
        if final:
            return
        lines = [self._header()]
        running = [st for st in self.states.values() if st.status == "running"]
        for st in running[:20]:
            m = self.last_metrics.get(st.run.run_id)
            epochs = st.run.config.train.epochs
            where = " (elsewhere)" if st.elsewhere else ""
            progress = f"epoch {m['epoch']}/{epochs} val_acc {100 * m['val_acc']:.2f}%" if m else f"epoch 0/{epochs}"
            lines.append(f"  {st.run.run_id}  {varied_text(st.run)}  {progress}{where}")
        if len(running) > 20:
            lines.append(f"  … and {len(running) - 20} more running")
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()
        self.drawn = len(lines)

    # -- helpers
    def _header(self) -> str:
        c = counts([st.status for st in self.states.values()])
        return f"sweep {self.name}: {len(self.states)} runs — {format_counts(c)}  [{_clock(time.monotonic() - self.t0)}]"

    def _clear(self) -> None:
        if self.drawn:
            self.out.write(f"\x1b[{self.drawn}F\x1b[J")
            self.drawn = 0

    def _line(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        c = counts([st.status for st in self.states.values()])
        tail = f"  [{c['done'] + c['diverged']}/{len(self.states)} finished]" if self.mode == "quiet" else ""
        self.out.write(f"[{stamp}] {text}{tail}\n")
        self.out.flush()


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


# --------------------------------------------------------------------------- tables


def runs_table(rows: Sequence[dict], varied: Sequence[str]) -> str:
    """The per-run table (``--dry-run``): run_id, seed, the varied fields, status, epochs, test accuracy."""
    cols = column_names(list(varied))
    headers = ["run_id", *[cols[p] for p in varied], "seed", "status", "epochs", "test_acc"]
    body = []
    for r in rows:
        body.append([r["run_id"], *[display_value(r["values"].get(p, "")) for p in varied], str(r["seed"]), r["status"],
                     str(r.get("epochs") or ""), _acc(r.get("summary") or {})])
    return _format(headers, body)


def summary_table(rows: Sequence[dict], varied: Sequence[str]) -> str:
    """One row per grid point: seeds per status and mean ± s.e. of the headline test accuracy over seeds."""
    cols = column_names(list(varied))
    groups: dict[Any, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["point"], []).append(r)
    headers = [*[cols[p] for p in varied], "seeds", "status", "test_acc (mean ± s.e.)", "epochs"]
    body = []
    for point_rows in groups.values():
        first = point_rows[0]
        c = counts([r["status"] for r in point_rows])
        status = " ".join(f"{n} {s}" for s, n in c.items() if n)
        accs = [r["summary"].get("test_acc") for r in point_rows if r["status"] == "done" and r.get("summary")]
        accs = [a for a in accs if a is not None]
        epochs = sorted({r.get("epochs") or 0 for r in point_rows})
        body.append([*[display_value(first["values"].get(p, "")) for p in varied], str(len(point_rows)), status,
                     _mean_se(accs), "/".join(str(e) for e in epochs)])
    return _format(headers, body)


def _mean_se(values: Sequence[float]) -> str:
    if not values:
        return ""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return f"{100 * mean:.2f}%"
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return f"{100 * mean:.2f} ± {100 * math.sqrt(var / len(values)):.2f}%"


def _format(headers: list[str], body: list[list[str]]) -> str:
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    for row in body:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    return "\n".join(lines)
