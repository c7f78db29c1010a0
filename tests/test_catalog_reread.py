"""The catalog's rows read twice from their file (tables.py's two passes) and the
compact column rows: every row each time, on the pipelined and the plain path."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from pystream_migrate.catalog import CatalogContext, read_catalog
from pystream_migrate.catalog.dependencies import Dependencies
from pystream_migrate.catalog.prefetch import LEADER_FIRST, LEADER_QUERIES, Prefetch
from pystream_migrate.catalog.queries import (
    Tuples,
    execute_tuples,
    fetch_all,
    load_sql,
    stream_tuples,
    tuples_of,
)
from pystream_migrate.catalog.spill import SPILL_BATCH, SpilledRows
from pystream_migrate.catalog.tables import _compact_column, _merge_extras, columns_by_table
from pystream_migrate.errors import MigrateError
from pystream_migrate.sqlspool import SqlSpool


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
                assert _names_twice(ctx, "indexes") == ([], [])
            finally:
                assert ctx.prefetch is not None
                ctx.prefetch.close()


def test_compact_column_reads_none_for_what_it_leaves_out() -> None:
    col = _compact_column(("name", "type", "comment", "attnum"), ("a", "integer", None, 1))
    assert "comment" not in col
    assert col["comment"] is None and col.get("comment") is None
    assert (col["name"], col["type"], col["attnum"]) == ("a", "integer", 1)


def test_alike_columns_are_one_object_and_extras_do_not_leak() -> None:
    """Every chunk's column of a hypertable is one object; an identity or compression
    setting merged into one table's column must not reach the others."""
    names = ("name", "relid", "type", "options", "comment")
    opts = ["n_distinct=1"]
    rows = [("a", 1, "integer", opts, None), ("a", 2, "integer", list(opts), None),
            ("a", 3, "bigint", opts, None), ("b", 3, "text", None, None),
            ("b", 4, "text", None, None)]
    columns = columns_by_table(Tuples(names, iter(rows)))
    first, second, other = columns[1][0], columns[2][0], columns[3][0]
    assert first is second and other is not first and columns[3][1] is columns[4][0]
    assert dict(first) == {"name": "a", "type": "integer", "options": ["n_distinct=1"]}
    _merge_extras(columns, [{"relid": 1, "column_name": "a", "compression": "l"}])
    assert columns[1][0]["compression"] == "l"
    assert columns[2][0]["compression"] is None and first["compression"] is None


def test_dependencies_arrays_give_the_rows_of_the_result(make_db: Callable[..., str]) -> None:
    dsn = make_db()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE p (a serial PRIMARY KEY); CREATE VIEW v AS SELECT a FROM p")
    with psycopg.connect(dsn) as conn:
        # pg_depend's rows one by one, as depend.sql packs them.
        rows = conn.execute(
            "SELECT classid::regclass::text, objid::bigint, refclassid::regclass::text, "
            "refobjid::bigint FROM pg_depend WHERE deptype NOT IN ('p', 'e', 'x') "
            "AND classid <> 0 AND refclassid <> 0").fetchall()
        compact = Dependencies(tuples_of(execute_tuples(conn, "depend")))
        packed = conn.execute("SELECT count(*) FROM (" + load_sql("depend") + ") d",
                              {"server_version": conn.info.server_version}).fetchone()
    assert len(compact) == len(rows) > 0
    assert sorted(compact) == sorted(rows)
    assert packed is not None and 1 < packed[0] < len(rows)  # packed in a few rows
    assert any(r[0] == "pg_rewrite" and r[2] == "pg_class" for r in compact)  # the view


def test_streamed_on_a_helper_the_compact_results_match_the_leaders(
        make_db: Callable[..., str]) -> None:
    """A helper streams pg_depend's and the columns' rows into their compact forms; the
    leader alone (pipelined) converts its executed cursors: the two must agree, and the
    whole catalog read through helpers must equal the one without."""
    dsn = make_db(timescaledb=True)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE m (t bigint NOT NULL, v int GENERATED ALWAYS AS IDENTITY, w text);"
            "SELECT create_hypertable('m', 't', chunk_time_interval => 10);"
            "INSERT INTO m (t, w) SELECT g, 'x' FROM generate_series(1, 50) g;"
            "CREATE TABLE other (a int PRIMARY KEY, b text DEFAULT 'b');"
            "CREATE VIEW v AS SELECT t, w FROM m")
    docs = []
    compact = []
    for helpers in (0, 2):
        extra = [psycopg.connect(dsn) for _ in range(helpers)]
        with psycopg.connect(dsn) as conn:
            snapshot = conn.execute("SELECT pg_catalog.pg_export_snapshot()").fetchone()
            for h in extra:
                h.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                h.execute(f"SET TRANSACTION SNAPSHOT '{snapshot[0] if snapshot else ''}'")
            with conn.pipeline():
                ctx = CatalogContext(conn, prefetch=Prefetch(extra, leader=conn))
                try:
                    deps = list(ctx.dependencies())
                    columns = dict(ctx.compact("tables_columns"))
                finally:
                    assert ctx.prefetch is not None
                    ctx.prefetch.close()
            compact.append((deps, columns))
            docs.append([e.to_json() for e in read_catalog(conn, extra).entries])
        for h in extra:
            h.close()
    assert compact[0] == compact[1] and len(compact[0][0]) > 100
    columns = compact[1][1]
    chunk_columns = [cols for cols in columns.values() if cols[0]["inhcount"] == 1]
    assert len(chunk_columns) == 6  # one per chunk (t: 1..50), one object per column
    assert all(cols[0] is chunk_columns[0][0] for cols in chunk_columns)
    assert docs[0] == docs[1]


@pytest.mark.parametrize("hold", [0, SPILL_BATCH, 10 * SPILL_BATCH])
def test_spilled_rows_come_back_whole_in_order_each_time(hold: int) -> None:
    """Rows over several batches, values of every kind the catalog returns; an empty
    result; the file is gone once closed. Rows beyond ``hold`` are all in the file
    (those held before too); up to it, none."""
    count = 2 * SPILL_BATCH + 7
    rows = [{"oid": i, "name": f"t{i}", "parents": [i - 1] if i else [], "comment": None,
             "valid": i % 2 == 0, "reltuples": i / 3} for i in range(count)]
    keys = tuple(rows[0])
    with SpilledRows(Tuples(keys, iter([tuple(r.values()) for r in rows])),
                     hold=hold) as spilled:
        assert spilled.spilled == (count > hold)
        assert len(spilled) == count
        assert list(spilled) == rows
        assert [r["oid"] for r in spilled] == list(range(count))  # again, from the first
        assert list(spilled.columns("name", "oid")) == [(r["name"], r["oid"]) for r in rows]
        fh = spilled._file
        assert spilled._held == [] if count > hold else fh is None
    assert fh is None or fh.closed
    with SpilledRows(Tuples((), iter([])), hold=hold) as empty:
        assert list(empty) == [] and list(empty) == [] and len(empty) == 0
        assert list(empty.columns("oid")) == []


def test_a_temporary_directory_that_cannot_hold_the_rows_is_one_line_naming_tmpdir(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "gone"
    monkeypatch.setattr(tempfile, "tempdir", str(missing))
    with pytest.raises(MigrateError) as caught:
        SpilledRows(Tuples(("oid",), iter([(1,)])), hold=0)
    assert str(missing) in str(caught.value) and "TMPDIR" in (caught.value.hint or "")
    with pytest.raises(MigrateError) as caught:
        sql = SqlSpool(hold=0)  # to the file at once: its first read opens it
        sql.get_all(sql.put(("CREATE TABLE t ()", "", "", "", "")))
    assert str(missing) in str(caught.value) and "TMPDIR" in (caught.value.hint or "")


def test_the_leader_sends_its_later_queries_once_the_first_have_answered(
        make_db: Callable[..., str]) -> None:
    """psycopg hands over no pipelined result before every query sent has answered: the
    leader sends the first families' queries alone, the others after the first take."""
    dsn = make_db()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (a int); CREATE VIEW v AS SELECT a FROM t")
    with psycopg.connect(dsn) as conn:
        views = fetch_all(conn, "views")
        with conn.pipeline() as pipeline:
            prefetch = Prefetch([], leader=conn, pipeline=pipeline)
            try:
                assert set(prefetch._sent) == set(LEADER_QUERIES[:LEADER_FIRST])
                assert "views" in prefetch._later and "depend" in prefetch._later
                assert prefetch.take("schemas")  # public, at least
                assert "views" in prefetch._sent and not prefetch._later
                assert prefetch.take("views") == views and len(views) == 1
                assert len(prefetch.take_compact("depend")) > 0
            finally:
                prefetch.close()


def test_streamed_results_without_rows_give_empty_compact_forms(
        make_db: Callable[..., str]) -> None:
    """A stream with no row has no column names either (psycopg sets no description):
    each compact form is empty, and the connection is ready for the next query."""
    with psycopg.connect(make_db()) as conn:
        for name in ("indexes", "tables_columns"):
            rows = stream_tuples(conn, name)
            assert rows.names == () and list(rows.rows) == []
        assert columns_by_table(stream_tuples(conn, "tables_columns")) == {}
        with SpilledRows(stream_tuples(conn, "indexes")) as spilled:
            assert list(spilled) == [] and len(spilled) == 0
        assert len(Dependencies(Tuples((), iter(())))) == 0
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_queries_read_ahead_come_back_from_a_helper_only(
        make_db: Callable[..., str]) -> None:
    """read_catalog's ``ahead`` queries run on a helper once it is free; without one
    they are left to the caller (never sent in the leader's pipeline)."""
    dsn = make_db()
    with psycopg.connect(dsn) as conn, psycopg.connect(dsn) as helper:
        snapshot = conn.execute("SELECT pg_catalog.pg_export_snapshot()").fetchone()
        helper.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        helper.execute(f"SET TRANSACTION SNAPSHOT '{snapshot[0] if snapshot else ''}'")
        read = read_catalog(conn, [helper], ahead=("schemas", "collations"))
        assert set(read.ahead) == {"schemas", "collations"}
        assert read.ahead["schemas"] == fetch_all(conn, "schemas")
        assert read_catalog(conn, [], ahead=("schemas",)).ahead == {}
