"""The dump's dependency mapping and sort at many chunks, without a database.

    PYTHONPATH=<code>/src python benchmarks/toc_sort.py [--chunks 100000] [--trace]

Builds entries shaped like the scale test's catalog (per chunk: a TABLE creating its
pg_class and pg_type rows, its TABLE DATA needing the table through ``extra_deps``, an
INDEX; pg_depend rows from the chunk to its schema and hypertable, from the index to its
chunk), then times ``resolve_dependencies`` and ``sort_entries`` of the code on
PYTHONPATH. With ``--trace``: the Python memory (tracemalloc) each step adds at its peak
and keeps after it, instead of times (tracemalloc slows the steps down). Run it with the
old and the new code one after the other; it prints one line.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from typing import Any


def catalog(chunks: int) -> tuple[list[Any], list[tuple[str, int, str, int]]]:
    from pystream_migrate.toc import Section, TocEntry

    entries = [
        TocEntry(kind="SCHEMA", schema=None, name="_timescaledb_internal",
                 section=Section.PRE_DATA, objects=[("pg_namespace", 2200)]),
        TocEntry(kind="TABLE", schema="public", name="metrics", section=Section.PRE_DATA,
                 objects=[("pg_class", 16384)]),
    ]
    rows: list[tuple[str, int, str, int]] = []
    for c in range(chunks):
        table, rowtype, index = 100_000 + 4 * c, 100_001 + 4 * c, 100_002 + 4 * c
        name = f"_hyper_1_{c}_chunk"
        entries.append(TocEntry(kind="TABLE", schema="_timescaledb_internal", name=name,
                                section=Section.PRE_DATA,
                                objects=[("pg_class", table), ("pg_type", rowtype)]))
        entries.append(TocEntry(kind="TABLE DATA", schema="_timescaledb_internal", name=name,
                                section=Section.DATA, extra_deps=[("pg_class", table)]))
        entries.append(TocEntry(kind="INDEX", schema="_timescaledb_internal",
                                name=f"{name}_time_idx", section=Section.POST_DATA,
                                objects=[("pg_class", index)]))
        rows += [("pg_class", table, "pg_namespace", 2200), ("pg_class", table, "pg_class", 16384),
                 ("pg_type", rowtype, "pg_class", table), ("pg_class", index, "pg_class", table)]
    return entries, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--trace", action="store_true", help="memory instead of times")
    args = ap.parse_args()
    from pystream_migrate.toc import resolve_dependencies, sort_entries

    entries, rows = catalog(args.chunks)
    gc.collect()
    out = [f"{len(entries)} entries, {len(rows)} pg_depend rows:"]
    steps = (("resolve", lambda: resolve_dependencies(entries, rows)),
             ("sort", lambda: sort_entries(entries)))
    if args.trace:
        tracemalloc.start()
    for name, step in steps:
        if args.trace:
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            step()
            now, peak = tracemalloc.get_traced_memory()
            out.append(f"{name} +{(peak - before) / 1e6:.1f} MB at peak, "
                       f"{(now - before) / 1e6:+.1f} MB kept;")
        else:
            start = time.perf_counter()
            step()
            out.append(f"{name} {time.perf_counter() - start:.2f} s;")
    print(" ".join(out))


if __name__ == "__main__":
    main()
