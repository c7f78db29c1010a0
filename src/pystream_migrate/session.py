"""Session settings for the connections that read a source and write a target.

Reading: every name comes out schema-qualified (empty search_path), dates and
intervals in a portable form, floats exact, no row security, no timeouts and (as in
pg_dump) no JIT compilation, all inside one REPEATABLE READ READ ONLY transaction whose snapshot
workers share.
"""

from __future__ import annotations

import psycopg
from psycopg import pq, sql

from pystream_migrate.copyio import execute_raw

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
    # As pg_dump does: the catalog queries' cost estimates (correlated subqueries per
    # row) pass jit_above_cost, and compiling them took longer than running them:
    # constraints.sql 2.6-3.7 s with JIT, 0.35-0.7 s without, on 4000 chunks.
    "jit": "off",
}

WRITE_SETTINGS = {
    **{k: v for k, v in READ_SETTINGS.items() if k != "jit"},  # pg_restore keeps JIT
    "check_function_bodies": "false",
    "client_min_messages": "warning",
    "standard_conforming_strings": "on",
}


def _settings(settings: dict[str, str]) -> sql.Composed:
    return sql.SQL("SELECT {}").format(sql.SQL(", ").join(
        sql.SQL("pg_catalog.set_config({}, {}, false)").format(
            sql.Literal(name), sql.Literal(value))
        for name, value in settings.items()))


def _apply(conn: psycopg.Connection, settings: dict[str, str]) -> None:
    """All settings in one round trip (it counts against a distant server)."""
    conn.execute(_settings(settings))


def configure_reader(conn: psycopg.Connection, extra: dict[str, str] | None = None) -> None:
    """Settings for a source connection (autocommit must be off for the snapshot).

    ``extra`` adds or overrides settings (export reads time values in UTC, for one).
    One round trip: the statement goes straight through libpq, outside a transaction,
    so it commits by itself (psycopg would wrap it in BEGIN ... COMMIT: three).
    """
    assert conn.pgconn.transaction_status == pq.TransactionStatus.IDLE
    execute_raw(conn, _settings({**READ_SETTINGS, **(extra or {})}))


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
    """Start the REPEATABLE READ READ ONLY transaction; export or import its snapshot.

    One round trip: BEGIN and the export (or the import) go as one query, straight
    through libpq (psycopg would send a BEGIN of its own first).
    """
    begin = sql.SQL("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    if snapshot is None:
        result = execute_raw(conn, sql.SQL("{}; SELECT pg_catalog.pg_export_snapshot()").format(
            begin))
        value = result.get_value(0, 0) if result is not None else None
        assert value is not None
        return bytes(value).decode()
    execute_raw(conn, sql.SQL("{}; SET TRANSACTION SNAPSHOT {}").format(
        begin, sql.Literal(snapshot)))
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
