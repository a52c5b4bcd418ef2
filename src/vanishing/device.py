"""Device selection: ``auto | cpu | cuda | cuda:N``, checked before any training.

* :func:`resolve_device` — the ``torch.device`` a name means (``auto`` → the
  first CUDA device when present, else the CPU); a CUDA name on a machine
  without CUDA, or an index past the last GPU, is a :class:`ConfigError`
  (one line; the CLI exits 2).
* :func:`preflight` — the same check for commands that train in worker
  processes (``vanishing study``, ``vanishing sweep``): it runs in the parent
  before any run starts, so a bad ``--device`` fails once, before training,
  instead of once per run.
* :func:`describe_choice` — the line a command prints first when the user
  (or the default) asked for ``auto``: which device it chose and why.
"""

from __future__ import annotations

import torch

from .errors import ConfigError

__all__ = ["resolve_device", "preflight", "describe_choice"]


def resolve_device(name: str | torch.device | None) -> torch.device:
    """``auto`` (or None) → CUDA when present, else CPU; otherwise the named device, checked."""
    if name is None or str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"device: {name!r} is not a device (expected auto, cpu, cuda or cuda:N)") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device: {str(name)!r} requested but torch.cuda.is_available() is False (use auto or cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"device: {str(name)!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
    elif device.type != "cpu":
        raise ConfigError(f"device: {str(name)!r} is not supported (expected auto, cpu, cuda or cuda:N)")
    return device


def preflight(name: str | None) -> torch.device:
    """Resolve ``name`` in the parent process, before any run trains (raises ConfigError)."""
    return resolve_device(name)


def describe_choice(name: str | None, device: torch.device) -> str:
    """One line naming the device a command trains on, e.g. ``device: cpu (auto: no CUDA device found)``."""
    if name is None or str(name) == "auto":
        if device.type == "cuda":
            return f"device: {device} (auto: {torch.cuda.get_device_name(device)})"
        return "device: cpu (auto: no CUDA device found)"
    return f"device: {device}"
