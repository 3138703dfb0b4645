"""Giving freed memory back to the system between large runtime sessions.

ONNX Runtime sessions, LiteRT interpreters and the LiteRT converter allocate hundreds of MB of
1080p buffers through malloc. Once one is released, glibc keeps much of that memory in its heap
(its mmap threshold grows with each large free), so the next session's peak lands on top of the
last one's. ``release_memory`` collects garbage and asks glibc to return free pages
(``malloc_trim``); elsewhere it only collects garbage.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from functools import lru_cache


@lru_cache(maxsize=1)
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc
        return None


def release_memory() -> None:
    """Collect garbage, then return the C heap's free pages to the system where glibc allows it."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
