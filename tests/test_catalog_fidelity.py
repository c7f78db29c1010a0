"""Object kinds and details that PostgreSQL's regression database showed lost or
misordered (tests/test_regress_roundtrip.py finds them; each has its focused test here):
read the catalog, apply it to an empty database, compare with pg_dump -s."""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from pystream_migrate.catalog import Catalog
from pystream_migrate.toc import TocEntry
from tests.schema_support import apply_schema, assert_same_schema, read_toc


def run(dsn: str, script: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(script)  # type: ignore[arg-type]


def round_trip(make_db: Callable[..., str], script: str) -> Catalog:
    """``script`` in a new database; its TOC applied to another; pg_dump -s of both equal."""
    source, target = make_db("src"), make_db("tgt")
    run(source, script)
    catalog = read_toc(source)
    apply_schema(target, catalog)
    assert_same_schema(source, target)
    return catalog


def find(catalog: Catalog, kind: str, name: str) -> TocEntry:
    found = [e for e in catalog.entries if e.kind == kind and e.name == name]
    assert len(found) == 1, f"{kind} {name}: {[e.label for e in catalog.entries]}"
    return found[0]


def test_fk_to_partitioned_key_waits_for_its_index_attachments(
        make_db: Callable[..., str]) -> None:
    """The referenced key is valid only once every partition's index is attached.

    The parallel restore ran the foreign key as soon as the parent's key existed and
    failed with "there is no unique constraint matching given keys".
    """
    catalog = round_trip(make_db, """
        CREATE TABLE public.pk (a int PRIMARY KEY) PARTITION BY RANGE (a);
        CREATE TABLE public.pk1 PARTITION OF public.pk FOR VALUES FROM (0) TO (10);
        CREATE TABLE public.pk2 PARTITION OF public.pk FOR VALUES FROM (10) TO (20)
            PARTITION BY RANGE (a);
        CREATE TABLE public.pk21 PARTITION OF public.pk2 FOR VALUES FROM (10) TO (15);
        CREATE TABLE public.fk (a int REFERENCES public.pk);
        CREATE TABLE public.fkp (a int REFERENCES public.pk) PARTITION BY LIST (a);
        CREATE TABLE public.fkp1 PARTITION OF public.fkp FOR VALUES IN (1);
    """)
    ids = {e.id: e for e in catalog.entries}
    attaches = {e.id for e in catalog.entries if e.kind == "INDEX ATTACH"
                and e.name in ("pk1_pkey", "pk2_pkey", "pk21_pkey")}
    assert len(attaches) == 3
    for name in ("fk fk_a_fkey", "fkp fkp_a_fkey"):
        fk = find(catalog, "FK CONSTRAINT", name)
        assert attaches <= set(fk.deps), (name, sorted(ids[d].label for d in fk.deps))


def test_materialized_view_indexes(make_db: Callable[..., str]) -> None:
    """Indexes on materialized views, unique, partial and on expressions, were left out."""
    catalog = round_trip(make_db, """
        CREATE TABLE public.t (a int, b text);
        CREATE MATERIALIZED VIEW public.mv AS SELECT a, b FROM public.t;
        CREATE UNIQUE INDEX mv_a ON public.mv (a);
        CREATE INDEX mv_expr ON public.mv (lower(b)) WHERE a > 0;
        ALTER MATERIALIZED VIEW public.mv CLUSTER ON mv_a;
        COMMENT ON INDEX public.mv_expr IS 'on an expression';
    """)
    assert find(catalog, "INDEX", "mv_a").table_oid == find(
        catalog, "MATERIALIZED VIEW", "mv").relid


def test_materialized_view_column_settings(make_db: Callable[..., str]) -> None:
    """SET COMPRESSION, STATISTICS, STORAGE and options of a materialized view's columns."""
    round_trip(make_db, """
        CREATE MATERIALIZED VIEW public.mv AS SELECT 1 AS x, 'a'::text AS y, 2.5 AS z
            WITH NO DATA;
        ALTER MATERIALIZED VIEW public.mv ALTER COLUMN y SET COMPRESSION pglz;
        ALTER MATERIALIZED VIEW public.mv ALTER COLUMN x SET STATISTICS 50;
        ALTER MATERIALIZED VIEW public.mv ALTER COLUMN y SET STORAGE EXTERNAL;
        ALTER MATERIALIZED VIEW public.mv ALTER COLUMN z SET (n_distinct = 5);
    """)


def test_generated_column_of_a_child_of_a_plain_column(make_db: Callable[..., str]) -> None:
    """A child's generated column whose parent column is not generated kept only its type."""
    round_trip(make_db, """
        CREATE TABLE public.parent (a int, b int);
        CREATE TABLE public.child (a int, b int GENERATED ALWAYS AS (a * 2) STORED)
            INHERITS (public.parent);
        CREATE TABLE public.gparent (a int, b int GENERATED ALWAYS AS (a * 3) STORED);
        CREATE TABLE public.gchild () INHERITS (public.gparent);
        CREATE TABLE public.pparent (a int, b int GENERATED ALWAYS AS (a + 1) STORED)
            PARTITION BY RANGE (a);
        CREATE TABLE public.ppart PARTITION OF public.pparent FOR VALUES FROM (0) TO (10);
    """)


def test_extended_statistics(make_db: Callable[..., str]) -> None:
    """CREATE STATISTICS objects (expressions, mcv, dependencies) were left out."""
    catalog = round_trip(make_db, """
        CREATE SCHEMA st;
        CREATE TABLE public.t (a int, b text, c numeric);
        CREATE STATISTICS st.s_expr (dependencies) ON (a * 2), upper(b), (c + 1) FROM public.t;
        CREATE STATISTICS public.s_mcv (mcv) ON a, b, c FROM public.t;
        CREATE STATISTICS public.s_all ON a, c FROM public.t;
        ALTER STATISTICS public.s_all SET STATISTICS 500;
        COMMENT ON STATISTICS public.s_mcv IS 'most common values';
        CREATE MATERIALIZED VIEW public.mv AS SELECT a, b FROM public.t;
        CREATE STATISTICS public.s_mv ON a, b FROM public.mv;
    """)
    assert find(catalog, "STATISTICS", "s_expr").schema == "st"


def test_operator_class_with_no_operators(make_db: Callable[..., str]) -> None:
    """An operator class with nothing after AS was reported as not carried."""
    catalog = round_trip(make_db, """
        CREATE OPERATOR FAMILY public.empty_fam USING btree;
        CREATE OPERATOR CLASS public.empty_ops FOR TYPE int4 USING btree
            FAMILY public.empty_fam AS STORAGE int4;
        COMMENT ON OPERATOR CLASS public.empty_ops USING btree IS 'nothing in it';
    """)
    assert not catalog.unsupported
    find(catalog, "OPERATOR CLASS", "empty_ops USING btree")


def test_transform(make_db: Callable[..., str]) -> None:
    """CREATE TRANSFORM was reported as not carried."""
    catalog = round_trip(make_db, """
        CREATE TYPE public.pair AS (a int, b int);
        CREATE FUNCTION public.from_sql(internal) RETURNS internal LANGUAGE internal
            STRICT IMMUTABLE AS 'prsd_lextype';
        CREATE FUNCTION public.to_sql(internal) RETURNS public.pair LANGUAGE internal
            STRICT IMMUTABLE AS 'record_recv';
        CREATE TRANSFORM FOR public.pair LANGUAGE sql (
            FROM SQL WITH FUNCTION public.from_sql(internal),
            TO SQL WITH FUNCTION public.to_sql(internal));
        CREATE TRANSFORM FOR int LANGUAGE sql (FROM SQL WITH FUNCTION public.from_sql(internal));
        COMMENT ON TRANSFORM FOR int LANGUAGE sql IS 'half a transform';
    """)
    assert not catalog.unsupported
    find(catalog, "TRANSFORM", "FOR public.pair LANGUAGE sql")
