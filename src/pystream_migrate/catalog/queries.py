"""Load and run the catalog SQL files in ``catalog/sql/`` (one per object family)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from typing import Any

import psycopg
from psycopg.rows import dict_row


@cache
def load_sql(name: str) -> str:
    """The text of ``catalog/sql/<name>.sql``."""
    return (resources.files("pystream_migrate.catalog") / "sql" / f"{name}.sql").read_text(
        encoding="utf-8"
    )


def execute(
    conn: psycopg.Connection, name: str, params: dict[str, Any] | None = None
) -> psycopg.Cursor[dict[str, Any]]:
    """Run ``catalog/sql/<name>.sql``; its rows (as dicts) wait in the returned cursor.

    Queries take named parameters (``%(name)s``); every query gets ``server_version``
    (``server_version_num`` as an int) so that one file can cover PostgreSQL 13 to 17.
    The caller closes the cursor, which frees the result.
    """
    cur = conn.cursor(row_factory=dict_row)
    cur.execute(load_sql(name), query_args(conn, params))  # type: ignore[arg-type]
    return cur


def fetch_all(
    conn: psycopg.Connection, name: str, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Run ``catalog/sql/<name>.sql`` and return its rows as dicts (see :func:`execute`)."""
    with execute(conn, name, params) as cur:
        return cur.fetchall()


def query_args(conn: psycopg.Connection,
               params: dict[str, Any] | None = None) -> dict[str, Any]:
    """A query's parameters: ``params`` and ``server_version``."""
    return {"server_version": conn.info.server_version, **(params or {})}


# Rows per read when a result is streamed: libpq 17+ hands them over in chunks of this
# many (older libpq, one result per row). A chunk of catalog rows is a few hundred kB.
STREAM_ROWS = 1000


def stream(conn: psycopg.Connection, name: str) -> Iterator[dict[str, Any]]:
    """The rows of parameterless ``catalog/sql/<name>.sql``, as they arrive: libpq
    never holds the whole result (pg_depend's is ~1 million rows at 100 000 chunks)."""
    size = STREAM_ROWS if psycopg.pq.version() >= 170000 else 1
    with conn.cursor(row_factory=dict_row) as cur:
        yield from cur.stream(load_sql(name), query_args(conn), size=size)  # type: ignore[arg-type]


def each_row(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """``rows`` (an executed cursor or a :func:`stream`) one at a time; closed at the end,
    which frees a cursor's result."""
    try:
        yield from rows
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()
