"""Test-session settings.

* One torch thread per test process: the suite may run in parallel workers on
  a 2-core machine, and default OpenMP threads in two processes slow each other
  down many times over.
* ``VANISHING_DATA`` defaults to ``../shared/data`` beside the checkout (the
  build machines' copy of MNIST and CIFAR-10); CI sets it explicitly.
* The user cache (``XDG_CACHE_HOME``) points into a per-session temporary
  folder so that tests never read or write the real ``~/.cache``.
* ``VANISHING_TEST_DEVICE`` (default ``cpu``) is the device of the tests
  marked ``device`` (``python -m pytest -m device``), through the ``device``
  fixture; on CUDA, TF32 is off so that float32 tolerances hold.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

torch.set_num_threads(1)
os.environ.setdefault("VANISHING_DATA", str((ROOT.parent / "shared" / "data").resolve()))


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("xdg-cache")
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder that holds the full data sets (``$VANISHING_DATA``)."""
    path = Path(os.environ["VANISHING_DATA"])
    assert (path / "mnist").is_dir(), f"VANISHING_DATA={path} has no mnist/ folder"
    return path


TEST_DEVICE = os.environ.get("VANISHING_TEST_DEVICE", "cpu")


@pytest.fixture(scope="session")
def device() -> torch.device:
    """The device of the ``device``-marked tests: ``$VANISHING_TEST_DEVICE`` (default cpu), TF32 off."""
    dev = torch.device(TEST_DEVICE)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            pytest.fail(f"VANISHING_TEST_DEVICE={TEST_DEVICE} but torch.cuda.is_available() is False")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return dev
