"""Keep freed tensor memory inside the process instead of handing it back to the OS (glibc only).

glibc's malloc serves blocks of at least ``M_MMAP_THRESHOLD`` (128 KiB at
start, adapting upwards) with fresh ``mmap`` pages, and gives the top of the
heap back to the kernel once more than ``M_TRIM_THRESHOLD`` of it is free. An
autograd training step frees and re-allocates its multi-MB activations and
gradients every step, so each step the kernel zero-fills them and takes a page
fault per 4 KiB page to map them in again. On the 784 → 800×4 → 10 benchmark
(docs/performance.md) that is ~10% of an autograd step; a fresh ``g.abs()`` of
its gradients costs 3.6 ms against 0.4 ms into a reused buffer.

:func:`tune_allocator` sets ``M_MMAP_THRESHOLD`` to its 32 MiB maximum and
``M_TRIM_THRESHOLD`` to 2 GiB, which is what
``GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=2147483647``
does at start-up: blocks below 32 MiB are recycled from the heap, already
mapped. The price: memory a process has once used stays in its RSS until it
exits (the next step reuses it). :func:`vanishing.train.fit` calls it once per
process; ``VANISHING_MALLOC=system`` leaves the allocator alone. Elsewhere
than on glibc (macOS, musl, Windows) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

M_TRIM_THRESHOLD = -1  # <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's maximum for M_MMAP_THRESHOLD on 64-bit (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD = 2**31 - 1


@functools.cache
def tune_allocator() -> bool:
    """Apply the thresholds once per process; True when they are in force."""
    if os.environ.get("VANISHING_MALLOC", "").strip().lower() == "system" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
