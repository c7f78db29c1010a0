"""Session settings for the connections that read a source and write a target.

Reading: every name comes out schema-qualified (empty search_path), dates and
intervals in a portable form, floats exact, no row security and no timeouts, all
inside one REPEATABLE READ READ ONLY transaction whose snapshot workers share.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

READ_SETTINGS = {
    "search_path": "",
    "DateStyle": "ISO",
    "IntervalStyle": "postgres",
    "extra_float_digits": "3",
    "row_security": "off",
    "statement_timeout": "0",
    "lock_timeout": "0",
    "idle_in_transaction_session_timeout": "0",
    "client_encoding": "UTF8",
}

WRITE_SETTINGS = {
    **READ_SETTINGS,
    "check_function_bodies": "false",
    "client_min_messages": "warning",
    "standard_conforming_strings": "on",
}


def _apply(conn: psycopg.Connection, settings: dict[str, str]) -> None:
    """All settings in one round trip (it counts against a distant server)."""
    conn.execute(sql.SQL("SELECT {}").format(sql.SQL(", ").join(
        sql.SQL("pg_catalog.set_config({}, {}, false)").format(
            sql.Literal(name), sql.Literal(value))
        for name, value in settings.items())))


def configure_reader(conn: psycopg.Connection, extra: dict[str, str] | None = None) -> None:
    """Settings for a source connection (autocommit must be off for the snapshot).

    ``extra`` adds or overrides settings (export reads time values in UTC, for one).
    """
    _apply(conn, {**READ_SETTINGS, **(extra or {})})
    conn.commit()


def configure_writer(conn: psycopg.Connection, *, durable_commits: bool = True) -> None:
    """Settings for a target connection.

    ``durable_commits=False`` (restore workers) lets a commit return before its WAL is
    flushed: a restore commits hundreds of batches, and each flush is a disk sync (and,
    with a synchronous standby, a network round trip). A crash can then lose the last
    batches, but each batch carries its own resume record, so data and record go
    together and ``--resume`` redoes them. The leader's own commits stay durable, and
    its last one flushes the workers' commits too (the WAL is one sequence).
    """
    settings = WRITE_SETTINGS if durable_commits else {**WRITE_SETTINGS,
                                                       "synchronous_commit": "off"}
    _apply(conn, settings)
    if not conn.autocommit:
        conn.commit()


def begin_snapshot(conn: psycopg.Connection, snapshot: str | None = None) -> str:
    """Start the REPEATABLE READ READ ONLY transaction; export or import its snapshot."""
    begin = sql.SQL("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    if snapshot is None:
        conn.execute(begin)
        row = conn.execute("SELECT pg_catalog.pg_export_snapshot()").fetchone()
        assert row is not None
        return str(row[0])
    # One round trip: both statements go as one query.
    conn.execute(sql.SQL("{}; SET TRANSACTION SNAPSHOT {}").format(begin, sql.Literal(snapshot)))
    return snapshot


def begin_and_lock(conn: psycopg.Connection, snapshot: str,
                   relations: list[tuple[str, str]]) -> bool:
    """Import ``snapshot`` and lock the relations (ONLY, ACCESS SHARE) for the transaction.

    False, with the transaction rolled back, when one of them no longer exists (a chunk
    dropped after the snapshot was taken: nothing stops drop_chunks in the meantime).
    """
    begin_snapshot(conn, snapshot)
    names = [sql.SQL("ONLY {}").format(sql.Identifier(schema, name))
             for schema, name in relations]
    try:
        conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(
            sql.SQL(", ").join(names)))
    except psycopg.errors.UndefinedTable:
        conn.rollback()
        return False
    return True
