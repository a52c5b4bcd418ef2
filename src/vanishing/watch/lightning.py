"""``VanishingCallback``: :func:`vanishing.watch` on a LightningModule during ``Trainer.fit``.

Needs the extra ``pip install 'vanishing[lightning]'`` (``lightning``; a
``pytorch_lightning`` Trainer takes the callback too)::

    from vanishing.watch.lightning import VanishingCallback

    cb = VanishingCallback(probe_batch=(x_probe, y_probe), loss_fn=F.cross_entropy, every=100)
    L.Trainer(max_epochs=5, callbacks=[cb]).fit(module, loader)
    print(cb.diagnosis)          # the Diagnosis of the trained module (also cb.watch: the closed Watch)

The watch starts in ``on_fit_start`` on the LightningModule itself (its
``forward`` is what ``probe_batch`` is fed to), counts one step per optimizer
step in ``on_before_optimizer_step`` (``step_on="call"``: gradient
accumulation and manual optimization count right), and closes in
``on_fit_end``, leaving ``cb.diagnosis``. At every snapshot the latest
per-layer ‖∇W‖ and RMS δ go to the trainer's logger, if it has one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

_BASES: list[type] = []
try:
    import lightning.pytorch as _lightning

    _BASES.append(_lightning.Callback)
except ImportError:  # pragma: no cover - depends on the environment
    pass
try:  # the standalone package: its Trainer accepts only its own Callback subclasses
    import pytorch_lightning as _pytorch_lightning

    _BASES.append(_pytorch_lightning.Callback)
except ImportError:  # pragma: no cover - depends on the environment
    pass
if not _BASES:
    raise ImportError("vanishing.watch.lightning needs PyTorch Lightning: pip install 'vanishing[lightning]'")

from ._callback import WatchSession


class VanishingCallback(*_BASES):
    """Watch the LightningModule while it fits; ``diagnosis`` is set when ``fit`` ends.

    ``probe_batch``, ``loss_fn`` and ``**options`` are those of
    :func:`vanishing.watch` (``step_on`` is fixed to ``"call"``). ``save_to``:
    a results root the watch is saved into at the end (``vanishing diagnose``
    reads it). ``log``: send scalars to ``trainer.logger`` at each snapshot.
    """

    def __init__(self, probe_batch: tuple[Any, Any], loss_fn: Callable, *, save_to: str | Path | None = None,
                 log: bool = True, **options: Any) -> None:
        super().__init__()
        self.session = WatchSession(probe_batch, loss_fn, save_to=save_to, **options)
        self.log = log

    @property
    def watch(self):
        return self.session.watch

    @property
    def diagnosis(self):
        return self.session.diagnosis

    def on_fit_start(self, trainer, pl_module) -> None:
        self.session.start(pl_module)

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        scalars = self.session.step()
        logger = getattr(trainer, "logger", None)
        if scalars and self.log and logger is not None and trainer.is_global_zero:
            logger.log_metrics(scalars, step=trainer.global_step)

    def on_fit_end(self, trainer, pl_module) -> None:
        self.session.finish()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self.session.abort()
