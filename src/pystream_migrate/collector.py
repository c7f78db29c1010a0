"""The cyclic garbage collector, held back while a dump or restore runs.

A dump builds and lets go of hundreds of thousands of small objects (catalog rows,
TOC entries, their lists and dicts), nearly all freed by reference counting: few form
cycles. CPython's collector still runs every 700 new objects, and a full collection
walks every object alive, the imported modules' included, each time the heap has
grown by a quarter. On 4000 chunks that was 0.13-0.15 s of a 1.6 s dump (some 330
collections, 0.09-0.12 s of them full ones), all of it holding the interpreter's lock
the leader, helpers and workers share.

:func:`collector_held_back` moves what exists when it starts (the modules, mostly)
out of the collector's sight (``gc.freeze``) and makes young collections rare
(every 50 000 objects) and full ones rarer still: 0.03 s on the same dump. Cycles
are still collected by the young collections; at 100 000 chunks the dump's peak RSS
is 224 MB (223 MB before). On leaving, the thresholds are put back and the frozen
objects returned to the collector (a test, or the demo, may call dump and restore in
one process).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# New objects between young collections; young collections between middle-aged ones;
# those between full ones (CPython's defaults: 700, 10, 10). See the docstring.
THRESHOLDS = (50_000, 20, 100)


@contextmanager
def collector_held_back() -> Iterator[None]:
    """Run the body with the collector held back (see the module's docstring)."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
