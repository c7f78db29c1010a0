"""The catalog's rows read twice from one result (tables.py's two passes) and the
compact column rows: every row each time, on the pipelined and the plain path."""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from pystream_migrate.catalog import CatalogContext
from pystream_migrate.catalog.dependencies import Dependencies, dependency_rows
from pystream_migrate.catalog.prefetch import Prefetch
from pystream_migrate.catalog.queries import execute
from pystream_migrate.catalog.tables import _compact_column


def _names_twice(ctx: CatalogContext, query: str) -> tuple[list[str], list[str]]:
    with ctx.query_twice(query) as rows:
        first = [r["name"] for r in rows]
        second = [r["name"] for r in rows]
    return first, second


def test_query_twice_reads_every_row_each_time(make_db: Callable[..., str]) -> None:
    dsn = make_db()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE p (a int); CREATE TABLE c1 () INHERITS (p);"
                     " CREATE TABLE c2 (b text) INHERITS (p)")
    with psycopg.connect(dsn) as conn:
        assert _names_twice(CatalogContext(conn), "tables") == (["c1", "c2", "p"],) * 2
        with conn.pipeline():  # as read_catalog: the query was sent ahead, pipelined
            ctx = CatalogContext(conn, prefetch=Prefetch([], leader=conn))
            try:
                assert _names_twice(ctx, "tables") == (["c1", "c2", "p"],) * 2
                # No row at all: both readings are empty, neither raises.
                assert _names_twice(ctx, "constraints") == ([], [])
            finally:
                assert ctx.prefetch is not None
                ctx.prefetch.close()


def test_compact_column_reads_none_for_what_it_leaves_out() -> None:
    col = _compact_column({"name": "a", "type": "integer", "comment": None, "attnum": 1})
    assert "comment" not in col
    assert col["comment"] is None and col.get("comment") is None
    assert (col["name"], col["type"], col["attnum"]) == ("a", "integer", 1)


def test_dependencies_arrays_give_the_rows_of_the_result(make_db: Callable[..., str]) -> None:
    dsn = make_db()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE p (a serial PRIMARY KEY); CREATE VIEW v AS SELECT a FROM p")
    with psycopg.connect(dsn) as conn:
        rows = list(dependency_rows(execute(conn, "depend")))
        compact = Dependencies(execute(conn, "depend"))
    assert len(compact) == len(rows) > 0
    assert list(compact) == rows
    assert any(r[0] == "pg_rewrite" and r[2] == "pg_class" for r in compact)  # the view
