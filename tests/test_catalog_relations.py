"""Relations of every kind go through a real dump and restore: materialized views and
foreign tables (which LOCK TABLE refuses) and tables with no columns (which a COPY
column list cannot name)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from tests.migrate_support import assert_same_data, dump, restore, scalar
from tests.schema_support import assert_same_schema

SOURCE_SQL = """
CREATE TABLE public.base (id int PRIMARY KEY, v text);
INSERT INTO public.base SELECT g, 'v' || g FROM generate_series(1, 50) g;
CREATE MATERIALIZED VIEW public.mv AS SELECT id, v FROM public.base WHERE id % 2 = 0;
CREATE FOREIGN DATA WRAPPER dummy_fdw;
CREATE SERVER dummy_srv FOREIGN DATA WRAPPER dummy_fdw;
CREATE FOREIGN TABLE public.ft (a int, b text) SERVER dummy_srv;
CREATE TABLE public.nocols ();
INSERT INTO public.nocols DEFAULT VALUES;
INSERT INTO public.nocols DEFAULT VALUES;
INSERT INTO public.nocols DEFAULT VALUES;
CREATE TABLE public.empty_nocols ();
CREATE TABLE public.only_generated (g int GENERATED ALWAYS AS (7) STORED);
INSERT INTO public.only_generated DEFAULT VALUES;
INSERT INTO public.only_generated DEFAULT VALUES;
"""


@pytest.mark.parametrize("fmt", ["text", "binary"])
def test_matview_foreign_table_and_zero_column_tables(fmt: str, make_db: Callable[..., str],
                                                      tmp_path: Path) -> None:
    """The dump used to stop at LOCK TABLE (matview, foreign table) and at ``COPY t ()``."""
    source_db, target_db = make_db("src"), make_db("tgt")
    with psycopg.connect(source_db, autocommit=True) as conn:
        conn.execute(SOURCE_SQL)  # type: ignore[arg-type]
    archive = tmp_path / "rel.psm"
    dump(source_db, archive, "-j", "2", "--copy-format", fmt)
    restore(target_db, archive, "-j", "2")
    assert_same_data(source_db, target_db)
    assert scalar(target_db, "SELECT count(*) FROM public.nocols") == 3
    assert scalar(target_db, "SELECT count(*) FROM public.only_generated") == 2
    assert scalar(target_db, "SELECT count(*) FROM public.mv") == 25
    assert_same_schema(source_db, target_db)
