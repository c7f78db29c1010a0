"""Types, routines, views, triggers, rules and row security: read, apply, compare.

The source database holds one of everything these catalog families carry, with awkward
names (spaces, quotes, capitals, unicode) in ``public`` and in a second schema. Its TOC
is applied to an empty target, and ``pg_dump -s`` of both must then agree, with and
without privileges.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from pystream_migrate.catalog import Catalog
from pystream_migrate.connection import with_dbname
from pystream_migrate.toc import Section, TocEntry
from tests.conftest import Server
from tests.schema_support import apply_schema, assert_same_schema, read_toc

SOURCE_DDL = '''
CREATE SCHEMA "Sch ëma";

-- types
CREATE TYPE "Sch ëma"."Mood ""q""" AS ENUM ('sad', 'ok', 'happy ☺');
ALTER TYPE "Sch ëma"."Mood ""q""" ADD VALUE 'meh' BEFORE 'ok';
COMMENT ON TYPE "Sch ëma"."Mood ""q""" IS 'how it feels';
CREATE TYPE public."Pair" AS (a integer, "B c" text COLLATE "C", n numeric(10,2));
COMMENT ON COLUMN public."Pair"."B c" IS 'second half';
CREATE DOMAIN "Sch ëma".posint AS integer DEFAULT 1 NOT NULL
    CONSTRAINT "is positive" CHECK (VALUE > 0);
ALTER DOMAIN "Sch ëma".posint ADD CONSTRAINT small CHECK (VALUE < 1000000) NOT VALID;
COMMENT ON DOMAIN "Sch ëma".posint IS 'a positive integer';
COMMENT ON CONSTRAINT "is positive" ON DOMAIN "Sch ëma".posint IS 'must be > 0';
CREATE DOMAIN public.code AS varchar(10) COLLATE "C" CHECK (VALUE ~ '^[A-Z]+$');
CREATE TYPE "Sch ëma".floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
CREATE TYPE public."Text Range" AS RANGE (subtype = text, collation = "C",
                                          multirange_type_name = public."Text Ranges");
-- a base type: shell, I/O functions (built-in C code), then the full definition
CREATE TYPE public.myint;
CREATE FUNCTION public.myint_in(cstring) RETURNS public.myint
    LANGUAGE internal IMMUTABLE STRICT AS 'int4in';
CREATE FUNCTION public.myint_out(public.myint) RETURNS cstring
    LANGUAGE internal IMMUTABLE STRICT AS 'int4out';
CREATE TYPE public.myint (INPUT = public.myint_in, OUTPUT = public.myint_out,
                          INTERNALLENGTH = 4, PASSEDBYVALUE, ALIGNMENT = int4);
COMMENT ON TYPE public.myint IS 'an int in disguise';
-- a range type with a canonical function, which needs a shell type too
CREATE TYPE public.myintrange;
CREATE FUNCTION public.myintrange_canon(public.myintrange) RETURNS public.myintrange
    LANGUAGE internal IMMUTABLE STRICT AS 'int4range_canonical';
CREATE TYPE public.myintrange AS RANGE (subtype = integer,
                                        canonical = public.myintrange_canon);
-- a domain whose CHECK calls a function that takes the domain: a loop to split
CREATE DOMAIN public.evenint AS integer;
CREATE FUNCTION public.is_even(public.evenint) RETURNS boolean LANGUAGE sql IMMUTABLE
    AS 'SELECT $1 % 2 = 0';
ALTER DOMAIN public.evenint ADD CONSTRAINT even CHECK (public.is_even(VALUE));
CREATE TYPE public.lonely;

-- tables (with a hypertable)
CREATE TABLE "Sch ëma"."Orders" (
    id integer NOT NULL,
    customer text NOT NULL,
    amount numeric,
    mood "Sch ëma"."Mood ""q""",
    qty "Sch ëma".posint,
    span public."Text Range"
);
CREATE TABLE public."tbl ""quoted""" (id integer NOT NULL, owner_name text, body text,
                                  tag public.myint, r public.myintrange, e public.evenint);
CREATE TABLE public.parted (k integer NOT NULL, v text) PARTITION BY RANGE (k);
CREATE TABLE public.parted_1 PARTITION OF public.parted FOR VALUES FROM (0) TO (100);
CREATE TABLE public.parted_2 PARTITION OF public.parted FOR VALUES FROM (100) TO (200);
CREATE TABLE public."Metrics ✓" (ts timestamp with time zone NOT NULL, device integer,
                                 value double precision);
ALTER TABLE "Sch ëma"."Orders" ADD CONSTRAINT "Orders_pkey" PRIMARY KEY (id);
ALTER TABLE public."tbl ""quoted""" ADD CONSTRAINT "tbl ""quoted""_pkey" PRIMARY KEY (id);
SELECT public.create_hypertable('public."Metrics ✓"', 'ts');
INSERT INTO public."Metrics ✓" VALUES ('2024-01-01', 1, 1.5), ('2024-03-01', 2, 2.5);

-- routines
CREATE FUNCTION "Sch ëma"."big Orders"(min_amount numeric DEFAULT 0)
    RETURNS SETOF "Sch ëma"."Orders" LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT * FROM "Sch ëma"."Orders" WHERE amount >= min_amount;
END;
COMMENT ON FUNCTION "Sch ëma"."big Orders"(numeric) IS 'orders above a floor';
CREATE FUNCTION public.twice(x integer) RETURNS integer LANGUAGE plpgsql IMMUTABLE
    PARALLEL SAFE COST 5 SET work_mem = '8MB' AS $$ BEGIN RETURN x * 2; END $$;
CREATE PROCEDURE "Sch ëma"."do It"(IN x integer, INOUT y integer)
    LANGUAGE plpgsql AS $$ BEGIN y := x + 1; END $$;
COMMENT ON PROCEDURE "Sch ëma"."do It"(integer, integer) IS 'adds one';
CREATE FUNCTION "Sch ëma".add_state(numeric, numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE AS 'SELECT coalesce($1, 0) + coalesce($2, 0)';
CREATE FUNCTION "Sch ëma".sub_state(numeric, numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE AS 'SELECT coalesce($1, 0) - coalesce($2, 0)';
CREATE AGGREGATE "Sch ëma"."My Sum"(numeric) (
    SFUNC = "Sch ëma".add_state, STYPE = numeric, INITCOND = '0',
    COMBINEFUNC = "Sch ëma".add_state, PARALLEL = SAFE,
    MSFUNC = "Sch ëma".add_state, MINVFUNC = "Sch ëma".sub_state, MSTYPE = numeric,
    MINITCOND = '0');
COMMENT ON AGGREGATE "Sch ëma"."My Sum"(numeric) IS 'a sum';
CREATE AGGREGATE public.my_max(integer) (SFUNC = int4larger, STYPE = integer, SORTOP = >);
CREATE AGGREGATE public.my_pct(float8 ORDER BY anyelement) (
    SFUNC = ordered_set_transition, STYPE = internal, FINALFUNC = percentile_disc_final,
    FINALFUNC_EXTRA, FINALFUNC_MODIFY = SHAREABLE, MFINALFUNC_MODIFY = SHAREABLE);
CREATE AGGREGATE public.my_rank(VARIADIC "any" ORDER BY VARIADIC "any") (
    SFUNC = ordered_set_transition_multi, STYPE = internal, FINALFUNC = rank_final,
    FINALFUNC_EXTRA, HYPOTHETICAL);
CREATE AGGREGATE public.my_count(*) (SFUNC = int8inc, STYPE = int8, INITCOND = '0');

-- views: one that a function returning its row type loops with
CREATE VIEW public."Vue ünique" AS
    SELECT id, customer, customer COLLATE "C" AS "Cust C" FROM "Sch ëma"."Orders";
CREATE FUNCTION public.vue_rows() RETURNS SETOF public."Vue ünique" LANGUAGE sql STABLE
    AS $$ SELECT id, customer, customer FROM "Sch ëma"."Orders" WHERE amount > 100 $$;
CREATE OR REPLACE VIEW public."Vue ünique" AS
    SELECT o.id, o.customer, o.customer COLLATE "C" AS "Cust C" FROM "Sch ëma"."Orders" o
    WHERE o.id NOT IN (SELECT v.id FROM public.vue_rows() v);
COMMENT ON VIEW public."Vue ünique" IS 'loops through a function';
-- GROUP BY that relies on the primary key
CREATE VIEW "Sch ëma"."Order Totals" AS
    SELECT o.id, o.customer, sum(o.amount) AS total FROM "Sch ëma"."Orders" o GROUP BY o.id;
CREATE VIEW public.v_check WITH (security_barrier = true) AS
    SELECT id, owner_name, body FROM public."tbl ""quoted""" WHERE id > 0
    WITH CASCADED CHECK OPTION;
ALTER VIEW public.v_check ALTER COLUMN owner_name SET DEFAULT 'nobody';
COMMENT ON COLUMN public.v_check.owner_name IS 'who';
CREATE VIEW public.v_collate AS SELECT body COLLATE "C" AS body_c, 1::smallint AS one
    FROM public."tbl ""quoted""";
CREATE MATERIALIZED VIEW "Sch ëma"."MV pop" AS
    SELECT customer, count(*) AS n FROM "Sch ëma"."Orders" GROUP BY customer;
COMMENT ON MATERIALIZED VIEW "Sch ëma"."MV pop" IS 'populated';
CREATE MATERIALIZED VIEW public.mv_unpop WITH (fillfactor = 80) AS
    SELECT id FROM public."tbl ""quoted""" WITH NO DATA;
CREATE MATERIALIZED VIEW public.mv_on_mv AS SELECT n FROM "Sch ëma"."MV pop";

-- triggers
CREATE FUNCTION public."trg fn"() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN NEW.body := upper(NEW.body); RETURN NEW; END $$;
CREATE FUNCTION "Sch ëma".stmt_fn() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER "Upper ""Body""" BEFORE INSERT OR UPDATE OF body ON public."tbl ""quoted"""
    FOR EACH ROW WHEN (NEW.body IS NOT NULL) EXECUTE FUNCTION public."trg fn"();
COMMENT ON TRIGGER "Upper ""Body""" ON public."tbl ""quoted""" IS 'shouts';
CREATE TRIGGER "Off" AFTER DELETE ON "Sch ëma"."Orders"
    FOR EACH STATEMENT EXECUTE FUNCTION "Sch ëma".stmt_fn();
ALTER TABLE "Sch ëma"."Orders" DISABLE TRIGGER "Off";
CREATE TRIGGER replica_only AFTER INSERT ON "Sch ëma"."Orders"
    FOR EACH ROW EXECUTE FUNCTION "Sch ëma".stmt_fn();
ALTER TABLE "Sch ëma"."Orders" ENABLE REPLICA TRIGGER replica_only;
CREATE TRIGGER part_trg AFTER INSERT ON public.parted
    FOR EACH ROW EXECUTE FUNCTION "Sch ëma".stmt_fn();
ALTER TABLE public.parted_2 DISABLE TRIGGER part_trg;
CREATE TRIGGER metrics_trg BEFORE INSERT ON public."Metrics ✓"
    FOR EACH ROW EXECUTE FUNCTION "Sch ëma".stmt_fn();

-- rules
CREATE RULE "No Delete" AS ON DELETE TO public."tbl ""quoted"""
    WHERE old.id < 0 DO INSTEAD NOTHING;
COMMENT ON RULE "No Delete" ON public."tbl ""quoted""" IS 'keeps negatives';
CREATE RULE log_upd AS ON UPDATE TO "Sch ëma"."Orders" DO ALSO NOTIFY orders_changed;
ALTER TABLE "Sch ëma"."Orders" DISABLE RULE log_upd;

-- row-level security
ALTER TABLE "Sch ëma"."Orders" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "Sch ëma"."Orders" FORCE ROW LEVEL SECURITY;
CREATE POLICY "Own rows" ON "Sch ëma"."Orders" FOR SELECT USING (customer = CURRENT_USER);
COMMENT ON POLICY "Own rows" ON "Sch ëma"."Orders" IS 'mine only';
CREATE POLICY no_negative ON "Sch ëma"."Orders" AS RESTRICTIVE FOR UPDATE
    TO {role} USING (amount >= 0) WITH CHECK (amount >= 0 AND public.twice(1) = 2);

-- event triggers (last, so they do not fire while the rest is made)
CREATE FUNCTION public.evt_fn() RETURNS event_trigger LANGUAGE plpgsql
    AS $$ BEGIN NULL; END $$;
CREATE EVENT TRIGGER "Evt ""one""" ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE') EXECUTE FUNCTION public.evt_fn();
ALTER EVENT TRIGGER "Evt ""one""" DISABLE;
COMMENT ON EVENT TRIGGER "Evt ""one""" IS 'watches tables';
CREATE EVENT TRIGGER evt_two ON sql_drop EXECUTE FUNCTION public.evt_fn();
ALTER EVENT TRIGGER evt_two ENABLE ALWAYS;
'''

GRANTS_DDL = '''
REVOKE USAGE ON TYPE public."Pair" FROM PUBLIC;
GRANT USAGE ON TYPE "Sch ëma"."Mood ""q""" TO {role};
GRANT USAGE ON DOMAIN "Sch ëma".posint TO {role} WITH GRANT OPTION;
REVOKE EXECUTE ON FUNCTION public.twice(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.twice(integer) TO {role};
GRANT EXECUTE ON PROCEDURE "Sch ëma"."do It"(integer, integer) TO {role};
REVOKE EXECUTE ON FUNCTION "Sch ëma"."My Sum"(numeric) FROM PUBLIC;
GRANT SELECT ON public."Vue ünique" TO {role};
GRANT SELECT (owner_name), UPDATE (owner_name, body) ON public.v_check TO {role};
GRANT SELECT ON "Sch ëma"."MV pop" TO {role} WITH GRANT OPTION;
ALTER TYPE "Sch ëma"."Mood ""q""" OWNER TO {role};
ALTER DOMAIN public.code OWNER TO {role};
ALTER FUNCTION public.twice(integer) OWNER TO {role};
ALTER AGGREGATE public.my_pct(float8 ORDER BY anyelement) OWNER TO {role};
ALTER PROCEDURE "Sch ëma"."do It"(integer, integer) OWNER TO {role};
ALTER VIEW public.v_check OWNER TO {role};
ALTER MATERIALIZED VIEW public.mv_unpop OWNER TO {role};
'''


@pytest.fixture
def test_role(pg_server: Server) -> Iterator[str]:
    """A role of its own for this test, dropped (with what it owns or was granted) after."""
    role = f"psm_routines_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
    yield role
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        dbs = [r[0] for r in conn.execute(
            "SELECT DISTINCT d.datname FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid "
            "JOIN pg_roles r ON r.oid = s.refobjid WHERE r.rolname = %s", [role]).fetchall()]
    for db in dbs:
        with psycopg.connect(with_dbname(pg_server.dsn, db), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _run(dsn: str, script: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(script)  # type: ignore[arg-type]


def _build_source(dsn: str, role: str) -> None:
    quoted = sql.Identifier(role).as_string(None)
    _run(dsn, SOURCE_DDL.replace("{role}", quoted))
    _run(dsn, GRANTS_DDL.replace("{role}", quoted))


def _kinds(catalog: Catalog) -> set[str]:
    return {e.kind for e in catalog.entries}


# Facts pg_dump -s does not show (every setting of an aggregate) or leaves out here
# (owners, since the oracle runs with --no-owner), read straight from the catalogs.
FACTS_SQL = """
SELECT 'aggregate', p.oid::regprocedure::text,
       row(a.aggkind, a.aggnumdirectargs, a.aggtransfn, a.aggfinalfn, a.aggcombinefn,
           a.aggserialfn, a.aggdeserialfn, a.aggmtransfn, a.aggminvtransfn, a.aggmfinalfn,
           a.aggfinalextra, a.aggmfinalextra, a.aggfinalmodify, a.aggmfinalmodify,
           a.aggsortop::regoperator, a.aggtranstype::regtype, a.aggtransspace,
           a.aggmtranstype::regtype, a.aggmtransspace, a.agginitval, a.aggminitval,
           p.proparallel)::text
FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
WHERE p.pronamespace::regnamespace::text IN ('public', '"Sch ëma"')
UNION ALL
SELECT 'type owner', t.oid::regtype::text, t.typowner::regrole::text FROM pg_type t
WHERE t.typnamespace::regnamespace::text IN ('public', '"Sch ëma"')
UNION ALL
SELECT 'routine owner', p.oid::regprocedure::text, p.proowner::regrole::text FROM pg_proc p
WHERE p.pronamespace::regnamespace::text IN ('public', '"Sch ëma"')
UNION ALL
SELECT 'relation owner', c.oid::regclass::text, c.relowner::regrole::text FROM pg_class c
WHERE c.relnamespace::regnamespace::text IN ('public', '"Sch ëma"')
UNION ALL
SELECT 'populated', c.oid::regclass::text, c.relispopulated::text FROM pg_class c
WHERE c.relkind = 'm'
ORDER BY 1, 2
"""


def _facts(dsn: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(dsn) as conn:
        conn.execute("SET search_path = ''")
        return [tuple(r) for r in conn.execute(FACTS_SQL).fetchall()]


def _find(catalog: Catalog, kind: str, name: str) -> list[TocEntry]:
    return [e for e in catalog.entries if e.kind == kind and e.name == name]


def _position(catalog: Catalog, kind: str, name: str) -> int:
    for i, e in enumerate(catalog.entries):
        if e.kind == kind and e.name == name and e.info.get("split_part") != "post":
            return i
    raise AssertionError(f"no {kind} {name} in the TOC")


def test_types_routines_views_round_trip(
    test_role: str, source_db: str, target_db: str
) -> None:
    _build_source(source_db, test_role)
    catalog = read_toc(source_db)

    # What a user sees in the TOC.
    kinds = _kinds(catalog)
    for kind in ("TYPE", "DOMAIN", "SHELL TYPE", "FUNCTION", "PROCEDURE", "AGGREGATE",
                 "VIEW", "MATERIALIZED VIEW", "MATERIALIZED VIEW DATA", "TRIGGER", "RULE",
                 "ROW SECURITY", "POLICY", "EVENT TRIGGER"):
        assert kind in kinds, f"no {kind} entry"
    sections = {e.kind: e.section for e in catalog.entries}
    for kind in ("TYPE", "DOMAIN", "FUNCTION", "AGGREGATE", "VIEW", "MATERIALIZED VIEW"):
        assert sections[kind] is Section.PRE_DATA, kind
    for kind in ("TRIGGER", "RULE", "POLICY", "ROW SECURITY", "EVENT TRIGGER",
                 "MATERIALIZED VIEW DATA"):
        assert sections[kind] is Section.POST_DATA, kind
    # No extension member of TimescaleDB's is among these families' entries...
    mine = {"TYPE", "DOMAIN", "SHELL TYPE", "FUNCTION", "PROCEDURE", "AGGREGATE", "VIEW",
            "MATERIALIZED VIEW", "RULE", "POLICY", "EVENT TRIGGER"}
    assert not [e.label for e in catalog.entries
                if e.kind in mine and e.schema and e.schema.startswith("_timescaledb")]
    # Chunks carry copies of the hypertable's row triggers, as pg_dump shows them.
    chunk_triggers = [e.name for e in catalog.entries
                      if e.kind == "TRIGGER" and e.schema == "_timescaledb_internal"]
    assert len(chunk_triggers) == 2
    assert all(n.endswith(" metrics_trg") for n in chunk_triggers)
    assert not [e for e in catalog.entries if e.kind == "FUNCTION"
                and e.name in ("create_hypertable", "insert_blocker")]
    # ...but the insert blocker trigger on the hypertable root is (TimescaleDB 2.2x
    # stopped creating one).
    with psycopg.connect(source_db) as conn:
        blocker = conn.execute("SELECT count(*) FROM pg_trigger "
                               "WHERE tgname = 'ts_insert_blocker'").fetchone()[0]
    if blocker:
        assert _find(catalog, "TRIGGER", "Metrics ✓ ts_insert_blocker")
    # The shell type comes before the I/O functions, which come before the full type.
    assert (_position(catalog, "SHELL TYPE", "myint")
            < _position(catalog, "FUNCTION", "myint_in")
            < _position(catalog, "TYPE", "myint"))
    assert _find(catalog, "SHELL TYPE", "lonely")
    # The view that loops with vue_rows() was split around the function.
    parts = _find(catalog, "VIEW", "Vue ünique")
    assert sorted(e.info.get("split_part") for e in parts) == ["post", "pre"]
    pre = next(e for e in parts if e.info["split_part"] == "pre")
    post = next(e for e in parts if e.info["split_part"] == "post")
    fn = _find(catalog, "FUNCTION", "vue_rows")[0]
    assert pre.id < fn.id < post.id
    assert "NULL::integer AS" in pre.create_sql and "CREATE OR REPLACE VIEW" in post.create_sql
    # Refreshes: only for the populated ones, after the one they read.
    refreshes = {e.name: e for e in catalog.entries if e.kind == "MATERIALIZED VIEW DATA"}
    assert sorted(refreshes) == ["MV pop", "mv_on_mv"]
    assert refreshes["MV pop"].id in refreshes["mv_on_mv"].deps
    assert all(e.after_data for e in catalog.entries
               if e.kind == "MATERIALIZED VIEW DATA")
    # A trigger cloned onto a partition is not created again, only its state is set.
    part = [e for e in catalog.entries if e.kind == "TRIGGER" and "part_trg" in e.name]
    assert sorted(e.name for e in part) == ["parted part_trg", "parted_2 part_trg"]
    assert "CREATE TRIGGER" not in next(e for e in part if e.name == "parted_2 part_trg").create_sql
    trg = _find(catalog, "TRIGGER", "Orders Off")[0]
    assert trg.table_oid and "DISABLE TRIGGER" in trg.create_sql
    assert not [u for u in catalog.unsupported
                if u.kind in ("TYPE", "FUNCTION", "AGGREGATE", "LANGUAGE")]

    apply_schema(target_db, catalog, owners=True, privileges=True)
    assert _facts(target_db) == _facts(source_db)
    assert_same_schema(source_db, target_db)
    assert_same_schema(source_db, target_db, privileges=True)


def test_matview_population_is_kept(source_db: str, target_db: str) -> None:
    _run(source_db, '''
        CREATE TABLE public.base (id integer);
        INSERT INTO public.base VALUES (1), (2);
        CREATE MATERIALIZED VIEW public."MV full" AS SELECT id FROM public.base;
        CREATE MATERIALIZED VIEW public."MV empty" AS SELECT id FROM public.base WITH NO DATA;
    ''')
    catalog = read_toc(source_db)
    apply_schema(target_db, catalog)
    with psycopg.connect(target_db) as conn:
        populated = dict(conn.execute(
            "SELECT relname, relispopulated FROM pg_class WHERE relkind = 'm'").fetchall())
    assert populated == {"MV full": True, "MV empty": False}


def test_continuous_aggregates_are_carried_as_views(pg_server: Server, source_db: str) -> None:
    if not pg_server.has_continuous_aggregates:
        pytest.skip(f"continuous aggregates need the timescale license edition; the test "
                    f"server's timescaledb.license is {pg_server.license!r}")
    _run(source_db, '''
        CREATE TABLE public.readings (ts timestamptz NOT NULL, v double precision);
        SELECT public.create_hypertable('public.readings', 'ts');
        CREATE MATERIALIZED VIEW public."Hourly ✓" WITH (timescaledb.continuous) AS
            SELECT public.time_bucket('1 hour', ts) AS bucket, avg(v) AS v
            FROM public.readings GROUP BY 1 WITH NO DATA;
        CREATE VIEW public.plain_view AS SELECT ts FROM public.readings;
    ''')
    catalog = read_toc(source_db)
    assert not [u for u in catalog.unsupported if u.kind == "CONTINUOUS AGGREGATE"]
    views = {e.name: e for e in catalog.entries if e.kind == "VIEW"}
    # The user view and TimescaleDB's partial and direct views, as plain views: the
    # catalog rows that make them a continuous aggregate travel as extension data.
    assert views["Hourly ✓"].info["continuous_aggregate"] == "user"
    assert "plain_view" in views and "continuous_aggregate" not in views["plain_view"].info
    internal = [e for e in views.values() if e.schema == "_timescaledb_internal"]
    assert sorted(e.info["continuous_aggregate"] for e in internal) == ["direct", "partial"]
    assert all(e.drop_sql == 'DROP MATERIALIZED VIEW IF EXISTS "public"."Hourly ✓";'
               for e in [views["Hourly ✓"], *internal])


def test_functions_in_a_language_no_extension_installs_are_reported(source_db: str) -> None:
    _run(source_db, '''
        CREATE LANGUAGE "my PL" HANDLER plpgsql_call_handler;
        CREATE FUNCTION public."in my PL"() RETURNS integer LANGUAGE "my PL"
            AS $$ BEGIN RETURN 1; END $$;
        CREATE FUNCTION public.in_plpgsql() RETURNS integer LANGUAGE plpgsql
            AS $$ BEGIN RETURN 1; END $$;
    ''')
    catalog = read_toc(source_db)
    reported = {(u.kind, u.schema, u.name) for u in catalog.unsupported}
    assert ("LANGUAGE", None, "my PL") in reported
    assert ("FUNCTION", "public", "in my PL") in reported
    functions = {e.name for e in catalog.entries if e.kind == "FUNCTION"}
    assert "in my PL" not in functions
    assert "in_plpgsql" in functions
