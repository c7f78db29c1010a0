"""One knob of the C allocator: how many malloc arenas the process may use.

glibc gives each thread that allocates concurrently an arena of its own (up to
8 per core). The dump's helper threads receive catalog query results (libpq keeps
them in C memory) in their arenas; the leader frees those results after turning
them into Python objects, and memory freed in one arena cannot serve another's
allocations. With one arena the freed space is reused: at 10 000 chunks the dump's
peak RSS goes from ~150 MB to ~126 MB, wall time unchanged (benchmarks/results/
dump-memory-10k.md). The threads spend their time waiting on the server or in
zstd, which allocates large buffers once, so sharing one arena costs nothing
measurable.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_ARENA_MAX = -8  # from glibc's malloc.h


def limit_arenas(count: int = 1) -> bool:
    """Allow at most ``count`` malloc arenas from now on; False where not glibc.

    Call it before the threads start: arenas already made stay.
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to set
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, count))
