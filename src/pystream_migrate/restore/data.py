"""Loading data entries: COPY-in of a table's rows (or a SEQUENCE SET), with its resume record.

Each data entry is one transaction, or several small ones share one (their bytes can be
read again, to redo the batch entry by entry if it fails). From ``FREEZE_MIN`` bytes up
the COPY follows a ``TRUNCATE`` in the same transaction and loads the rows frozen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import psycopg

from pystream_migrate import timescale
from pystream_migrate.batching import FREEZE_MIN
from pystream_migrate.copyio import copy_in
from pystream_migrate.restore.batch import Work, run_in_transaction
from pystream_migrate.restore.context import RestoreContext
from pystream_migrate.toc import TocEntry

# How to get an entry's bytes (again, for a file archive or a complete stream spool).
Source = Callable[[], Iterable[bytes]]


def load_entry(ctx: RestoreContext, conn: psycopg.Connection, e: TocEntry,
               chunks: Iterable[bytes], worker: str = "leader") -> set[int]:
    """Load one data entry in one transaction; {its id} if it failed."""
    return run_in_transaction(ctx, conn, [(e, lambda: _apply(ctx, conn, e, chunks))],
                              "load", worker)


def load_catalog_entry(ctx: RestoreContext, loader: timescale.CatalogLoader,
                       conn: psycopg.Connection, e: TocEntry,
                       chunks: Iterable[bytes]) -> set[int]:
    """One table or sequence of an extension's catalog, on the leader."""
    with loader.table(e.schema, e.name):
        return load_entry(ctx, conn, e, chunks)


def load_entries(ctx: RestoreContext, conn: psycopg.Connection,
                 batch: list[tuple[TocEntry, Source]], worker: str) -> set[int]:
    """Load data entries in one transaction (their sources can be read again if it fails)."""
    def work(e: TocEntry, source: Source) -> Work:
        return lambda: _apply(ctx, conn, e, source())

    return run_in_transaction(ctx, conn, [(e, work(e, source)) for e, source in batch],
                              "load", worker)


def _apply(ctx: RestoreContext, conn: psycopg.Connection, e: TocEntry,
           chunks: Iterable[bytes]) -> int:
    if e.copy is not None:
        return copy_in(conn, e.copy, _counted(ctx, chunks),
                       binary=e.copy_format == "binary", freeze=freeze(ctx, e))
    if e.create_sql.strip():
        conn.execute(e.create_sql)  # type: ignore[arg-type]
    return 0


def freeze(ctx: RestoreContext, e: TocEntry) -> bool:
    """Whether to load with TRUNCATE + COPY FREEZE (see FREEZE_MIN).

    Not for TimescaleDB's catalog (CREATE EXTENSION put rows there), and not with
    --data-only, where the tables and any rows in them are the user's.
    """
    if e.extconfig or e.info.get("no_freeze") or ctx.opts.data_only:
        return False
    return ctx.size(e) >= FREEZE_MIN


def _counted(ctx: RestoreContext, chunks: Iterable[bytes]) -> Iterator[bytes]:
    for data in chunks:
        ctx.progress.advance(len(data))
        yield data
