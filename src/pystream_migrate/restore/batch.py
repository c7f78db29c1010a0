"""One transaction of entries with their resume records, redone one by one if it fails.

Several small entries share a transaction (fewer commits and round trips); when that
transaction fails, each entry runs again on its own, so that the failure names the entry
at fault and the others are restored. Each entry's resume record commits with its work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import psycopg
from psycopg import sql

from pystream_migrate.copyio import execute_raw
from pystream_migrate.errors import ArchiveError
from pystream_migrate.restore import state
from pystream_migrate.restore.context import RestoreContext
from pystream_migrate.toc import TocEntry

# An entry's work in the caller's transaction; returns the rows it loaded.
Work = Callable[[], int]


def run_in_transaction(ctx: RestoreContext, conn: psycopg.Connection,
                       batch: Sequence[tuple[TocEntry, Work]], what: str,
                       worker: str) -> set[int]:
    """Run the entries in one transaction with their resume records; the ids that failed.

    A failure is recorded (:meth:`RestoreContext.fail`, which raises with
    --exit-on-error or on a lost connection). A broken archive stream is not an entry's
    failure: it is raised.
    """
    done: list[tuple[TocEntry, int]] = []
    current = batch[0][0]
    try:
        with conn.transaction():
            for e, work in batch:
                current = e
                ctx.progress.start_entry(worker, e.label)
                done.append((e, work()))
            conn.execute(state.mark_sql([e.id for e, _ in batch]))
    except (psycopg.Error, ArchiveError) as exc:
        if isinstance(exc, ArchiveError):
            raise
        if len(batch) > 1 and not (conn.broken or conn.closed):
            return run_one_by_one(ctx, conn, batch, what, worker)
        ctx.progress.finish_entry(worker, 0)
        ctx.fail(current, exc, what, conn)
        return {current.id}
    for _entry, rows in done:
        ctx.progress.finish_entry(worker, rows)
    with ctx.lock:
        ctx.result.rows += sum(rows for _, rows in done)
        ctx.result.entries += len(done)
    return set()


def run_one_by_one(ctx: RestoreContext, conn: psycopg.Connection,
                   batch: Sequence[tuple[TocEntry, Work]], what: str, worker: str) -> set[int]:
    """Each entry in a transaction of its own; one that needs a failed one is skipped."""
    return one_by_one(ctx, [e for e, _ in batch],
                      lambda i: run_in_transaction(ctx, conn, [batch[i]], what, worker), worker)


def one_by_one(ctx: RestoreContext, entries: Sequence[TocEntry],
               run: Callable[[int], set[int]], worker: str) -> set[int]:
    """``run(i)`` for each entry (i: its index), after a failed batch; the ids that failed.

    An entry that needs a failed one is skipped (and recorded) instead.
    """
    failed: set[int] = set()
    for i, e in enumerate(entries):
        cause = ctx.blocked_by(e)
        if cause is not None:
            ctx.skip(e, cause)
            ctx.progress.finish_entry(worker, 0)
            failed.add(e.id)
            continue
        failed |= run(i)
    return failed


def rollback(conn: psycopg.Connection) -> None:
    """End a failed script's transaction, if it began one and the connection still works."""
    if not (conn.broken or conn.closed) and \
            conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        execute_raw(conn, sql.SQL("ROLLBACK"))
