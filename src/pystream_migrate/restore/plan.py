"""The restore's scheduler items, made from TOC entries: sizes, lock sets, passes.

Pure: no database. Each data entry is an item; each post-data item weighs its table's
data (so a large table's index builds start early) and locks its table, and a foreign
key the tables it references, except index builds, which lock nothing here (CREATE INDEX
takes a SHARE lock, and index builds on one table do not block each other). Post-data
that belongs to no table, or must wait for every table's rows (a materialized view's
refresh, a CHECK that children inherit), runs in pass 1, after everything of pass 0;
event triggers run last of all (pass 2), as pg_restore does: they must not fire on the
restore's own DDL. Each table's ANALYZE is an item too, after its data and its indexes.
"""

from __future__ import annotations

from collections.abc import Callable

from pystream_migrate.batching import SMALL_ENTRY
from pystream_migrate.restore.analyze import item_id as analyze_id
from pystream_migrate.restore.scheduler import Item
from pystream_migrate.toc import TocEntry

# Post-data kinds that lock nothing in the scheduler (see the module docstring).
NO_LOCK_KINDS = frozenset({"INDEX"})


def restore_pass(e: TocEntry) -> int:
    if e.kind == "EVENT TRIGGER":
        return 2
    if e.table_oid is None or e.after_data:
        return 1
    return 0


def make_items(data: list[TocEntry], post: list[TocEntry], analyze: list[TocEntry],
               size: Callable[[TocEntry], int], *, gated: bool) -> list[Item]:
    """Items for data entries, post-data entries and the ANALYZE of ``analyze``'s tables.

    ``gated``: data entries with rows wait for their first block (a stream).
    Their id collections are tuples, and a table's lock set is one tuple shared by its
    items: a restore of 100 000 chunks has 300 000 items.
    """
    # A table's first data entry (a portable archive loads a partially compressed
    # chunk's heap rows in a second one, which waits for post-data of its own).
    data_of: dict[int, TocEntry] = {}
    for e in data:
        if e.relid is not None:
            data_of.setdefault(e.relid, e)
    lock_of: dict[int, tuple[int, ...]] = {}

    def lock(table: int | None) -> tuple[int, ...]:
        if table is None:
            return ()
        found = lock_of.get(table)
        if found is None:
            found = lock_of[table] = (table,)
        return found

    items = [Item(e.id, tuple(e.deps), size=size(e), locks=lock(e.relid),
                  group="data", batchable=size(e) < SMALL_ENTRY,
                  gated=gated and e.copy is not None)
             for e in data]
    # A table's pass-0 post-data items, as the tuple its ANALYZE item keeps (a table has
    # a few: growing a tuple costs less than a list per table plus a tuple copy of it).
    table_items: dict[int, tuple[int, ...]] = {}
    for e in post:
        tables = [t for t in [e.table_oid, *e.ref_table_oids] if t is not None]
        deps = set(e.deps) | {data_of[t].id for t in tables if t in data_of}
        deps.discard(e.id)
        weight = size(data_of[e.table_oid]) if e.table_oid in data_of else 0
        p = restore_pass(e)
        locks = () if e.kind in NO_LOCK_KINDS else (
            lock(tables[0]) if len(tables) == 1 else tuple(sorted(set(tables))))
        items.append(Item(
            e.id, tuple(sorted(deps)), size=weight, locks=locks,
            group="post", batchable=p < 2 and weight < SMALL_ENTRY, restore_pass=p))
        if e.table_oid is not None and p == 0:
            table_items[e.table_oid] = (*table_items.get(e.table_oid, ()), e.id)
    data_ids = {e.id for e in data}
    for e in analyze:
        weight = size(e)
        items.append(Item(
            analyze_id(e), (e.id,) if e.id in data_ids else (),
            after=table_items.get(e.relid, ()) if e.relid is not None else (),
            size=weight, locks=lock(e.relid),
            group="analyze", batchable=weight < SMALL_ENTRY))
    return items
