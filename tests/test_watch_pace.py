"""every="auto": snapshots every 100 steps, or further apart so that they take ≤ max_overhead of the training time."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import vanishing
from vanishing.watch.watcher import AUTO_EVERY, SnapshotPace


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def simulate(step_s: float, snapshot_s: float, steps: int, max_overhead: float = 0.05, pause_at: int | None = None):
    """A training loop on a fake clock, step by step as the watch sees it; returns (snapshot steps, snapshot share)."""
    clock = FakeClock()
    pace = SnapshotPace(AUTO_EVERY, max_overhead, clock=clock)
    pace.snapped(0, snapshot_s)  # the watch's step-0 snapshot
    clock.t += snapshot_s
    snaps, snap_time = [0], snapshot_s
    for step in range(1, steps + 1):
        clock.t += step_s * (50 if step == pause_at else 1)  # one long gap: an evaluation loop
        pace.tick()
        if pace.due(step):
            snaps.append(step)
            clock.t += snapshot_s
            pace.snapped(step, snapshot_s)
            snap_time += snapshot_s
    return snaps, snap_time / clock.t


def test_cheap_snapshots_keep_the_100_step_rhythm():
    snaps, _ = simulate(step_s=0.01, snapshot_s=0.02, steps=1000)
    assert snaps == list(range(0, 1001, 100))


@pytest.mark.parametrize("step_s,snapshot_s", [(0.095, 5.4), (0.19, 3.4), (0.001, 0.5)])
def test_slow_snapshots_are_spaced_to_the_overhead_budget(step_s, snapshot_s):
    snaps, share = simulate(step_s, snapshot_s, steps=20_000, pause_at=3_000)
    gaps = [b - a for a, b in zip(snaps, snaps[1:])]
    needed = snapshot_s / (0.05 * step_s)
    assert min(gaps) >= max(AUTO_EVERY, needed) - 1  # never more often than the budget allows …
    assert max(gaps) <= needed + 2  # … and not much less often (the pause is left out of τ)
    # brute force over the whole run: the snapshots' share of the wall time ≤ max_overhead (the step-0 one aside)
    assert share <= 0.05 + snapshot_s / (20_000 * step_s)


def test_explicit_every_is_exact_and_auto_is_the_default():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    x, y = torch.randn(32, 4), torch.randint(0, 2, (32,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with vanishing.watch(model, (x, y), F.cross_entropy, every=3) as fixed:
        for _ in range(9):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    assert fixed.snapshot_steps == [0, 3, 6, 9] and not fixed.auto
    assert len(fixed.snapshot_seconds) == 4 and all(s > 0 for s in fixed.snapshot_seconds)
    w = vanishing.watch(model, (x, y), F.cross_entropy)
    assert w.auto and w.max_overhead == 0.05
    w.close()
    with pytest.raises(ValueError, match="max_overhead"):
        vanishing.watch(model, (x, y), F.cross_entropy, max_overhead=0)
    with pytest.raises(ValueError, match="every must be 'auto'"):
        vanishing.watch(model, (x, y), F.cross_entropy, every="often")


def test_auto_pace_in_a_real_loop_with_a_slow_probe(monkeypatch):
    """A real watch on a real loop whose clock is simulated: 1 ms steps and 50 ms snapshots.

    The watch reads time only through ``time.perf_counter`` in its module; a fake clock there makes
    the test independent of the machine's load (a real sleep made it flaky under a loaded CI).
    At every=100 the snapshots would take 0.05 / (0.05 + 0.1) ≈ 33% of the time; the pace must
    stretch them to ≥ 0.05 / (0.05 · 0.001) = 1000 steps, and the brute-force share stays ≤ 5%.
    """
    import time
    import types

    from vanishing.watch import watcher

    clock = FakeClock()
    fake_time = types.SimpleNamespace(**{name: getattr(time, name) for name in dir(time) if not name.startswith("_")})
    fake_time.perf_counter = clock
    monkeypatch.setattr(watcher, "time", fake_time)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    x, y = torch.randn(32, 4), torch.randint(0, 2, (32,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    real_capture = watcher.Watch._capture

    def slow_capture(self):
        clock.t += 0.05
        return real_capture(self)

    monkeypatch.setattr(watcher.Watch, "_capture", slow_capture)
    w = vanishing.watch(model, (x, y), F.cross_entropy)
    for _ in range(5000):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        clock.t += 0.001  # the training step
    w.close()
    steps = w.snapshot_steps[:-1]  # the last one is close()'s
    gaps = [b - a for a, b in zip(steps, steps[1:])]
    assert len(gaps) >= 2 and all(999 <= g <= 1002 for g in gaps), w.snapshot_steps
    assert w.snapshot_seconds[1:] and all(abs(s - 0.05) < 1e-9 for s in w.snapshot_seconds)
    share = sum(w.snapshot_seconds[1:-1]) / clock.t
    assert share <= 0.05
