"""``vanishing.watch``: the probes on any PyTorch model in the user's own loop, and the diagnosis (SPEC §12).

* :func:`watch` / :class:`Watch` (``watcher.py``) — attach, record, snapshot, ``diagnose()``, ``save()``;
* ``hooks.py`` — the layer registry (:data:`LAYER_TYPES`, :func:`register_layer`,
  :class:`LayerRule`) and the unknown-layer policy;
* ``per_example.py`` — Σ_n E_n from the user's loss function;
* ``diagnose.py`` — :class:`Diagnosis`, :func:`diagnose_tables`, :func:`diagnose_run` (store tables only,
  no training code); ``verdicts.py`` — the vocabulary: :data:`KINDS`, :class:`Thresholds`, :data:`REMEDIES`,
  :class:`Verdict`; ``time_verdicts.py`` — recurrent layers through time and their gates;
* ``save.py`` — a watch as a run of the results store; ``figure.py`` — RMS δ per layer;
* ``tensorboard.py`` — optional TensorBoard logging (``vanishing[tensorboard]``);
* ``commands.py`` — ``vanishing diagnose DIR``.

See ``docs/watch.md``. ``vanishing.watch(...)`` calls :func:`watch` whether
``vanishing.watch`` is this package or the lazily exported function.
"""

from .diagnose import Diagnosis, diagnose_run, diagnose_tables
from .hooks import LAYER_TYPES, LayerRule, UnknownLayerError, register_layer
from .per_example import LossReductionError
from .verdicts import KINDS, REMEDIES, MissingProbeError, Thresholds, Verdict


def __getattr__(name: str):
    # the watcher pulls in the probes and the training engine; `vanishing diagnose` (store tables only) does not need them
    if name in ("Watch", "watch"):
        from . import watcher

        return getattr(watcher, name)
    raise AttributeError(f"module 'vanishing.watch' has no attribute {name!r}")

__all__ = [
    "KINDS", "LAYER_TYPES", "REMEDIES", "Diagnosis", "LayerRule", "LossReductionError", "MissingProbeError", "Thresholds",
    "UnknownLayerError", "Verdict", "Watch", "diagnose_run", "diagnose_tables", "register_layer", "watch",
]


class _CallableModule(__import__("types").ModuleType):
    """``vanishing.watch`` is this package once imported; calling it runs :func:`watch`.

    (Python binds a subpackage as an attribute of its parent, which would hide
    the lazily exported function ``vanishing.watch``; a callable package keeps
    ``vanishing.watch(model, ...)`` working either way.)
    """

    def __call__(self, *args, **kwargs):
        from .watcher import watch

        return watch(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
