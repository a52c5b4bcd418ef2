"""``VanishingCallback``: :func:`vanishing.watch` on the model of a Hugging Face ``transformers.Trainer``.

Needs the extra ``pip install 'vanishing[hf]'`` (``transformers`` and
``accelerate``, which ``Trainer`` requires)::

    from vanishing.watch.hf import VanishingCallback

    cb = VanishingCallback(probe_batch=({"input_ids": ids}, labels),
                           loss_fn=lambda out, y: F.cross_entropy(out.logits, y), every=100)
    Trainer(model=model, args=args, train_dataset=ds, callbacks=[cb]).train()
    print(cb.diagnosis)

The watch starts in ``on_train_begin`` on ``kwargs["model"]`` (the unwrapped
model; a dict ``x`` of ``probe_batch`` is passed as ``model(**x)``), counts
one step per optimizer step in ``on_pre_optimizer_step`` (after the Trainer's
gradient clipping, ``max_grad_norm``; gradient accumulation counts right) and
closes in ``on_train_end``, leaving ``cb.diagnosis``. At each snapshot the
latest per-layer ‖∇W‖ and RMS δ are kept in ``cb.logged`` (step → scalars).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

try:
    from transformers import TrainerCallback as _TrainerCallback
except ImportError:  # pragma: no cover - depends on the environment
    raise ImportError("vanishing.watch.hf needs Hugging Face transformers: pip install 'vanishing[hf]'") from None

from ._callback import WatchSession


class VanishingCallback(_TrainerCallback):
    """Watch the Trainer's model while it trains; ``diagnosis`` is set when training ends.

    ``probe_batch``, ``loss_fn`` and ``**options`` are those of
    :func:`vanishing.watch` (``step_on`` is fixed to ``"call"``); ``save_to``:
    a results root the watch is saved into at the end.
    """

    def __init__(self, probe_batch: tuple[Any, Any], loss_fn: Callable, *, save_to: str | Path | None = None,
                 **options: Any) -> None:
        self.session = WatchSession(probe_batch, loss_fn, save_to=save_to, **options)
        self.logged: dict[int, dict[str, float]] = {}

    @property
    def watch(self):
        return self.session.watch

    @property
    def diagnosis(self):
        return self.session.diagnosis

    def on_train_begin(self, args, state, control, **kwargs) -> None:
        model = kwargs.get("model")
        if model is None:
            raise RuntimeError("vanishing.watch.hf: the Trainer passed no model to on_train_begin")
        self.session.start(model)

    def on_pre_optimizer_step(self, args, state, control, **kwargs) -> None:
        scalars = self.session.step()
        if scalars:
            self.logged[int(state.global_step) + 1] = scalars

    def on_train_end(self, args, state, control, **kwargs) -> None:
        self.session.finish()
