"""Load and run the catalog SQL files in ``catalog/sql/`` (one per object family)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from typing import Any, NamedTuple, TypeVar

import psycopg
from psycopg.rows import dict_row, tuple_row

T = TypeVar("T")


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


def _stream_size() -> int:
    return STREAM_ROWS if psycopg.pq.version() >= 170000 else 1


def stream(conn: psycopg.Connection, name: str) -> Iterator[dict[str, Any]]:
    """The rows of parameterless ``catalog/sql/<name>.sql``, as they arrive: libpq
    never holds the whole result (pg_depend's is ~1 million rows at 100 000 chunks)."""
    with conn.cursor(row_factory=dict_row) as cur:
        yield from cur.stream(load_sql(name), query_args(conn),  # type: ignore[arg-type]
                              size=_stream_size())


class Tuples(NamedTuple):
    """A query's rows as tuples, with the names of their columns: for the results of a
    row per chunk that a helper turns into something compact as they arrive, a dict
    per row took more of its time than anything else (0.14 s of 0.6 s on 4000 chunks,
    py-spy). Iterating ``rows`` once, to the end or not, closes the cursor. No row: no
    names either."""

    names: tuple[str, ...]
    rows: Iterator[tuple[Any, ...]]


def stream_tuples(conn: psycopg.Connection, name: str) -> Tuples:
    """:func:`stream`, as :class:`Tuples` (waits for the first rows: the names come
    with them)."""
    cur = conn.cursor(row_factory=tuple_row)
    rows = cur.stream(load_sql(name), query_args(conn),  # type: ignore[arg-type]
                      size=_stream_size())
    return _named(cur, rows)


TupleCursor = psycopg.Cursor[tuple[Any, ...]]


def execute_tuples(conn: psycopg.Connection, name: str) -> TupleCursor:
    """Run parameterless ``name``, its rows as tuples (:func:`tuples_of` reads them)."""
    cur = conn.cursor(row_factory=tuple_row)
    cur.execute(load_sql(name), query_args(conn))  # type: ignore[arg-type]
    return cur


def tuples_of(cur: TupleCursor) -> Tuples:
    """An executed cursor's rows as :class:`Tuples` (in pipeline mode too: the first
    row waits for the result)."""
    return _named(cur, iter(cur))


def _named(cur: TupleCursor, rows: Iterator[tuple[Any, ...]]) -> Tuples:
    try:
        first = next(rows, None)
    except BaseException:
        _close(cur, rows)
        raise
    if first is None:  # no row (and from a stream, no description either)
        _close(cur, rows)
        return Tuples((), iter(()))
    names = tuple(column.name for column in cur.description or ())
    return Tuples(names, _closing(cur, rows, first))


def _closing(cur: TupleCursor, rows: Iterator[tuple[Any, ...]],
             first: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    try:
        yield first
        yield from rows
    finally:
        _close(cur, rows)


def _close(cur: TupleCursor, rows: Iterator[tuple[Any, ...]]) -> None:
    close = getattr(rows, "close", None)  # a stream's generator: ends the stream
    if close is not None:
        close()
    cur.close()


def each_row(rows: Iterable[T]) -> Iterator[T]:
    """``rows`` (an executed cursor, a :func:`stream`, :class:`Tuples`' rows) one at a
    time; closed at the end, which frees a cursor's result."""
    try:
        yield from rows
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()
