"""Loading data entries: COPY-in of a table's rows (or a SEQUENCE SET), with its resume record.

A batch of entries is one transaction, sent as one script (``copyio.run_in_script``):
one round trip, plus one per COPY; small chunks of one hypertable share one COPY into a
staging table (``staging``). If a batch fails it is rolled back and redone entry by
entry (their bytes can be read again), so that the failure names the entry at fault.
From ``FREEZE_MIN`` bytes up the COPY follows a ``TRUNCATE`` in the same transaction
and loads the rows frozen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import psycopg
from psycopg import sql

from pystream_migrate import timescale
from pystream_migrate.batching import FREEZE_MIN, STAGE_MAX
from pystream_migrate.copyio import ScriptStatement, copy_statement, run_in_script
from pystream_migrate.errors import ArchiveError
from pystream_migrate.restore import staging, state
from pystream_migrate.restore.batch import one_by_one, rollback
from pystream_migrate.restore.context import RestoreContext
from pystream_migrate.toc import TocEntry

# How to get an entry's bytes (again, for a file archive or a complete stream spool).
Source = Callable[[], Iterable[bytes]]


# A data entry to load, how to read its bytes, and its size if known now (a stream's
# entry that is still arriving has none: it cannot be staged).
Loadable = tuple[TocEntry, Source, int | None]
# Statements to run in an entry's transaction before its load (SET LOCAL ...).
Setup = Callable[[TocEntry], Sequence[sql.Composable]]


def load_entries(ctx: RestoreContext, conn: psycopg.Connection, batch: list[Loadable],
                 worker: str, stager: staging.Stager | None = None,
                 setup: Setup | None = None) -> set[int]:
    """Load data entries in one transaction sent as one script; the ids that failed.

    ``BEGIN``, each entry's ``setup`` and ``COPY FROM STDIN`` (small chunks of one shape staged
    together, see :mod:`staging`, with ``stager``), the resume records, ``COMMIT``:
    one round trip plus one per COPY. If it fails, it is rolled back and the entries
    run again one by one (their sources can be read again), so that the failure names
    the entry at fault; a batch of one fails as it is.
    """
    for e, _, _ in batch:
        ctx.progress.start_entry(worker, e.label)
    try:
        script, tail, rows_at = _script(ctx, batch, stager, setup)
        counts = run_in_script(conn, script, tail)
    except (psycopg.Error, ArchiveError) as exc:
        rollback(conn)
        if stager is not None:
            stager.rolled_back(exc)
        if isinstance(exc, ArchiveError):
            raise
        if len(batch) > 1 and not (conn.broken or conn.closed):
            return one_by_one(ctx, [e for e, _, _ in batch], lambda i: load_entries(
                ctx, conn, [batch[i]], worker, setup=setup), worker)
        ctx.progress.finish_entry(worker, 0)
        ctx.fail(batch[0][0], exc, "load", conn)
        return {batch[0][0].id}
    if stager is not None:
        stager.committed()
    rows = [counts[i] if i is not None else 0 for i in rows_at]
    for n in rows:
        ctx.progress.finish_entry(worker, n)
    with ctx.lock:
        ctx.result.rows += sum(rows)
        ctx.result.entries += len(batch)
    return set()


def load_catalog(ctx: RestoreContext, loader: timescale.CatalogLoader,
                 conn: psycopg.Connection, entries: list[Loadable]) -> set[int]:
    """Tables and sequences of an extension's catalog, in this order, on the leader:
    one transaction, or one each if that fails (then their sources are read again)."""
    def setup(e: TocEntry) -> list[sql.Composable]:
        setting = loader.setting(e.schema, e.name)
        return [setting] if setting is not None else []

    return load_entries(ctx, conn, entries, "leader", setup=setup) if entries else set()


def _script(ctx: RestoreContext, batch: list[Loadable], stager: staging.Stager | None,
            setup: Setup | None
            ) -> tuple[list[ScriptStatement], list[sql.Composable], list[int | None]]:
    """The batch's statements, its tail (SQL entries, the resume records, COMMIT), and
    for each entry the index of the statement that counts its rows."""
    out: list[ScriptStatement] = [(sql.SQL("BEGIN"), None)]
    tail: list[sql.Composable] = []
    rows_at: dict[int, int | None] = {}
    groups: dict[staging.Shape, staging.StagedGroup] = {}
    for e, source, size in batch:
        s = staging.shape(e) if stager is not None and stager.enabled and setup is None \
            and size is not None and size < STAGE_MAX else None
        if s is not None and stager is not None:
            group = groups.get(s) or groups.setdefault(s, stager.group(s))
            group.entries.append((e, _reader(ctx, source)))
            continue
        out += [(st, None) for st in (setup(e) if setup is not None else ())]
        if e.copy is not None:
            frozen = freeze(ctx, e)
            if frozen:
                out.append((sql.SQL("TRUNCATE ONLY {}").format(
                    sql.Identifier(e.copy.schema, e.copy.table)), None))
            rows_at[e.id] = len(out)
            out.append((copy_statement(e.copy, to_stdout=False,
                                       binary=e.copy_format == "binary", freeze=frozen),
                        _counted(ctx, source())))
        else:
            rows_at[e.id] = None
            if e.create_sql.strip():  # a SEQUENCE SET: maybe several statements
                tail.append(sql.SQL(e.create_sql.strip().rstrip(";")))  # type: ignore[arg-type]
    for group in groups.values():
        statements, where = staging.statements(group)
        rows_at.update({e.id: None if i is None else len(out) + i
                        for (e, _), i in zip(group.entries, where, strict=True)})
        out += statements
    tail += [state.mark_sql([e.id for e, _, _ in batch]), sql.SQL("COMMIT")]
    return out, tail, [rows_at[e.id] for e, _, _ in batch]


def _reader(ctx: RestoreContext, source: Source) -> Callable[[], bytes]:
    return lambda: b"".join(_counted(ctx, source()))


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
