"""Sweeps (SPEC §9): a base config × grid/zip axes × seeds, run by a local or Ray executor, resumable.

* :func:`sweep` — the Python call (also ``vanishing.sweep``); :class:`SweepResult`;
* :mod:`.spec` — the sweep file format, :func:`load_sweep`, :func:`expand`;
* :mod:`.plan` — runs → tasks (single runs and seed batches);
* :mod:`.driver` — claims, leases, the index; :mod:`.worker` — what a worker does with a task;
* :mod:`.local`, :mod:`.ray_executor` — the executors; :mod:`.display` — status and tables;
* :mod:`.commands` — ``vanishing sweep FILE``.

See ``docs/sweeps.md``.
"""

from .api import SweepInterrupted, SweepResult, sweep
from .spec import SweepRun, SweepSpec, expand, load_sweep, make_spec, spec_from_dict

__all__ = ["SweepInterrupted", "SweepResult", "SweepRun", "SweepSpec", "expand", "load_sweep", "make_spec", "spec_from_dict", "sweep"]


class _CallableModule(__import__("types").ModuleType):
    """``vanishing.sweep`` is this package once imported; calling it runs :func:`sweep`.

    (Python binds a subpackage as an attribute of its parent, which would
    hide the lazily exported function ``vanishing.sweep``; making the
    package callable keeps ``vanishing.sweep(...)`` working either way.)
    """

    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
