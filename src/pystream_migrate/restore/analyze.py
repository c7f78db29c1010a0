"""ANALYZE of restored tables: one scheduler item per table, as soon as its data and
indexes are in, several small tables to a statement.

Each table and chunk is analyzed on its own; hypertable roots are not (they have no
data entry): analyzing one samples every chunk in one transaction, which needs a lock
per chunk. An ANALYZE is recorded for ``--resume`` under minus its data entry's id.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from pystream_migrate.copyio import execute_raw
from pystream_migrate.restore import state
from pystream_migrate.restore.context import RestoreContext
from pystream_migrate.toc import TocEntry


def item_id(data_entry: TocEntry) -> int:
    """The scheduler id (and resume record) of a table's ANALYZE."""
    return -data_entry.id


def entry_id(analyze_item_id: int) -> int:
    """The data entry whose table an ANALYZE item (``item_id``) analyzes."""
    return -analyze_item_id


def run(ctx: RestoreContext, conn: psycopg.Connection, tables: list[TocEntry],
        worker: str) -> set[int]:
    """ANALYZE the tables of these data entries in one statement; the item ids that failed.

    The ANALYZE and the tables' resume records go as one query (one round trip), which
    the server runs as one transaction. If it fails, each table is analyzed on its own,
    to name the one at fault.
    """
    names = [sql.Identifier(e.copy.schema, e.copy.table) for e in tables if e.copy is not None]
    label = tables[0].label if len(tables) == 1 else \
        f"{tables[0].label} and {len(tables) - 1} more"
    ctx.progress.start_entry(worker, f"ANALYZE {label}")
    try:
        execute_raw(conn, sql.SQL("ANALYZE {}; {}").format(
            sql.SQL(", ").join(names), state.mark_sql([item_id(e) for e in tables])))
    except psycopg.Error as exc:
        ctx.progress.finish_entry(worker, 0)
        if len(tables) > 1 and not (conn.broken or conn.closed):
            failed: set[int] = set()
            for e in tables:
                failed |= run(ctx, conn, [e], worker)
            return failed
        ctx.fail(tables[0], exc, "ANALYZE", conn, key=item_id(tables[0]))
        return {item_id(tables[0])}
    for _ in tables:
        ctx.progress.finish_entry(worker, 0)
    return set()
