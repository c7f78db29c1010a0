"""copyio: the one COPY statement builder, and both directions, zero-column tables too."""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from pystream_migrate.copyio import copy_in, copy_out_many, copy_statement
from pystream_migrate.toc import CopySpec


def text(stmt: psycopg.sql.Composed) -> str:
    return stmt.as_string(None)


def test_the_table_form_lists_the_columns() -> None:
    spec = CopySpec("s", "t", ["a", "B"])
    assert text(copy_statement(spec, to_stdout=True)) == 'COPY "s"."t" ("a", "B") TO STDOUT'
    assert text(copy_statement(spec, to_stdout=False, binary=True, freeze=True)) == \
        'COPY "s"."t" ("a", "B") FROM STDIN (FORMAT binary, FREEZE)'


def test_a_table_with_no_columns_gets_no_column_list() -> None:
    spec = CopySpec("s", "t", [])
    assert text(copy_statement(spec, to_stdout=True)) == 'COPY "s"."t" TO STDOUT'
    assert text(copy_statement(spec, to_stdout=False, binary=True)) == \
        'COPY "s"."t" FROM STDIN (FORMAT binary)'


def test_a_row_filter_takes_the_query_form() -> None:
    spec = CopySpec("s", "t", ["a"], "a > 1")
    assert text(copy_statement(spec, to_stdout=True)) == \
        'COPY (SELECT "a" FROM ONLY "s"."t" WHERE a > 1) TO STDOUT'


def _round_trip(make_db: Callable[..., str], binary: bool) -> tuple[int, int]:
    source, target = make_db("src"), make_db("tgt")
    for dsn in (source, target):
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE public.nothing ()")
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("INSERT INTO public.nothing SELECT FROM generate_series(1, 5)")
    spec = CopySpec("public", "nothing", [])
    out: list[bytes] = []
    counted: list[int] = []
    with psycopg.connect(source) as conn:
        copy_out_many(conn, [copy_statement(spec, to_stdout=True, binary=binary)],
                      lambda _i: out.append, lambda _i, rows: counted.append(rows))
    with psycopg.connect(target) as conn:
        loaded = copy_in(conn, spec, out, binary=binary, freeze=True)
        conn.commit()
        (rows,) = conn.execute("SELECT count(*) FROM public.nothing").fetchone() or (0,)
    assert counted == [5] and loaded == 5
    return loaded, int(rows)


def test_zero_column_rows_survive_a_text_copy_out_and_in(make_db) -> None:  # type: ignore[no-untyped-def]
    assert _round_trip(make_db, binary=False) == (5, 5)


def test_zero_column_rows_survive_a_binary_copy_out_and_in(make_db) -> None:  # type: ignore[no-untyped-def]
    assert _round_trip(make_db, binary=True) == (5, 5)
