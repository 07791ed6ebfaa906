"""Bound glibc's malloc arenas before a run's threads start (docs/organization-scale.md#memory).

glibc gives each thread that allocates while another does an arena of its own, up to
eight per core, and an arena keeps its high-water mark (mallopt(3), M_ARENA_MAX). The
scan's pool threads each parse a DescribeInstances page of up to 1,000 instances at
once, so peak memory grew with the pool rather than with the fleet: 8,000 instances over
4 Regions peaked at about 260 MB with glibc's default and 178 MB with two arenas, for a
little less CPU (``python -m bench peers``). ``MALLOC_ARENA_MAX`` in the environment,
which glibc reads itself, wins.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_ARENA_MAX = -8  # glibc's <malloc.h>
ARENAS = 2


def bound_arenas() -> bool:
    """Limit glibc to ARENAS arenas; False where that is not glibc's to do, or the user
    chose with MALLOC_ARENA_MAX."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the running process's C library
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_ARENA_MAX, ARENAS))
