"""Fewer malloc arenas for a long-running server process (`kiosk serve`).

glibc gives each thread that allocates its own arena, up to eight per CPU, and an arena keeps the pages it
once held for its next allocation. With four screens threads, two staff console threads and the nightly ones,
megabytes that pages freed long ago stay resident for the months a kiosk runs. Two arenas serve a kiosk's few
threads as fast (issue 17, point 6: `bench/soak.py`, 6,000 requests at concurrency 8: 66.3 -> 62.8 MB).
"""

from __future__ import annotations

import ctypes
import os

M_ARENA_MAX = -8  # <malloc.h>
ARENAS = 2


def few_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Ask glibc for at most *arenas* malloc arenas, before any thread starts; return whether it agreed.

    Another C library (musl has no arenas), or a number set in the environment (MALLOC_ARENA_MAX), is left
    as it is.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))
