"""Two knobs of the C allocator (glibc): how many malloc arenas the process may use, and
from what size an allocation gets pages of its own.

glibc gives each thread that allocates concurrently an arena of its own (up to
8 per core). The dump's helper threads receive catalog query results (libpq keeps
them in C memory) in their arenas; the leader frees those results after turning
them into Python objects, and memory freed in one arena cannot serve another's
allocations. With one arena the freed space is reused: at 10 000 chunks the dump's
peak RSS goes from ~150 MB to ~126 MB, wall time unchanged (benchmarks/results/
dump-memory-10k.md). The threads spend their time waiting on the server or in
zstd, which allocates large buffers once, so sharing one arena costs nothing
measurable.

glibc also serves an allocation of 128 kB or more with pages of its own (mmap), given
back when freed, but raises that threshold to the size of each such block freed, up to
32 MB. After the first large array or buffer is freed, large transient allocations
(streamed result chunks, pickled batches, growing arrays) are carved from the heap
instead, among long-lived objects: freed, they leave holes the heap never returns. A
fixed threshold keeps them out of the heap, in dump and restore. At 100 000 chunks,
-j 2: the dump's peak RSS 312-340 MB with the moving threshold, 276 MB with 256 kB
(the heap 52 MB instead of 69-108 MB); the restore's 278 MB against 265 MB
(benchmarks/results/dump-memory-100k-session6.md).
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any

_M_ARENA_MAX = -8  # from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 * 1024  # see the module's docstring for the measurement


@functools.cache
def _mallopt() -> Any:
    """glibc's ``mallopt``, or None where the C library is not glibc.

    Looked up among the symbols the process has loaded (``dlopen(NULL)``), the C
    library's among them: ``find_library`` runs ``ldconfig -p``, 2 ms, each time.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # not glibc (macOS): nothing to set
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt


def limit_arenas(count: int = 1) -> bool:
    """Allow at most ``count`` malloc arenas from now on; False where not glibc.

    Call it before the threads start: arenas already made stay.
    """
    mallopt = _mallopt()
    return mallopt is not None and bool(mallopt(_M_ARENA_MAX, count))


def fix_mmap_threshold(size: int = MMAP_THRESHOLD) -> bool:
    """Give every allocation of ``size`` bytes or more pages of its own, always (no
    moving threshold); False where not glibc."""
    mallopt = _mallopt()
    return mallopt is not None and bool(mallopt(_M_MMAP_THRESHOLD, size))
