"""Vanishing gradients through time: recurrent nets, long-range tasks, the time-step gradient probe.

The MLP tools of this package measure how the error signal shrinks from layer
to layer; this package measures how it shrinks from time step to time step
(Hochreiter 1991, 1998; Bengio et al. 1994), for the models the
``temporal`` study compares (``vanishing study temporal``).

==================  ===========================================================================
module              what it holds
==================  ===========================================================================
``config``          :class:`RecurrentConfig` — one run (task, T, cell, init, optimizer, clipping…)
``tasks``           the adding problem and the copy-memory task, generated and seeded
``models``          Elman RNN (tanh / sigmoid / ReLU), LSTM (forget-gate bias), GRU; init by gate
                    block with the :mod:`vanishing.init` schemes; the step equations written out
``probes``          ‖∂L/∂h_{T−k}‖ for every lag k, the linearised-RNN theory lines, spectra
``train``           :func:`fit` — the loop: fresh batches, clipping (clipped fraction recorded),
                    evaluations and probes at init and during training
``runs``            run directories under ``<root>/recurrent/``, :func:`run_all` (resumable,
                    worker processes), :func:`load` → DataFrames
==================  ===========================================================================

Example::

    from vanishing.recurrent import RecurrentConfig, fit, run_all, load

    cfgs = [RecurrentConfig(task="adding", length=50, cell=c, steps=500) for c in ("rnn_tanh", "lstm")]
    run_all(cfgs, "vanishing-results/rnn")
    res = load("vanishing-results/rnn")
    res.probe("time_grad")      # step, k, grad_rms, … per run
"""

from .config import CELLS, LENGTHS, TASKS, RecurrentConfig
from .models import RecurrentNet, SigmoidRNN, build, init_recurrent_, recurrent_blocks, step, unroll
from .probes import decay_rate, spectral_stats, time_gradients
from .runs import RecurrentResults, RunWriter, load, run_all
from .tasks import Task, generate
from .train import fit

__all__ = [
    "CELLS", "LENGTHS", "TASKS", "RecurrentConfig", "RecurrentNet", "RecurrentResults", "RunWriter", "SigmoidRNN",
    "Task", "build", "decay_rate", "fit", "generate", "init_recurrent_", "load", "recurrent_blocks", "run_all",
    "spectral_stats", "step", "time_gradients", "unroll",
]
