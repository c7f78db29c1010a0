"""Chunk names on the target: the source's, and the ones the target makes later.

A portable restore creates every chunk with the source's name (``_hyper_<hypertable
id>_<chunk id>_chunk``) under the target's own ids. A chunk the target makes by itself
later (a new row, a refresh, compression) is named from the target's ids, and would
collide with a carried name whenever the target's hypertable id and next chunk id spell
one ("relation ... already exists" on the first insert). So before any hypertable is
created, the target's hypertable ids are moved past every hypertable id in a carried
chunk name: then no name the target makes can be one of them.

A superuser sets the sequence; a database owner may not, so its ids are spent the way
TimescaleDB spends them, with ``create_hypertable`` in transactions that are rolled
back (a sequence does not roll back).
"""

from __future__ import annotations

import re

import psycopg
from psycopg import sql

from pystream_migrate.portable._target import Target
from pystream_migrate.portable._toc import CHUNK
from pystream_migrate.toc import TocEntry

_CHUNK_NAME = re.compile(r"^_hyper_(\d+)_\d+_chunk$")
_SEQ = "_timescaledb_catalog.hypertable_id_seq"
_SCRATCH = "_pystream_migrate_ids"
_PER_TRANSACTION = 50  # each create_hypertable holds locks until the rollback


def carried_hypertable_id(entries: list[TocEntry]) -> int:
    """The highest hypertable id in a carried chunk name (0 if none)."""
    ids = [int(m.group(1)) for e in entries if e.kind == CHUNK
           if (m := _CHUNK_NAME.match(e.name))]
    return max(ids, default=0)


def clear_chunk_names(conn: psycopg.Connection, entries: list[TocEntry],
                      target: Target) -> None:
    """Move the target's next hypertable id past every id in a carried chunk name."""
    if target.create_chunk is None:
        return  # Apache edition: the target names every chunk itself
    highest = carried_hypertable_id(entries)
    row = conn.execute(sql.SQL("SELECT last_value + is_called::int FROM {}").format(
        sql.SQL(_SEQ))).fetchone()
    spend = highest + 1 - int(row[0]) if row else 0  # ids the next one must pass
    if spend <= 0:
        return
    if target.superuser:
        conn.execute("SELECT pg_catalog.setval(%s, %s)", (_SEQ, highest))
        return
    while spend > 0:
        n = min(spend, _PER_TRANSACTION)
        with conn.transaction(force_rollback=True):
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(_SCRATCH)))
            for i in range(n):
                table = sql.Identifier(_SCRATCH, f"t{i}")
                conn.execute(sql.SQL("CREATE TABLE {} (t integer NOT NULL)").format(table))
                conn.execute(sql.SQL("SELECT {}({}::regclass, 't', "
                                     "chunk_time_interval => 10)").format(
                    target.fn("create_hypertable"), sql.Literal(table.as_string(None))))
        spend -= n
