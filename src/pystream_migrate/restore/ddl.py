"""Running SQL entries (pre-data DDL, indexes, constraints, ...) with owners, grants, comments.

Pre-data runs on the leader in TOC order, many entries per transaction. Post-data items
run on the workers, several small ones sent as one script (one round trip).
"""

from __future__ import annotations

import functools
import sys

import psycopg
from psycopg import sql

from pystream_migrate.batching import DDL_BATCH
from pystream_migrate.copyio import execute_raw
from pystream_migrate.restore import state
from pystream_migrate.restore.batch import rollback, run_one_by_one
from pystream_migrate.restore.context import RestoreContext
from pystream_migrate.toc import TocEntry


def entry_sql(ctx: RestoreContext, e: TocEntry) -> str:
    """An entry's statements as the options ask: tablespace, owner, grants, comment."""
    o = ctx.opts
    parts = []
    if e.tablespace and not o.no_tablespaces:
        parts.append(
            sql.SQL("SET default_tablespace = {};").format(sql.Identifier(e.tablespace))
            .as_string(None)
        )
    parts.append(e.create_sql)
    if e.tablespace and not o.no_tablespaces:
        parts.append("SET default_tablespace = '';")
    if not o.no_owner:
        parts.append(e.owner_sql)
    if not o.no_privileges:
        parts.append(e.acl_sql)
    if e.kind != "EXTENSION":  # see extension_comments
        parts.append(e.comment_sql)
    return "\n".join(p for p in parts if p and p.strip())


def extension_comments(ctx: RestoreContext, conn: psycopg.Connection,
                       entries: list[TocEntry]) -> None:
    """COMMENT ON EXTENSION only where it changes something, and never fatally.

    The target usually has the extension with the very same comment already; only the
    extension's owner may comment on it, which on a cloud service is not us.
    """
    for e in entries:
        if e.kind != "EXTENSION" or not e.comment_sql.strip():
            continue
        with conn.transaction():
            row = conn.execute(
                "SELECT pg_catalog.obj_description(oid, 'pg_extension') "
                "FROM pg_catalog.pg_extension WHERE extname = %s", (e.name,)
            ).fetchone()
        wanted = e.info.get("comment")
        if row is not None and wanted is not None and row[0] == wanted:
            continue
        try:
            with conn.transaction():
                conn.execute(e.comment_sql)  # type: ignore[arg-type]
        except psycopg.errors.InsufficientPrivilege:
            print(f"pystream-migrate: warning: the comment on extension {e.name} was "
                  "not restored: only the extension's owner may set it",
                  file=sys.stderr)


def run_in_order(ctx: RestoreContext, conn: psycopg.Connection,
                 entries: list[TocEntry]) -> None:
    """Run DDL entries in order on one connection, many per transaction.

    An entry that needs a failed (or skipped) one is skipped and recorded.
    """
    for i in range(0, len(entries), DDL_BATCH):
        batch = []
        for e in entries[i : i + DDL_BATCH]:
            cause = ctx.blocked_by(e)
            if cause is None:
                batch.append(e)
            else:
                ctx.skip(e, cause)
        if batch:
            run_sql_entries(ctx, conn, batch, "leader")


def run_sql_entries(ctx: RestoreContext, conn: psycopg.Connection, batch: list[TocEntry],
                    worker: str) -> set[int]:
    """SQL entries in one transaction; the ids that failed (or were skipped).

    Sent as one script first (one round trip); if that fails, entry by entry, so that
    the error names the entry at fault.
    """
    work = [(e, functools.partial(_apply, ctx, conn, e)) for e in batch]
    more = f" and {len(batch) - 1} more" if len(batch) > 1 else ""
    ctx.progress.start_entry(worker, f"{batch[0].label}{more}")
    if _run_script(ctx, conn, batch):
        for _ in batch:
            ctx.progress.finish_entry(worker, 0)
        with ctx.lock:
            ctx.result.entries += len(batch)
        return set()
    return run_one_by_one(ctx, conn, work, "creation", worker)


def _run_script(ctx: RestoreContext, conn: psycopg.Connection, batch: list[TocEntry]) -> bool:
    """Run the entries' SQL and their resume record as one script in one transaction,
    ``BEGIN`` and ``COMMIT`` included: one round trip.

    False if it failed: nothing of it stays, and the caller runs the entries one by one
    to name the one at fault (or to report the lost connection).
    """
    script = "\n".join(["BEGIN;", *(entry_sql(ctx, e) for e in batch),
                        state.mark_sql([e.id for e in batch]).as_string(conn) + ";", "COMMIT"])
    try:
        execute_raw(conn, sql.SQL(script))  # type: ignore[arg-type]
    except psycopg.Error:
        rollback(conn)
        return False
    return True


def _apply(ctx: RestoreContext, conn: psycopg.Connection, e: TocEntry) -> int:
    stmt = entry_sql(ctx, e)
    if stmt.strip():
        conn.execute(stmt)  # type: ignore[arg-type]
    return 0
